"""trainer.finish: once training ends, the chief writes the weights, the
model's settings, the report and a complete export, in that order."""

from __future__ import annotations

import json
import os

import keras

from drawing.export_marker import check_complete
from serving import predict
from tests.synthetic import CLASSES
from tests.trainer.test_faults import flags, write_data
from trainer import shard_check, task
from trainer.config import MODEL_CONFIG_FILE, REPORT_FILE, WEIGHTS_FILE
from trainer.finish import finish
from trainer.model import build_model, compile_model


def test_finish_writes_weights_settings_report_and_export(tmp_path):
    data = write_data(tmp_path / "data")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    config = task.parse_args(flags(data, model_dir, "--steps=3"))
    model_config = config.model_config(len(CLASSES))
    model = build_model(model_config)
    compile_model(model, len(CLASSES), 1e-3)
    damage = [shard_check.Damage("gs://b/training-00001", 120, 7, 30, 3)]

    report = finish(config, model, model_config, list(CLASSES), [1000], 3, damage)

    assert report["global_step"] == 0  # never stepped
    assert report["steps"] == 3
    assert report["damaged_shards"][0]["path"] == "gs://b/training-00001"
    assert report["records_skipped"] == 3
    assert report["num_examples"] == 64  # the whole eval shard
    assert json.loads((model_dir / REPORT_FILE).read_text()) == report
    settings = json.loads((model_dir / MODEL_CONFIG_FILE).read_text())
    assert settings["num_classes"] == len(CLASSES)
    copy = build_model(model_config)
    copy.load_weights(model_dir / WEIGHTS_FILE)
    for saved, trained in zip(copy.get_weights(), model.get_weights(), strict=True):
        assert (saved == trained).all()
    assert keras.mixed_precision.global_policy().name == "float32"
    check_complete(config.export_dir, os.path.exists, "--model")
    [answer] = predict.load(config.export_dir).predict(
        [b'{"drawing": [[[0, 10, 20], [0, 10, 0]]]}'], k=2
    )
    assert {c["class"] for c in answer["top_k"]} <= set(CLASSES)
    assert len(answer["top_k"]) == 2
