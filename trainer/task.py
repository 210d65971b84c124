"""Trains, evaluates and exports the Quick, Draw! classifier.

  python -m trainer.task --training_data='DATA/training.tfrecord-*' \\
      --eval_data='DATA/eval.tfrecord-*' --model_dir=OUT [--steps=100000]

The tutorial's flags keep their meanings (`trainer.config` holds every
default; on Vertex AI the AIP_* variables give the output paths). One worker
with several GPUs, or several workers named by TF_CONFIG, distribute
(`trainer.distribute`); a killed job resumes from its last backup
(`trainer.callbacks`). It writes the evaluation report and history to
--model_dir and the SavedModel to --export_dir (docs/training.md).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # before TensorFlow's import prints its notices
    from drawing import logs

    logs.setup(sys.argv[1:], stderr_filter=True)

import logging
import math
import warnings
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from drawing import flags, logs
from trainer import data as D
from trainer import distribute, export, shard_check, speed, statistics
from trainer.callbacks import TrainingDiverged, make_callbacks
from trainer.config import TrainConfig, parse_args
from trainer.finish import finish
from trainer.model import build_model, compile_model, learning_rate_schedule

log = logging.getLogger("trainer")


def _use_mixed_precision(setting: str) -> bool:
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return setting == "on"


def total_steps(config: TrainConfig) -> int:
    """--steps, or --epochs converted to steps by counting the records."""
    if config.epochs > 0:
        records = D.count_records(config.training_data)
        return max(1, math.ceil(config.epochs * records / config.batch_size))
    return config.steps


def _periods(config: TrainConfig) -> tuple[int, int, int]:
    """Evaluation periods (Keras epochs), steps in each, and the steps they
    make: the total rounded up to whole periods."""
    steps = total_steps(config)
    steps_per_epoch = min(config.eval_every, steps)
    epochs = math.ceil(steps / steps_per_epoch)
    return epochs, steps_per_epoch, epochs * steps_per_epoch


def _datasets(
    config: TrainConfig,
    cluster: distribute.Cluster,
    strategy: tf.distribute.Strategy,
    boundaries: list[int],
    num_classes: int,
) -> tuple[tf.data.Dataset, tf.data.Dataset | None, speed.SpeedMeter]:
    """This worker's training input, timed for the period lines, its eval
    input when there is eval data, and the callback that reports the speed."""
    inputs = config.input_config(
        boundaries=boundaries,
        num_classes=num_classes,
        num_workers=cluster.num_workers,
        worker_index=cluster.worker_index,
    )
    train_ds = D.make_dataset(config.training_data, config.batch_size, True, inputs)
    train_ds, meter = speed.measured(
        train_ds, config.batch_size, strategy.num_replicas_in_sync, cluster.num_workers
    )
    if not config.eval_data:
        return train_ds, None, meter
    eval_ds = D.make_dataset(config.eval_data, config.batch_size, False, inputs)
    return train_ds, eval_ds.repeat() if config.eval_steps else eval_ds, meter


def train(config: TrainConfig) -> dict:
    """Runs the whole job; returns the evaluation report (empty without eval).

    Raises:
      InputError: unusable input, found at start (patterns, classes file) or
        by the input pipeline (a label out of the classes file's range).
      TrainingDiverged: a non-finite loss or weights; the backup holds the
        last good epoch.
    """
    finished = export.resume(config, distribute.read_cluster().is_chief)
    if finished is not None:
        return finished
    classes = D.check_inputs(
        config.training_data, config.eval_data, config.classes_file
    )
    patterns = {"--training_data": config.training_data}
    patterns["--eval_data"] = config.eval_data
    damage = None
    if config.skip_damaged_records:
        damage = shard_check.scan_patterns(patterns)
    try:
        return _train(config, classes, damage)
    except tf.errors.DataLossError as err:
        raise shard_check.damage_error(err, patterns) from None
    except tf.errors.InvalidArgumentError as err:
        error = D.label_error(err, patterns, config.classes_file, len(classes))
        if error is None:
            raise
        raise error from None


def _train(
    config: TrainConfig, classes: list[str], damage: list[shard_check.Damage] | None
) -> dict:
    cluster = distribute.read_cluster()
    strategy = distribute.make_strategy(cluster)
    mixed = _use_mixed_precision(config.mixed_precision)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    keras.utils.set_random_seed(config.seed)
    log.info(
        "strategy %s, %d replicas, worker %s/%d, mixed precision %s",
        type(strategy).__name__,
        strategy.num_replicas_in_sync,
        cluster.task_type,
        cluster.task_index,
        mixed,
    )
    boundaries, deltas = statistics.for_training(
        config.training_data, config.transform_dir, classes, config.classes_file
    )
    model_config = config.model_config(len(classes), **deltas)
    epochs, steps_per_epoch, steps = _periods(config)
    train_ds, eval_ds, meter = _datasets(
        config, cluster, strategy, boundaries, len(classes)
    )
    with strategy.scope():
        model = build_model(model_config)
        compile_model(
            model,
            len(classes),
            learning_rate_schedule(config.learning_rate, steps, config.warmup_steps),
            gradient_clipping_norm=config.gradient_clipping_norm,
            weight_decay=config.weight_decay,
            label_smoothing=config.label_smoothing,
        )
    log.info(speed.kernels(model, mixed, config.mixed_precision))
    callbacks = make_callbacks(config, cluster, meter)
    if cluster.num_workers > 1:
        distribute.patch_keras_for_multi_worker(model, strategy, train_ds)
    with warnings.catch_warnings():
        # Expected once: the eval set is finite and its batch count unknown.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(
            train_ds,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=eval_ds,
            validation_steps=config.eval_steps or None,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself
            verbose=0,  # HistoryWriter logs each period's line
        )
    # Replicas must end with identical weights; the log line lets people (and
    # the multi-worker test) check that they did.
    checksum = float(sum(np.abs(w).sum(dtype=np.float64) for w in model.get_weights()))
    log.info("final weights checksum %.6f", checksum)
    if not cluster.is_chief:
        return {}
    return finish(config, model, model_config, classes, boundaries, steps, damage)


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: flags -> TrainConfig -> train()."""
    logs.setup(argv)
    config = parse_args(argv)
    # What to fix, without a wall of traceback; the exit status says failed.
    with flags.one_line_errors("trainer.task", TrainingDiverged):
        train(config)


if __name__ == "__main__":
    main(sys.argv[1:])
