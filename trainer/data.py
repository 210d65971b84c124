"""tf.data input for the trainer: sharded TFRecords to bucketed, padded batches.

Reads both our records and the tutorial's published shards (it only needs
`ink` and `class_index`; `shape` and `key_id` are not required). Everything on
the hot path is a tf.data op so that input keeps up with a GPU: parallel
interleave over shards, parallel parsing, and bucketing by length so that a
batch of 20-point drawings is not padded to the 400 points of an outlier.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from pipeline import features as F
from trainer.augment import augment_batch, drop_points
from trainer.config import TrainConfig
from trainer.statistics import DEFAULT_BUCKET_BOUNDARIES

_FEATURE_SPEC = {
    F.INK: tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64),
    F.CLASS_INDEX: tf.io.FixedLenFeature([1], tf.int64),
}


def load_classes(classes_file: str) -> list[str]:
    """Class names; the line number is the `class_index` stored in the records."""
    with tf.io.gfile.GFile(classes_file, "r") as f:
        names = F.parse_classes(f.read())
    if not names:
        raise ValueError(f"no classes in {classes_file}")
    return names


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
) -> tuple[tf.data.Dataset, tf.data.experimental.AutoShardPolicy]:
    """This worker's serialized records, shuffled and repeated for training,
    and the auto-shard policy that goes with how the shards were split."""
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
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 16),  # an upper bound after sharding
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not training,
    )
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        ds = ds.repeat()
    return ds, policy


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
    """
    ds, policy = _records(
        pattern, training, num_workers, worker_index, seed, shuffle_buffer
    )
    # Parse in chunks (vectorised), then go back to single examples to bucket.
    ds = ds.batch(256).map(parse_examples, num_parallel_calls=tf.data.AUTOTUNE)
    # unbatch leaves ragged-rank-0 specs that padded_batch rejects; an identity
    # map turns them back into plain tensors.
    ds = ds.unbatch().map(lambda f, y: (f, y), num_parallel_calls=tf.data.AUTOTUNE)
    if bucket:
        bounds = [int(b) for b in boundaries]
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda f, _: tf.cast(f[F.LENGTHS], tf.int32),
            bucket_boundaries=bounds,
            bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
            drop_remainder=training,
        )
    else:
        ds = ds.padded_batch(batch_size, drop_remainder=training)
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
