"""Trains, evaluates and exports the Quick, Draw! classifier.

Usage (the tutorial's flags keep their meanings):

  python -m trainer.task \\
    --training_data='DATA/training.tfrecord-?????-of-?????' \\
    --eval_data='DATA/eval.tfrecord-?????-of-?????' \\
    --classes_file=DATA/training.tfrecord.classes \\
    --model_dir=OUT [--export_dir=OUT/export] [--steps=100000 | --epochs=N]

Defaults that differ from the tutorial's are listed, with the reason, in
`trainer.config`. On Vertex AI `AIP_CHECKPOINT_DIR`, `AIP_MODEL_DIR` and
`AIP_TENSORBOARD_LOG_DIR` are the defaults of `--model_dir`, `--export_dir`
and `--tensorboard_dir`. Paths may be local or gs://.

Distribution: one worker with several GPUs uses MirroredStrategy; a `TF_CONFIG`
naming more than one task uses MultiWorkerMirroredStrategy (Vertex AI sets
`TF_CONFIG` for multi-replica jobs). `--batch_size` is the global batch.

Preemption: `BackupAndRestore` writes the weights, optimizer state and epoch to
`MODEL_DIR/backup` after every evaluation period, so a killed job started
again with the same flags resumes from the last period instead of from step 0.

Outputs in `--model_dir`: `checkpoints/` (weights after each period),
`history.json` (per-period metrics, across restarts), `eval_report.json`
(top-1/top-3/MAP@3, per-class accuracy, most confused pairs),
`model.weights.h5` + `model_config.json`; the SavedModel goes to
`--export_dir` (see `trainer.export`).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import logging
import math
import os
import posixpath
import sys
import tempfile
import warnings
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from trainer import data as D
from trainer import export as E
from trainer.config import CELL_TYPES, ModelConfig, TrainConfig
from trainer.model import build_model, compile_model, learning_rate_schedule

log = logging.getLogger("trainer")

HISTORY_FILE = "history.json"
REPORT_FILE = "eval_report.json"
MODEL_CONFIG_FILE = "model_config.json"
WEIGHTS_FILE = "model.weights.h5"
NUM_CONFUSED_PAIRS = 20


# --------------------------------------------------------------------------
# Flags.


def _int_list(text: str) -> tuple[int, ...]:
    """The tutorial's list flags, e.g. "[48, 64, 96]" (or "48,64,96")."""
    try:
        value = ast.literal_eval(
            text.strip() if text.strip().startswith("[") else f"[{text}]"
        )
    except (ValueError, SyntaxError) as err:
        raise argparse.ArgumentTypeError(f"not a list of ints: {text!r}") from err
    if not isinstance(value, list) or not all(
        isinstance(v, int) and v > 0 for v in value
    ):
        raise argparse.ArgumentTypeError(f"not a list of positive ints: {text!r}")
    return tuple(value)


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def build_parser() -> argparse.ArgumentParser:
    # The defaults live on the dataclass, in one place.
    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    p = argparse.ArgumentParser(
        prog="python -m trainer.task",
        description="Train the Quick, Draw! RNN classifier.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = p.add_argument
    add("--training_data", required=True, help="glob of training TFRecord shards")
    add("--eval_data", default="", help="glob of eval shards; empty: no evaluation")
    add(
        "--classes_file",
        default="",
        help="default: training.tfrecord.classes beside the shards",
    )
    add(
        "--model_dir",
        default=os.environ.get("AIP_CHECKPOINT_DIR", ""),
        help="checkpoints, backups, reports (default $AIP_CHECKPOINT_DIR)",
    )
    add(
        "--export_dir",
        default=os.environ.get("AIP_MODEL_DIR", ""),
        help="serving SavedModel (default $AIP_MODEL_DIR, else MODEL_DIR/export)",
    )
    add(
        "--tensorboard_dir",
        default=os.environ.get("AIP_TENSORBOARD_LOG_DIR", ""),
        help="TensorBoard logs (default $AIP_TENSORBOARD_LOG_DIR, else MODEL_DIR/logs)",
    )
    add("--transform_dir", default="", help="tf.Transform output of the pipeline")
    add("--num_layers", type=int, default=fields["num_layers"], help="BiLSTM layers")
    add(
        "--num_nodes",
        type=int,
        default=fields["num_nodes"],
        help="LSTM units per direction",
    )
    add(
        "--num_conv",
        type=_int_list,
        default=fields["num_conv"],
        help="conv filters per layer",
    )
    add("--conv_len", type=_int_list, default=fields["conv_len"], help="conv widths")
    add(
        "--cell_type",
        choices=CELL_TYPES,
        default=fields["cell_type"],
        help="all are keras.layers.LSTM, which uses cuDNN on GPU by itself",
    )
    add("--batch_norm", type=_bool, nargs="?", const=True, default=fields["batch_norm"])
    add("--dropout", type=float, default=fields["dropout"])
    add(
        "--batch_size", type=int, default=fields["batch_size"], help="global batch size"
    )
    add(
        "--learning_rate", type=float, default=fields["learning_rate"], help="peak rate"
    )
    add("--warmup_steps", type=int, default=fields["warmup_steps"])
    add("--weight_decay", type=float, default=fields["weight_decay"])
    add("--label_smoothing", type=float, default=fields["label_smoothing"])
    add(
        "--gradient_clipping_norm", type=float, default=fields["gradient_clipping_norm"]
    )
    add("--steps", type=int, default=fields["steps"], help="total training steps")
    add(
        "--epochs",
        type=float,
        default=fields["epochs"],
        help="passes over the training data; overrides --steps when > 0",
    )
    add(
        "--eval_every",
        type=int,
        default=fields["eval_every"],
        help="steps between evaluations and backups",
    )
    add(
        "--eval_steps",
        type=int,
        default=fields["eval_steps"],
        help="eval batches per evaluation; 0: the whole eval set",
    )
    add(
        "--positions",
        type=_bool,
        nargs="?",
        const=True,
        default=fields["positions"],
        help="also feed each point's position (running sum of the deltas)",
    )
    add("--augment", type=_bool, nargs="?", const=True, default=fields["augment"])
    add(
        "--point_drop",
        type=float,
        default=fields["point_drop"],
        help="with --augment: share of points dropped at random",
    )
    add("--shuffle_buffer", type=int, default=fields["shuffle_buffer"])
    add(
        "--mixed_precision",
        choices=("auto", "on", "off"),
        default=fields["mixed_precision"],
        help="auto: mixed_float16 when a GPU is present",
    )
    add("--export_top_k", type=int, default=fields["export_top_k"])
    add("--seed", type=int, default=fields["seed"])
    return p


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """Flags to a frozen `TrainConfig`, filling the path defaults."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    if not ns.model_dir:
        parser.error("--model_dir is required (or set AIP_CHECKPOINT_DIR)")
    for name in ("batch_size", "eval_every", "steps"):
        if getattr(ns, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if not 0 <= ns.point_drop < 1:
        parser.error("--point_drop must be in [0, 1)")
    if len(ns.num_conv) != len(ns.conv_len):
        parser.error("--num_conv and --conv_len must have the same length")
    values = vars(ns)
    values["classes_file"] = ns.classes_file or D.default_classes_file(ns.training_data)
    values["export_dir"] = ns.export_dir or posixpath.join(ns.model_dir, "export")
    values["tensorboard_dir"] = ns.tensorboard_dir or posixpath.join(
        ns.model_dir, "logs"
    )
    return TrainConfig(**values)


# --------------------------------------------------------------------------
# Distribution.


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Where this process sits in the job, from TF_CONFIG."""

    num_workers: int
    task_type: str
    task_index: int
    has_chief: bool = False

    @property
    def worker_index(self) -> int:
        """0..num_workers-1 over chief and workers, the chief first."""
        return self.task_index + (
            1 if self.task_type == "worker" and self.has_chief else 0
        )

    @property
    def is_chief(self) -> bool:
        """The task that writes reports and exports: "chief", else worker 0."""
        return self.task_type == "chief" or (
            self.task_type == "worker" and self.task_index == 0 and not self.has_chief
        )


def read_cluster() -> Cluster:
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster = config.get("cluster", {})
    task = config.get("task", {})
    workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    return Cluster(
        num_workers=max(1, workers),
        task_type=task.get("type", "chief"),
        task_index=int(task.get("index", 0)),
        has_chief=bool(cluster.get("chief")),
    )


def make_strategy(cluster: Cluster) -> tf.distribute.Strategy:
    """MultiWorkerMirrored for a multi-task TF_CONFIG, Mirrored for several
    local GPUs, else the default strategy. Must run before other TF work."""
    if cluster.num_workers > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


# --------------------------------------------------------------------------
# Callbacks.


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
            _write_json(self.path, self.entries)


def _write_json(path: str, value: object) -> None:
    tmp = f"{path}.tmp"
    with tf.io.gfile.GFile(tmp, "w") as f:
        json.dump(value, f, indent=2)
    tf.io.gfile.rename(tmp, path, overwrite=True)


# --------------------------------------------------------------------------
# Evaluation report.


def evaluation_report(
    model: keras.Model, dataset: tf.data.Dataset, classes: Sequence[str]
) -> dict:
    """Top-1/top-3/MAP@3, per-class accuracy and the most confused pairs.

    One pass over the (finite) eval dataset with the model in inference mode.
    """
    num_classes = len(classes)
    k = min(3, num_classes)

    @tf.function(reduce_retracing=True, autograph=False)
    def top(features):
        return tf.math.top_k(model(features, training=False), k=k).indices

    labels, tops = [], []
    for features, y in dataset:
        labels.append(y.numpy())
        tops.append(top(features).numpy())
    if not labels:
        return {"num_examples": 0}
    y = np.concatenate(labels).astype(np.int64)
    t = np.concatenate(tops).astype(np.int64)
    hits = t == y[:, None]
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (y, t[:, 0]), 1)
    per_class_count = confusion.sum(axis=1)
    per_class = {
        name: {
            "count": int(per_class_count[i]),
            "top1": float(confusion[i, i] / per_class_count[i])
            if per_class_count[i]
            else None,
        }
        for i, name in enumerate(classes)
    }
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:NUM_CONFUSED_PAIRS]
    confused = []
    for flat in order:
        i, j = divmod(int(flat), num_classes)
        if off[i, j] == 0:
            break
        confused.append(
            {
                "true": classes[i],
                "predicted": classes[j],
                "count": int(off[i, j]),
                "fraction_of_true": float(off[i, j] / per_class_count[i]),
            }
        )
    ranks = 1.0 / np.arange(1, k + 1)
    return {
        "num_examples": int(len(y)),
        "top1": float(hits[:, 0].mean()),
        "top3": float(hits.any(axis=1).mean()),
        "map3": float((hits * ranks).sum(axis=1).mean()),
        "per_class": per_class,
        "most_confused": confused,
    }


