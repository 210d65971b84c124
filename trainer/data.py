"""tf.data input for the trainer: sharded TFRecords to bucketed, padded batches.

Reads both our records and the tutorial's published shards (it only needs
`ink` and `class_index`; `shape` and `key_id` are not required). Everything on
the hot path is a tf.data op so that input keeps up with a GPU: parallel
interleave over shards, parallel parsing, and bucketing by length so that a
batch of 20-point drawings is not padded to the 400 points of an outlier.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from drawing import features as F
from drawing.flags import InputError
from trainer.augment import augment_batch, drop_points
from trainer.config import TrainConfig
from trainer.shard_check import check_manifest
from trainer.statistics import DEFAULT_BUCKET_BOUNDARIES

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
        raise InputError(f"--classes_file {classes_file!r} does not exist")
    with tf.io.gfile.GFile(classes_file, "r") as f:
        names = F.parse_classes(f.read())
    if not names:
        raise InputError(f"--classes_file {classes_file!r} lists no classes")
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
            raise InputError(f"{flag} {pattern!r} matches no file")
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
        "written with another classes file"
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


def _with_label_check(
    ds: tf.data.Dataset, num_classes: int, training: bool
) -> tf.data.Dataset:
    flag = "--training_data" if training else "--eval_data"
    return ds.map(
        lambda f, y: (f, _check_labels(y, num_classes, flag)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


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


def _finish_batch(features: dict, labels: tf.Tensor) -> tuple[dict, tf.Tensor]:
    ink = pad_to_one_step(features[F.INK])
    return {F.INK: ink, F.LENGTHS: tf.cast(features[F.LENGTHS], tf.int32)}, labels


def _records(
    pattern: str,
    training: bool,
    num_workers: int,
    worker_index: int,
    seed: int | None,
    shuffle_buffer: int,
    skip_damaged: bool = False,
) -> tuple[tf.data.Dataset, tf.data.experimental.AutoShardPolicy]:
    """This worker's serialized records, shuffled and repeated for training,
    and the auto-shard policy that goes with how the shards were split.
    `skip_damaged` reads each shard up to its first damaged record."""
    files = tf.io.gfile.glob(pattern)
    if not files:
        raise FileNotFoundError(f"no files match {pattern}")
    files = sorted(files)
    ds = tf.data.Dataset.from_tensor_slices(files)
    policy = tf.data.experimental.AutoShardPolicy.OFF
    if num_workers > 1:
        if len(files) >= num_workers:
            ds = ds.shard(num_workers, worker_index)
        else:
            policy = tf.data.experimental.AutoShardPolicy.DATA
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

    def read(path: tf.Tensor) -> tf.data.Dataset:
        records = tf.data.TFRecordDataset(path)
        # A DataLossError moves the reader to the next file: the rest is skipped.
        return records.ignore_errors() if skip_damaged else records

    ds = ds.interleave(
        read,
        cycle_length=min(len(files), 16),  # an upper bound after sharding
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not training,
    )
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        ds = ds.repeat()
    return ds, policy


def _batch(
    ds: tf.data.Dataset,
    batch_size: int,
    boundaries: Sequence[int] | None,
    training: bool,
) -> tf.data.Dataset:
    """Batches of drawings of similar length (`boundaries`), or padded to the
    longest of each batch (None); training drops the partial batches."""
    if boundaries is None:
        return ds.padded_batch(batch_size, drop_remainder=training)
    bounds = [int(b) for b in boundaries]
    return ds.bucket_by_sequence_length(
        element_length_func=lambda f, _: tf.cast(f[F.LENGTHS], tf.int32),
        bucket_boundaries=bounds,
        bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
        drop_remainder=training,
    )


def make_dataset(
    pattern: str,
    batch_size: int,
    training: bool,
    boundaries: Sequence[int] = DEFAULT_BUCKET_BOUNDARIES,
    augment: bool = False,
    point_drop: float = 0.0,
    shuffle_buffer: int = TrainConfig.shuffle_buffer,
    num_workers: int = 1,
    worker_index: int = 0,
    seed: int | None = None,
    bucket: bool = True,
    num_classes: int | None = None,
    skip_damaged: bool = False,
) -> tf.data.Dataset:
    """Batches of ({"ink": float32 [B, T, 3], "lengths": int32 [B]}, int64 [B]).

    Args:
      pattern: Glob of TFRecord shards (local or gs://).
      batch_size: Global batch size (Keras splits it across replicas).
      training: Shuffle, repeat forever and drop partial batches; eval reads
        every record once, in file order.
      boundaries: Length bucket boundaries; `bucket=False` pads each batch to
        its longest drawing instead (the tutorial's way, for benchmarks).
      augment: Random linear distortion of the ink (training only).
      point_drop: With `augment`, the share of points to drop at random.
      num_workers, worker_index: This worker's place among the workers of a
        multi-worker job. Each reads its own subset of the shards; with fewer
        shards than workers every worker reads all and keeps its share of the
        batches. (tf.data's automatic FILE sharding cannot see through the
        bucketing op, so the file sharding is done here.)
      num_classes: When given, a class_index outside [0, num_classes) fails
        the input with an error that `label_error` explains.
      skip_damaged: Read each shard up to its first damaged record.
    """
    ds, policy = _records(
        pattern, training, num_workers, worker_index, seed, shuffle_buffer,
        skip_damaged,
    )  # fmt: skip
    # Parse in chunks (vectorised), then go back to single examples to bucket.
    ds = ds.batch(256).map(parse_examples, num_parallel_calls=tf.data.AUTOTUNE)
    if num_classes is not None:
        ds = _with_label_check(ds, num_classes, training)
    # unbatch leaves ragged-rank-0 specs that padded_batch rejects; an identity
    # map turns them back into plain tensors.
    ds = ds.unbatch().map(lambda f, y: (f, y), num_parallel_calls=tf.data.AUTOTUNE)
    ds = _batch(ds, batch_size, boundaries if bucket else None, training)
    if training and augment:
        if point_drop > 0:
            ds = ds.map(
                lambda f, y: drop_points(f, y, point_drop),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        ds = ds.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
    # Last, so that whatever the augmentation did the model gets T >= 1.
    ds = ds.map(_finish_batch, num_parallel_calls=tf.data.AUTOTUNE)
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
