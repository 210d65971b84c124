"""What the chief does once training ends: the float32 serving copy of the
model, its weights and settings, the evaluation report, and the export.

`trainer.task` calls `finish`; `trainer.export.resume` finishes an export
that a killed job left, from what this writes first.
"""

from __future__ import annotations

import dataclasses
import logging
import posixpath

import keras

from trainer import data as D
from trainer import evaluate, export, shard_check
from trainer.callbacks import write_json
from trainer.config import (
    MODEL_CONFIG_FILE,
    REPORT_FILE,
    WEIGHTS_FILE,
    ModelConfig,
    TrainConfig,
)
from trainer.model import build_model

log = logging.getLogger("trainer")


def _evaluate(
    config: TrainConfig,
    serving_model: keras.Model,
    classes: list[str],
    boundaries: list[int],
) -> dict:
    """The evaluation report of the float32 serving copy, logged."""
    inputs = config.input_config(boundaries=boundaries, num_classes=len(classes))
    eval_ds = D.make_dataset(config.eval_data, config.batch_size, False, inputs)
    report = evaluate.evaluation_report(
        serving_model,
        eval_ds,
        classes,
        top_k=config.export_top_k,
        threshold_precision=config.threshold_precision,
        recognition_drawings=config.recognition_drawings,
    )
    evaluate.log_report(report)
    return report


def finish(
    config: TrainConfig,
    model: keras.Model,
    model_config: ModelConfig,
    classes: list[str],
    boundaries: list[int],
    steps: int,
    damage: list[shard_check.Damage] | None = None,
) -> dict:
    """Chief only: weights, float32 serving copy, report, export. `damage`:
    the damaged shards that --skip_damaged_records skipped, for the report."""
    global_step = int(model.optimizer.iterations.numpy())
    keras.mixed_precision.set_global_policy("float32")
    serving_model = build_model(model_config)
    serving_model.set_weights(model.get_weights())
    model_dir = config.model_dir
    serving_model.save_weights(posixpath.join(model_dir, WEIGHTS_FILE))
    config_json = dataclasses.asdict(model_config)
    write_json(posixpath.join(model_dir, MODEL_CONFIG_FILE), config_json)

    report: dict = {"global_step": global_step, "steps": steps}
    if damage is not None:
        report.update(shard_check.report(damage))
    if config.eval_data:
        report.update(_evaluate(config, serving_model, classes, boundaries))
    write_json(posixpath.join(model_dir, REPORT_FILE), report)
    export.export_once_trained(
        config,
        serving_model,
        {
            "classes": classes,
            "top_k": config.export_top_k,
            "model_config": config_json,
            "report": report,
        },
    )
    log.info("exported serving model to %s", config.export_dir)
    return report