# --------------------------------------------------------------------------
# Training.


def _has_tensorboard() -> bool:
    """tf.summary needs the tensorboard package, which TF 2.21 no longer pulls in."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def _use_mixed_precision(setting: str) -> bool:
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return setting == "on"


def total_steps(config: TrainConfig) -> int:
    if config.epochs > 0:
        records = D.count_records(config.training_data)
        return max(1, math.ceil(config.epochs * records / config.batch_size))
    return config.steps


def train(config: TrainConfig) -> dict:
    """Runs the whole job; returns the evaluation report (empty without eval)."""
    cluster = read_cluster()
    strategy = make_strategy(cluster)
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

    classes = D.load_classes(config.classes_file)
    transform_statistics = None
    if config.transform_dir:
        transform_statistics = D.load_transform_statistics(config.transform_dir)
        vocabulary = (transform_statistics or {}).get("vocabulary")
        if vocabulary and vocabulary != classes:
            raise ValueError(
                f"the tf.Transform vocabulary in {config.transform_dir} is not "
                f"{config.classes_file}: the labels would not mean the same classes"
            )
    boundaries, source = D.bucket_boundaries(
        config.training_data, config.transform_dir, transform_statistics
    )
    log.info("%d classes; length buckets from %s: %s", len(classes), source, boundaries)
    deltas, source = D.delta_statistics(
        config.training_data, config.transform_dir, transform_statistics
    )
    if deltas:
        log.info("input standardised with %s from %s", deltas, source)
    else:
        log.warning("no delta mean/std found (tf.Transform, stats.json): input as is")
    model_config = config.model_config(len(classes), **deltas)

    steps = total_steps(config)
    steps_per_epoch = min(config.eval_every, steps)
    epochs = math.ceil(steps / steps_per_epoch)
    steps = epochs * steps_per_epoch  # whole evaluation periods

    train_ds = D.make_dataset(
        config.training_data,
        config.batch_size,
        training=True,
        boundaries=boundaries,
        augment=config.augment,
        point_drop=config.point_drop,
        shuffle_buffer=config.shuffle_buffer,
        num_workers=cluster.num_workers,
        worker_index=cluster.worker_index,
        seed=config.seed,
    )
    eval_ds = None
    if config.eval_data:
        eval_ds = D.make_dataset(
            config.eval_data,
            config.batch_size,
            training=False,
            boundaries=boundaries,
            num_workers=cluster.num_workers,
            worker_index=cluster.worker_index,
        )
        if config.eval_steps:
            eval_ds = eval_ds.repeat()

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

    model_dir = config.model_dir
    # Non-chief workers write their copies where they do not collide.
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
        callbacks.append(
            keras.callbacks.TensorBoard(
                config.tensorboard_dir
                if cluster.is_chief
                else posixpath.join(private, "logs"),
                update_freq="epoch",
            )
        )
    else:
        log.warning("tensorboard is not installed: no TensorBoard logs")
    if cluster.num_workers > 1:
        _patch_keras_for_multi_worker(model, strategy, train_ds)
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
            verbose=2,
        )
    # Replicas must end with identical weights; the log line lets people (and
    # the multi-worker test) check that they did.
    checksum = float(sum(np.abs(w).sum(dtype=np.float64) for w in model.get_weights()))
    log.info("final weights checksum %.6f", checksum)
    if not cluster.is_chief:
        return {}
    return finish(config, model, model_config, classes, boundaries, steps)


def _patch_keras_for_multi_worker(
    model: keras.Model, strategy: tf.distribute.Strategy, dataset: tf.data.Dataset
) -> None:
    """Works around Keras 3's broken `fit` under MultiWorkerMirroredStrategy.

    Two bugs (keras-team/keras#20329, #20585), both still in Keras 3.15:

    * `fit` first all-reduces a real batch only to learn its shapes; that fails
      on dict inputs, and could not work with bucketing anyway (each worker's
      batch has its own padded length). We build the metrics, loss and
      optimizer from the dataset's element spec instead and skip that step.
    * The per-step loss and metric values are averaged across workers with
      `strategy.reduce("MEAN", v, axis=0)`, which rejects scalars. We average
      them with `axis=None`, which is what was meant.

    Only applied for multi-worker jobs; single-worker training is untouched.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    with strategy.scope():
        model._symbolic_build(data_batch=dataset.element_spec)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None

    original = tf_trainer.reduce_per_replica
    if getattr(original, "patched_for_multi_worker", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):
            return tree.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None), values
            )
        return original(values, strategy, reduction)

    reduce_per_replica.patched_for_multi_worker = True
    tf_trainer.reduce_per_replica = reduce_per_replica


