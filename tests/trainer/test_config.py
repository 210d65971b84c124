"""The trainer's flags: the tutorial's meanings, Vertex AI's defaults, and
what is refused."""

from __future__ import annotations

import dataclasses

import pytest

from trainer import config as C


def test_flags_keep_the_tutorials_meanings(monkeypatch):
    monkeypatch.setenv("AIP_CHECKPOINT_DIR", "gs://bucket/job/checkpoints")
    monkeypatch.setenv("AIP_MODEL_DIR", "gs://bucket/job/model")
    monkeypatch.setenv("AIP_TENSORBOARD_LOG_DIR", "gs://bucket/job/logs")
    config = C.parse_args(
        [
            "--training_data=gs://d/training.tfrecord-?????-of-?????",
            "--num_conv=[48, 64, 96, 128]",
            "--conv_len=5,5,3,3",
            "--cell_type=cudnn_lstm",
            "--batch_norm",
            "--steps=7",
        ]
    )
    assert config.model_dir == "gs://bucket/job/checkpoints"
    assert config.export_dir == "gs://bucket/job/model"
    assert config.tensorboard_dir == "gs://bucket/job/logs"
    assert config.classes_file == "gs://d/training.tfrecord.classes"
    assert config.num_conv == (48, 64, 96, 128) and config.conv_len == (5, 5, 3, 3)
    assert config.batch_norm is True and config.steps == 7
    assert config.model_config(10).cell_type == "cudnn_lstm"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.steps = 8  # type: ignore[misc]


def test_flags_without_vertex_environment(monkeypatch):
    for name in ("AIP_CHECKPOINT_DIR", "AIP_MODEL_DIR", "AIP_TENSORBOARD_LOG_DIR"):
        monkeypatch.delenv(name, raising=False)
    config = C.parse_args(
        ["--training_data=d/t-*", "--model_dir=out", "--batch_norm=false"]
    )
    assert (config.export_dir, config.tensorboard_dir) == ("out/export", "out/logs")
    assert config.batch_norm is False and config.num_conv == (48, 64, 96)
    with pytest.raises(SystemExit):
        C.parse_args(["--training_data=d/t-*"])  # no model dir anywhere
    with pytest.raises(SystemExit):
        C.parse_args(["--training_data=x", "--model_dir=o", "--num_conv=[1, 2]"])
    with pytest.raises(SystemExit):
        C.parse_args(["--training_data=x", "--model_dir=o", "--cell_type=gru"])
