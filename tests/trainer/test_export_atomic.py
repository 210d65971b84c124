"""An export that is killed leaves no folder that looks like a model, and the
same trainer.task command finishes it without training again."""

from __future__ import annotations

import logging
import os

import keras
import pytest

from drawing.export_marker import MARKER, IncompleteExport, check_complete
from serving import predict
from tests.trainer.test_faults import flags, write_data
from trainer import task


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the product catches it."""


def test_a_killed_export_is_refused_and_the_same_command_finishes_it(
    tmp_path, monkeypatch, caplog
):
    data = write_data(tmp_path / "data")
    model_dir = tmp_path / "model"
    config = task.parse_args(flags(data, model_dir, "--steps=3"))
    target = model_dir / "export"

    def killed(_, path: str, **__):
        # What a kill inside the SavedModel's writing leaves: part of it.
        os.makedirs(os.path.join(path, "variables"))
        with open(os.path.join(path, "saved_model.pb"), "wb") as f:
            f.write(b"\x08\x01")
        raise Killed

    with monkeypatch.context() as patch:
        # ExportArchive() makes an instance of its backend's class.
        patch.setattr(type(keras.export.ExportArchive()), "write_out", killed)
        with pytest.raises(Killed):
            task.train(config)
    half = tmp_path / "model" / "export.incomplete"
    assert (half / "saved_model.pb").exists()  # what the kill left
    assert (model_dir / "model.weights.h5").exists()  # training had finished
    assert not target.exists()  # nothing at the target
    with pytest.raises(IncompleteExport, match="incomplete export"):
        predict.Predictor(str(half))
    with pytest.raises(SystemExit) as refused:
        predict.main(["--model", str(half), "-"])
    assert refused.value.code == (
        f"serving.predict: error: --model {half} holds an incomplete export "
        f"(no {MARKER}: it was interrupted): run the trainer.task command that "
        "exports to it again (it finishes an interrupted export), or name a "
        "complete one"
    )

    caplog.clear()  # the killed run's lines, when an earlier test set INFO
    with caplog.at_level(logging.INFO, logger="trainer"):
        report = task.train(config)
    assert "finishing its export" in caplog.text
    assert "training starts" not in caplog.text  # it did not train again
    assert report["global_step"] == 3
    check_complete(str(target), os.path.exists, "--model")
    assert not half.exists()
    [result] = predict.load(str(target)).predict(
        [b'{"drawing": [[[0, 10, 20], [0, 10, 0]]]}'], k=1
    )
    assert result["top_k"]
