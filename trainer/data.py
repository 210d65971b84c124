"""tf.data input for the trainer: sharded TFRecords to padded batches of
drawings of similar length.

Reads both our records and the tutorial's published shards (it only needs
`ink` and `class_index`; `shape` and `key_id` are not required). No stage
handles one drawing at a time, so the input keeps up with a GPU and gains
from every core (bench/README.md, "Trainer input"):

1. shards are read in parallel, interleaved, in blocks of records;
2. blocks are joined into windows of whole batches (`InputConfig.window`);
3. each window is parsed with one `parse_example`, its labels checked,
   points dropped (training), ordered by length bucket with one argsort and
   cut into batches (`trainer.batching`), shuffled in training;
4. each batch is padded to its own longest drawing and, in training, gets a
   random linear map (`trainer.augment`).

Training reads every record exactly once per pass over the data, then starts
the next pass reshuffled: a pass's last, short window joins the one before
it, and the records beyond whole batches join its shortest batch, so that
no batch is smaller than `batch_size`. Eval reads every record once, in a
fixed order: the shards in file order, each window sorted by length bucket,
each bucket's last batch partial, a window's batches in a fixed mixed order.
"""

from __future__ import annotations

import json
import math
import posixpath
import re

import numpy as np
import tensorflow as tf

from drawing import features as F
from drawing.flags import InputError
from trainer.augment import augment_batch
from trainer.batching import cut, windows
from trainer.config import InputConfig
from trainer.shard_check import check_manifest

_FEATURE_SPEC = {
    F.INK: tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64),
    F.CLASS_INDEX: tf.io.FixedLenFeature([1], tf.int64),
}


# What the label check in the input pipeline says when a record's class_index
# is outside the classes file; `label_error` turns it into an InputError.
_LABEL_CHECK = "class_index out of range in"
_LABEL_FAILURE = re.compile(rf"\[{_LABEL_CHECK} (--\w+)\] \[(-?\d+)\]")


def load_classes(classes_file: str) -> list[str]:
    """Class names; the line number is the `class_index` stored in the records."""
    if not tf.io.gfile.exists(classes_file):
        raise InputError(
            f"--classes_file {classes_file!r} does not exist: check the path "
            f"(pipeline.main writes it beside the records, as {F.CLASSES_FILE})"
        )
    with tf.io.gfile.GFile(classes_file, "r") as f:
        names = F.parse_classes(f.read())
    if not names:
        raise InputError(
            f"--classes_file {classes_file!r} lists no classes: name the "
            "classes file the pipeline wrote with the records"
        )
    return names


def _pipeline_class_counts(training_data: str, classes_file: str):
    """(number of classes, where it was read) for what the pipeline wrote beside
    the training shards: stats.json's count and its classes file."""
    data_dir = posixpath.dirname(training_data)
    stats_path = posixpath.join(data_dir, F.STATS_FILE)
    if tf.io.gfile.exists(stats_path):
        with tf.io.gfile.GFile(stats_path) as f:
            stats = json.load(f)
        if isinstance(stats, dict) and isinstance(stats.get("classes"), int):
            yield stats["classes"], stats_path
    beside = posixpath.join(data_dir, F.CLASSES_FILE)
    other = posixpath.normpath(beside) != posixpath.normpath(classes_file)
    if other and tf.io.gfile.exists(beside):
        with tf.io.gfile.GFile(beside) as f:
            yield len(F.parse_classes(f.read())), beside


