"""The Keras callbacks of a training run: backups, history, checkpoints, logs.

Only the chief writes the shared outputs; other workers write their copies to
a private directory, where they do not collide.
"""

from __future__ import annotations

import json
import logging
import math
import posixpath
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from trainer import speed
from trainer.config import HISTORY_FILE, TrainConfig
from trainer.distribute import Cluster

log = logging.getLogger("trainer")


def write_json(path: str, value: object) -> None:
    """Writes JSON to a local or gs:// path through a temporary name, so that
    readers never see half a file."""
    tmp = f"{path}.tmp"
    with tf.io.gfile.GFile(tmp, "w") as f:
        json.dump(value, f, indent=2)
    tf.io.gfile.rename(tmp, path, overwrite=True)


class HistoryWriter(keras.callbacks.Callback):
    """Appends each period's metrics to history.json, keeping earlier runs'.

    Runs after BackupAndRestore in the callback list, so on a restart it sees
    the restored epoch and drops entries past it (they would be re-run).
    """

    def __init__(self, path: str, write: bool) -> None:
        super().__init__()
        self.path = path
        self.write = write
        self.entries: list[dict] = []

    def on_train_begin(self, logs=None):
        start = int(getattr(self.model, "_initial_epoch", 0) or 0)
        step = int(self.model.optimizer.iterations.numpy())
        log.info("training starts at epoch %d, step %d", start, step)
        if self.write and tf.io.gfile.exists(self.path):
            with tf.io.gfile.GFile(self.path) as f:
                self.entries = [e for e in json.load(f) if e["epoch"] < start]

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        entry = {"epoch": epoch, "step": step}
        entry.update({k: float(v) for k, v in (logs or {}).items()})
        self.entries.append(entry)
        # The run's progress line (Keras' own is off): one per period.
        seconds = time.monotonic() - getattr(self, "_started", time.monotonic())
        skip = ("epoch", "step", *speed.SPEED_KEYS)
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in entry.items() if k not in skip)
        rate = speed.describe(entry)
        log.info(
            "epoch %d, step %d, %.0f s: %s%s",
            epoch,
            step,
            seconds,
            metrics,
            f"  | {rate}" if rate else "",
        )
        if self.write:
            write_json(self.path, self.entries)


class TrainingDiverged(RuntimeError):
    """The loss or the weights stopped being finite; no backup holds them."""


class DivergenceGuard(keras.callbacks.Callback):
    """Stops the job on a non-finite loss, before a backup can save its weights.

    Keras' TerminateOnNaN only sets `stop_training`: the epoch still ends, and
    BackupAndRestore, which saves at the end of the epoch, would back up NaN
    weights, from which every restart would resume. This callback comes first
    in the list and raises instead: on a non-finite loss after any step, and
    at the end of a period if the weights are not finite (a last update can
    break them while its loss was still finite). The backup then keeps the
    last good period, and the same command resumes from it.

    Reading the loss after every step waits for that step, as TerminateOnNaN
    does; BackupAndRestore's own per-step hook already keeps Keras' callbacks
    synchronous, so it costs no overlap that was there before.
    """

    def __init__(self, backup_dir: str, learning_rate: float) -> None:
        super().__init__()
        self.backup_dir = backup_dir
        self.learning_rate = learning_rate
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDiverged(self.message(f"the loss is {float(loss)}"))

    def on_epoch_end(self, epoch, logs=None):
        variables = [*self.model.weights, *self.model.optimizer.variables]
        for v in variables:
            value = np.asarray(v.numpy())
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise TrainingDiverged(
                    self.message(f"the weights are not finite ({v.path})")
                )

    def message(self, what: str) -> str:
        step = int(self.model.optimizer.iterations.numpy())
        epochs = self.params.get("epochs", "?")
        lines = [
            f"training diverged at step {step} (epoch {self.epoch + 1}/{epochs}): "
            f"{what}. Stopped before backing up these weights."
        ]
        backup = _last_backup(self.backup_dir)
        if backup is None:
            lines.append("No backup was taken yet: running again starts at step 0.")
        else:
            done = backup * (self.params.get("steps") or 0)
            lines.append(
                f"The last good backup is {self.backup_dir} (after epoch "
                f"{backup}/{epochs}, step {done}): the same command resumes there."
            )
        lines.append(
            "To try: a lower --learning_rate (this run: "
            f"{self.learning_rate:g}), and check --training_data for records "
            "with non-finite ink (older pipeline versions could write them)."
        )
        return "\n".join(lines)


def _last_backup(backup_dir: str) -> int | None:
    """How many epochs BackupAndRestore's backup holds; None without one."""
    path = posixpath.join(backup_dir, "training_metadata.json")
    try:
        with tf.io.gfile.GFile(path) as f:
            return int(json.load(f)["epoch"])
    except (tf.errors.NotFoundError, ValueError, KeyError, TypeError):
        return None


def _has_tensorboard() -> bool:
    """tf.summary needs the tensorboard package, which TF 2.21 no longer pulls in."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def make_callbacks(
    config: TrainConfig, cluster: Cluster, meter: speed.SpeedMeter | None = None
) -> list:
    """The divergence guard, then BackupAndRestore (a restart resumes), then
    the speed `meter`, history, checkpoints and TensorBoard (which also
    profiles --profile_steps)."""
    model_dir = config.model_dir
    private = (
        model_dir
        if cluster.is_chief
        else tempfile.mkdtemp(prefix=f"worker{cluster.task_index}-")
    )
    backup_dir = posixpath.join(
        model_dir, "backup", f"{cluster.task_type}-{cluster.task_index}"
    )
    callbacks = [
        # Before the backup: a diverged run must stop before it is saved.
        DivergenceGuard(backup_dir, config.learning_rate),
        # double_checkpoint: a job killed while writing its backup restarts
        # from the previous one instead of failing on a torn file.
        keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True),
        *([meter] if meter else []),  # before the history line that prints it
        HistoryWriter(posixpath.join(model_dir, HISTORY_FILE), cluster.is_chief),
        keras.callbacks.ModelCheckpoint(
            posixpath.join(private, "checkpoints", "epoch-{epoch:04d}.weights.h5"),
            save_weights_only=True,
        ),
    ]
    if _has_tensorboard():
        logs = (
            config.tensorboard_dir
            if cluster.is_chief
            else posixpath.join(private, "logs")
        )
        profile = config.profile_range() or 0
        callbacks.append(
            keras.callbacks.TensorBoard(
                logs, update_freq="epoch", profile_batch=profile
            )
        )
        if profile:
            log.info("profiling steps %d to %d into %s", *profile, logs)
    else:
        log.warning("tensorboard is not installed: no TensorBoard logs or profile")
    return callbacks