def finish(
    config: TrainConfig,
    model: keras.Model,
    model_config: ModelConfig,
    classes: list[str],
    boundaries: list[int],
    steps: int,
) -> dict:
    """Chief only: weights, float32 serving copy, report, export."""
    global_step = int(model.optimizer.iterations.numpy())
    keras.mixed_precision.set_global_policy("float32")
    serving_model = build_model(model_config)
    serving_model.set_weights(model.get_weights())
    model_dir = config.model_dir
    serving_model.save_weights(posixpath.join(model_dir, WEIGHTS_FILE))
    config_json = dataclasses.asdict(model_config)
    _write_json(posixpath.join(model_dir, MODEL_CONFIG_FILE), config_json)

    report: dict = {"global_step": global_step, "steps": steps}
    if config.eval_data:
        eval_ds = D.make_dataset(
            config.eval_data, config.batch_size, training=False, boundaries=boundaries
        )
        report.update(evaluation_report(serving_model, eval_ds, classes))
        log.info(
            "eval: top1 %.4f top3 %.4f map3 %.4f on %d drawings",
            report.get("top1", float("nan")),
            report.get("top3", float("nan")),
            report.get("map3", float("nan")),
            report.get("num_examples", 0),
        )
    _write_json(posixpath.join(model_dir, REPORT_FILE), report)
    E.export_model(
        serving_model,
        classes,
        config.export_dir,
        top_k=config.export_top_k,
        model_config=config_json,
    )
    log.info("exported serving model to %s", config.export_dir)
    return report


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = parse_args(argv)
    train(config)


if __name__ == "__main__":
    main(sys.argv[1:])