def check_inputs(training_data: str, eval_data: str, classes_file: str) -> list[str]:
    """The classes, once the inputs are known to be usable: checked at start,
    in a second, rather than after the model is built or the first period.

    Raises:
      InputError: a data pattern matches no file; a shard is missing, extra or
        of another size than the pipeline's manifest says; the classes file is missing
        or empty; or it lists another number of classes than the pipeline
        wrote the records with (their stats.json, their classes file), so
        that labels would be out of range or mean other classes.
    """
    patterns = {"--training_data": training_data, "--eval_data": eval_data}
    check_manifest(patterns)  # first: it names the missing shard
    for flag, pattern in patterns.items():
        if pattern and not tf.io.gfile.glob(pattern):
            raise InputError(
                f"{flag} {pattern!r} matches no file: check the path (pipeline.main "
                f"writes OUT/{F.TRAIN_PREFIX}-* and OUT/{F.EVAL_PREFIX}-*)"
            )
    classes = load_classes(classes_file)
    for count, source in _pipeline_class_counts(training_data, classes_file):
        if count != len(classes):
            raise InputError(
                f"--classes_file {classes_file!r} lists {len(classes)} classes, "
                f"but {source} says the records of --training_data "
                f"{training_data!r} have {count}: use the classes file the "
                "pipeline wrote with them"
            )
    return classes


def label_error(
    err: tf.errors.InvalidArgumentError,
    patterns: dict[str, str],
    classes_file: str,
    num_classes: int,
) -> InputError | None:
    """The InputError for the input pipeline's label check, or None when `err`
    is another failure. `patterns` maps each data flag to its pattern."""
    found = _LABEL_FAILURE.search(err.message or "")
    if not found:
        return None
    flag, label = found.group(1), int(found.group(2))
    return InputError(
        f"{flag} {patterns.get(flag, '')!r} holds a record with class_index "
        f"{label}, but --classes_file {classes_file!r} lists {num_classes} "
        f"classes (class_index 0 to {num_classes - 1}): the records were "
        "written with another classes file: use the classes file the pipeline "
        "wrote with them"
    )


def _check_labels(labels: tf.Tensor, num_classes: int, flag: str) -> tf.Tensor:
    """`labels`, once they are known to index the classes. An out-of-range
    label fails the input pipeline: on CPU it would train on an all-zero
    target and on GPU give a NaN loss, both silently."""
    low, high = tf.reduce_min(labels), tf.reduce_max(labels)
    in_range = tf.logical_and(low >= 0, high < num_classes)
    offending = tf.where(low < 0, low, high)
    check = tf.debugging.Assert(in_range, [f"{_LABEL_CHECK} {flag}", offending])
    with tf.control_dependencies([check]):
        return tf.identity(labels)


