"""Trainer faults: a diverging loss, data patterns that match nothing, and a
classes file that does not fit the records. Each must stop the job with a
message that says what to fix, a non-zero exit, and no damage to the backup.

The records are the synthetic shapes of `tests.synthetic`, in one training
shard read in file order (`--shuffle_buffer=1`, a single length bucket), so
that a bad record is met at a known step.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from drawing import features as F
from tests.synthetic import CLASSES, draw, example, to_ink
from tests.trainer.test_task import TINY_MODEL, run_task
from trainer import callbacks as CB
from trainer import data as D
from trainer import task
from trainer.config import InputConfig

BATCH = 32
EVAL_EVERY = 3  # steps per epoch, and between backups
# The record whose ink is NaN: in batch 4 (from 0), so step 5, in the second
# epoch, after the first backup (step 3).
NAN_RECORD = 4 * BATCH + 3


def write_data(
    out: Path,
    nan_record: int | None = None,
    stats: dict | None = None,
    classes_file: bool = True,
) -> Path:
    """One training shard of 320 records and one eval shard of 64, labels
    cycling over CLASSES, optionally one training record with NaN ink."""
    rng = np.random.default_rng(0)
    out.mkdir(parents=True, exist_ok=True)
    if classes_file:
        (out / F.CLASSES_FILE).write_text("".join(f"{c}\n" for c in CLASSES))
    # One length bucket: batches keep the file order.
    (out / F.STATS_FILE).write_text(
        json.dumps({"length_quantiles": [1000], **(stats or {})})
    )
    for prefix, count in ((F.TRAIN_PREFIX, 320), (F.EVAL_PREFIX, 64)):
        with tf.io.TFRecordWriter(str(out / f"{prefix}-00000-of-00001")) as writer:
            for i in range(count):
                label = i % len(CLASSES)
                ink = to_ink(draw(label, rng))
                if prefix == F.TRAIN_PREFIX and i == nan_record:
                    ink[:, :2] = np.nan  # as the pipeline wrote before its fix
                record = example(ink, label, f"{prefix}-{i}")
                writer.write(record.SerializeToString())
    return out


def flags(data: Path, model_dir: Path, *extra: str) -> list[str]:
    return [
        f"--training_data={data}/{F.TRAIN_PREFIX}-*",
        f"--eval_data={data}/{F.EVAL_PREFIX}-*",
        f"--model_dir={model_dir}",
        *TINY_MODEL,
        f"--batch_size={BATCH}",
        "--shuffle_buffer=1",
        f"--eval_every={EVAL_EVERY}",
        "--steps=9",
        *extra,
    ]


def main_error(argv: list[str]) -> str:
    """What `trainer.task` prints when it exits with an error."""
    with pytest.raises(SystemExit) as exited:
        task.main(argv)
    assert isinstance(exited.value.code, str), "exited without an error message"
    return exited.value.code


def h5_values(path: Path) -> list[np.ndarray]:
    values = []
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda _, obj: (
                values.append(obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return values


# --------------------------------------------------------------------------
# A diverging loss.


@pytest.mark.slow
def test_a_nan_loss_stops_the_job_and_keeps_the_last_good_backup(tmp_path, caplog):
    data = write_data(tmp_path / "data", nan_record=NAN_RECORD)
    model_dir = tmp_path / "model"
    run = run_task(flags(data, model_dir))
    output, _ = run.communicate(timeout=600)

    assert run.returncode == 1, output
    backup = model_dir / "backup" / "chief-0"
    assert (
        "trainer.task: error: training diverged at step 5 (epoch 2/3): "
        "the loss is nan. Stopped before backing up these weights." in output
    ), output
    assert f"The last good backup is {backup} (after epoch 1/3, step 3)" in output
    assert "a lower --learning_rate (this run: 0.01)" in output
    assert "Traceback" not in output
    # The backup holds the first epoch, finite; nothing was exported.
    metadata = json.loads((backup / "training_metadata.json").read_text())
    assert metadata["epoch"] == 1
    weights = h5_values(backup / "latest.weights.h5")
    assert weights and all(np.isfinite(w).all() for w in weights if w.dtype.kind == "f")
    assert not (model_dir / "export").exists()

    # Once the data is fixed, the same command resumes from that backup.
    write_data(data)
    with caplog.at_level(logging.INFO, logger="trainer"):
        report = task.train(task.parse_args(flags(data, model_dir)))
    assert "training starts at epoch 1, step 3" in caplog.text
    assert report["global_step"] == 9 and math.isfinite(report["top1"])


def test_non_finite_weights_at_the_end_of_an_epoch_are_never_backed_up(tmp_path):
    """A last update can break the weights while its loss was still finite:
    the guard checks them before BackupAndRestore saves them."""

    class BreakWeights(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations.numpy() == 4:  # epoch 2's last
                kernel = self.model.layers[-1].kernel
                kernel.assign(np.full(kernel.shape, np.inf, np.float32))

    backup = tmp_path / "backup"
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32)
    callbacks = [
        CB.DivergenceGuard(str(backup), learning_rate=0.01),
        keras.callbacks.BackupAndRestore(str(backup)),
        BreakWeights(),
    ]
    with pytest.raises(CB.TrainingDiverged) as diverged:
        model.fit(x, y, batch_size=4, epochs=3, callbacks=callbacks, verbose=0)
    message = str(diverged.value)
    assert "at step 4 (epoch 2/3): the weights are not finite" in message
    assert f"The last good backup is {backup} (after epoch 1/3, step 2)" in message
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1
    assert all(np.isfinite(w).all() for w in h5_values(backup / "latest.weights.h5"))


# --------------------------------------------------------------------------
# Inputs that cannot train, found before training.


def test_a_data_pattern_that_matches_nothing_fails_at_start(tmp_path):
    data = write_data(tmp_path / "data")
    model_dir = tmp_path / "model"
    typo = f"{data}/evl.tfrecord-*"
    argv = [*flags(data, model_dir), f"--eval_data={typo}"]
    assert main_error(argv) == (
        f"trainer.task: error: --eval_data {typo!r} matches no file: check the "
        f"path (pipeline.main writes OUT/{F.TRAIN_PREFIX}-* and "
        f"OUT/{F.EVAL_PREFIX}-*)"
    )
    missing = f"{tmp_path}/none/{F.TRAIN_PREFIX}-*"
    argv = [*flags(data, model_dir), f"--training_data={missing}"]
    assert f"--training_data {missing!r} matches no file" in main_error(argv)
    assert not model_dir.exists()  # nothing started


def test_a_classes_file_of_another_size_than_the_pipelines_fails_at_start(
    tmp_path,
):
    data = write_data(tmp_path / "data", stats={"classes": len(CLASSES)})
    three = tmp_path / "three.classes"
    three.write_text("".join(f"{c}\n" for c in CLASSES[:3]))
    model_dir = tmp_path / "model"
    message = main_error([*flags(data, model_dir), f"--classes_file={three}"])
    assert message == (
        f"trainer.task: error: --classes_file {str(three)!r} lists 3 classes, "
        f"but {data}/{F.STATS_FILE} says the records of --training_data "
        f"'{data}/{F.TRAIN_PREFIX}-*' have 4: use the classes file the "
        "pipeline wrote with them"
    )
    assert not model_dir.exists()
    # Without stats.json, the pipeline's classes file beside the records tells.
    (data / F.STATS_FILE).unlink()
    message = main_error([*flags(data, model_dir), f"--classes_file={three}"])
    assert f"3 classes, but {data}/{F.CLASSES_FILE} says the records" in message


def test_an_out_of_range_label_fails_the_input_pipeline(tmp_path):
    """Records without the pipeline's files beside them (the tutorial's, say):
    the input pipeline checks every label against the classes file."""
    data = write_data(tmp_path / "data", classes_file=False)
    (data / F.STATS_FILE).unlink()
    pattern = f"{data}/{F.EVAL_PREFIX}-*"
    ds = D.make_dataset(pattern, 8, training=False, config=InputConfig(num_classes=3))
    with pytest.raises(tf.errors.InvalidArgumentError) as failed:
        for _ in ds:
            pass
    error = D.label_error(failed.value, {"--eval_data": pattern}, "three", 3)
    assert str(error) == (
        f"--eval_data {pattern!r} holds a record with class_index 3, but "
        "--classes_file 'three' lists 3 classes (class_index 0 to 2): the "
        "records were written with another classes file: use the classes file "
        "the pipeline wrote with them"
    )
    # In range, the same records pass.
    in_range = D.make_dataset(pattern, 8, False, InputConfig(num_classes=4))
    assert sum(len(y) for _, y in in_range)
    # Another failure is not taken for a label one.
    other = tf.errors.InvalidArgumentError(None, None, "something else")
    assert D.label_error(other, {}, "three", 3) is None


@pytest.mark.slow
def test_training_on_out_of_range_labels_stops_with_the_flags_named(tmp_path):
    data = write_data(tmp_path / "data", classes_file=False)
    (data / F.STATS_FILE).write_text(json.dumps({"length_quantiles": [1000]}))
    three = tmp_path / "three.classes"
    three.write_text("".join(f"{c}\n" for c in CLASSES[:3]))
    message = main_error([*flags(data, tmp_path / "model"), f"--classes_file={three}"])
    assert message == (
        f"trainer.task: error: --training_data '{data}/{F.TRAIN_PREFIX}-*' "
        f"holds a record with class_index 3, but --classes_file {str(three)!r} "
        "lists 3 classes (class_index 0 to 2): the records were written with "
        "another classes file: use the classes file the pipeline wrote with them"
    )
