"""The Keras callbacks of a training run: backups, history, checkpoints, logs.

Only the chief writes the shared outputs; other workers write their copies to
a private directory, where they do not collide.
"""

from __future__ import annotations

import json
import logging
import posixpath
import tempfile

import keras
import tensorflow as tf

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

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        entry = {"epoch": epoch, "step": step}
        entry.update({k: float(v) for k, v in (logs or {}).items()})
        self.entries.append(entry)
        log.info("epoch %d done at step %d: %s", epoch, step, json.dumps(entry))
        if self.write:
            write_json(self.path, self.entries)


def _has_tensorboard() -> bool:
    """tf.summary needs the tensorboard package, which TF 2.21 no longer pulls in."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def make_callbacks(config: TrainConfig, cluster: Cluster) -> list:
    """BackupAndRestore first (a restart resumes), then history, checkpoints and
    TensorBoard."""
    model_dir = config.model_dir
    private = (
        model_dir
        if cluster.is_chief
        else tempfile.mkdtemp(prefix=f"worker{cluster.task_index}-")
    )
    callbacks = [
        # double_checkpoint: a job killed while writing its backup restarts
        # from the previous one instead of failing on a torn file.
        keras.callbacks.BackupAndRestore(
            posixpath.join(
                model_dir, "backup", f"{cluster.task_type}-{cluster.task_index}"
            ),
            double_checkpoint=True,
        ),
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
        callbacks.append(keras.callbacks.TensorBoard(logs, update_freq="epoch"))
    else:
        log.warning("tensorboard is not installed: no TensorBoard logs")
    return callbacks