def parse_examples(serialized: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """A batch of serialized Examples to ragged ink [B, (T), 3], lengths, labels.

    Parsing a batch at a time is several times faster than one Example per call.
    The `shape` feature is not needed: the ink's own length gives T.
    """
    parsed = tf.io.parse_example(serialized, _FEATURE_SPEC)
    flat = parsed[F.INK]
    ink = tf.RaggedTensor.from_row_lengths(
        tf.reshape(flat.values, [-1, F.INK_CHANNELS]),
        flat.row_lengths() // F.INK_CHANNELS,
        validate=False,
    )
    return {F.INK: ink, F.LENGTHS: ink.row_lengths()}, parsed[F.CLASS_INDEX][:, 0]


def pad_to_one_step(ink: tf.Tensor) -> tf.Tensor:
    """Pads dense ink [B, T, 3] to T >= 1: a batch of empty drawings would
    otherwise give the model a zero-length time axis."""
    return tf.pad(ink, [[0, 0], [0, tf.maximum(1 - tf.shape(ink)[1], 0)], [0, 0]])


def _padded(
    ink: tf.RaggedTensor, labels: tf.Tensor, augment: bool
) -> tuple[dict, tf.Tensor]:
    """A batch as the model takes it: ink padded to its longest drawing, with
    `augment`, randomly mapped (`augment_batch`)."""
    lengths = tf.cast(ink.row_lengths(), tf.int32)
    features = {F.INK: pad_to_one_step(ink.to_tensor()), F.LENGTHS: lengths}
    return augment_batch(features, labels) if augment else (features, labels)


# Records read at a time from one shard: the unit of reading and shuffling.
_BLOCK = 64


def _records(
    pattern: str, training: bool, shuffled: bool, config: InputConfig
) -> tuple[tf.data.Dataset, tf.data.experimental.AutoShardPolicy]:
    """This worker's serialized records in blocks, and the auto-shard policy
    that goes with how the shards were split. Each worker reads its own subset
    of the shards; with fewer shards than workers every worker reads all and
    tf.distribute keeps its share of the batches (its automatic FILE sharding
    cannot see through the windows, so the file sharding is done here)."""
    files = tf.io.gfile.glob(pattern)
    if not files:
        raise FileNotFoundError(f"no files match {pattern}")
    files = sorted(files)
    ds = tf.data.Dataset.from_tensor_slices(files)
    policy = tf.data.experimental.AutoShardPolicy.OFF
    if config.num_workers > 1:
        if len(files) >= config.num_workers:
            ds = ds.shard(config.num_workers, config.worker_index)
        else:
            policy = tf.data.experimental.AutoShardPolicy.DATA
    if training:
        ds = ds.shuffle(len(files), seed=config.seed, reshuffle_each_iteration=True)

    def read(path: tf.Tensor) -> tf.data.Dataset:
        records = tf.data.TFRecordDataset(path)
        if config.skip_damaged:  # a DataLossError ends this shard's records
            records = records.ignore_errors()
        return records.batch(_BLOCK)

    ds = ds.interleave(
        read,
        cycle_length=min(len(files), 16),  # an upper bound after sharding
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not shuffled,
    )
    if shuffled:
        blocks = max(2, config.shuffle_buffer // _BLOCK)
        ds = ds.shuffle(blocks, seed=config.seed, reshuffle_each_iteration=True)
    return ds, policy


def record_windows(
    pattern: str, batch_size: int, training: bool, config: InputConfig
) -> tuple[tf.data.Dataset, tf.data.experimental.AutoShardPolicy]:
    """This worker's serialized records in windows of `config.window` records
    (whole batches), and the auto-shard policy: `make_dataset`'s first stage."""
    shuffled = training and config.shuffle_buffer > 1
    blocks, policy = _records(pattern, training, shuffled, config)
    size = batch_size * max(1, math.ceil(config.window / batch_size))
    return windows(blocks, size, training), policy


def make_dataset(
    pattern: str,
    batch_size: int,
    training: bool,
    config: InputConfig | None = None,
) -> tf.data.Dataset:
    """Batches of ({"ink": float32 [B, T, 3], "lengths": int32 [B]}, int64 [B]).

    Args:
      pattern: Glob of TFRecord shards (local or gs://).
      batch_size: Global batch size (Keras splits it across replicas).
      training: Each pass over the records shuffled, augmented (as `config`
        says) and in batches of at least `batch_size`, passes repeated
        forever; eval reads every record once, in a fixed order.
      config: Buckets, augmentation, shuffling, windows, cache, label check,
        damaged shards and this worker's share (`trainer.config.InputConfig`;
        its defaults when None).
    """
    config = config or InputConfig()
    shuffled = training and config.shuffle_buffer > 1
    records, policy = record_windows(pattern, batch_size, training, config)
    flag = "--training_data" if training else "--eval_data"

    def parse(serialized: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
        features, labels = parse_examples(serialized)
        if config.num_classes is not None:
            labels = _check_labels(labels, config.num_classes, flag)
        return features[F.INK], labels

    # In order: the passes follow one another, and a run is repeatable.
    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True}
    ds = records.map(parse, **parallel)
    if config.cache:
        ds = ds.cache()
        if shuffled:
            ds = ds.shuffle(64, seed=config.seed, reshuffle_each_iteration=True)
    if training:  # passes overlap from here on, one after the other
        ds = ds.repeat()
    ds = ds.map(
        lambda ink, y: cut(ink, y, batch_size, training, shuffled, config),
        **parallel,
    )
    augment = training and config.augment
    ds = ds.unbatch().map(lambda ink, y: _padded(ink, y, augment), **parallel)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def count_records(pattern: str) -> int:
    """Records in the shards matching `pattern` (one pass; for `--epochs`)."""
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no files match {pattern}")
    ds = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
    return int(ds.reduce(np.int64(0), lambda n, _: n + 1))
