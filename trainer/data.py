"""tf.data input for the trainer: sharded TFRecords to bucketed, padded batches.

Reads both our records and the tutorial's published shards (it only needs
`ink` and `class_index`; `shape` and `key_id` are not required). Everything on
the hot path is a tf.data op so that input keeps up with a GPU: parallel
interleave over shards, parallel parsing, and bucketing by length so that a
batch of 20-point drawings is not padded to the 400 points of an outlier.
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from pipeline import features as F

INK = "ink"
LENGTHS = "lengths"

# Used when neither the transform output nor stats.json gives length quantiles:
# roughly the deciles of Quick, Draw! simplified drawings, denser where most are.
DEFAULT_BUCKET_BOUNDARIES = (12, 18, 24, 30, 36, 43, 50, 60, 72, 90, 120, 170, 250)

# Augmentation strength: the drawings are already normalised to the unit box,
# so these are relative. Small enough that a circle stays a circle.
MAX_ROTATION = 0.25  # radians
MAX_LOG_SCALE = 0.2  # per axis
MAX_SHEAR = 0.2

_FEATURE_SPEC = {
    F.INK: tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64),
    F.CLASS_INDEX: tf.io.FixedLenFeature([1], tf.int64),
}

log = logging.getLogger(__name__)


def load_classes(classes_file: str) -> list[str]:
    """Class names; the line number is the `class_index` stored in the records."""
    with tf.io.gfile.GFile(classes_file, "r") as f:
        names = [line.rstrip("\r\n") for line in f]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise ValueError(f"no classes in {classes_file}")
    return names


def default_classes_file(training_data: str) -> str:
    """The tutorial's layout: `training.tfrecord.classes` beside the shards."""
    return posixpath.join(posixpath.dirname(training_data), F.CLASSES_FILE)


def _from_stats_json(path: str, name: str) -> list | None:
    """`name` from a stats.json, at the top or under "transform" (where
    `pipeline.main` puts what tf.Transform computed)."""
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "r") as f:
        stats = json.load(f)
    if not isinstance(stats, dict):
        return None
    return stats.get(name) or (stats.get("transform") or {}).get(name)


def load_transform_statistics(transform_dir: str) -> dict | None:
    """The tf.Transform analyzers' results (vocabulary, length quantiles, delta
    mean/std) read from the pipeline's transform output, or None if unreadable.

    tensorflow_transform is imported here, not at module level: importing it
    switches `tf.keras` to the legacy Keras for the whole process.
    """
    try:
        from pipeline import preprocessing  # imports tensorflow_transform

        return preprocessing.statistics(transform_dir)
    except Exception as err:  # noqa: BLE001 - any failure means "not usable"
        log.warning("cannot read tf.Transform output %s: %s", transform_dir, err)
        return None


def find_statistic(
    name: str,
    training_data: str,
    transform_dir: str = "",
    transform_statistics: dict | None = None,
) -> tuple[list | None, str]:
    """A statistic of the training split, and where it came from.

    In order: the tf.Transform statistics, a `stats.json` in or beside the
    transform dir, `stats.json` beside the training shards; else (None, "").
    """
    candidates = []
    if transform_statistics:
        candidates.append(
            ("tf.Transform statistics", lambda: transform_statistics.get(name))
        )
    if transform_dir:
        for d in (transform_dir, posixpath.dirname(transform_dir.rstrip("/"))):
            path = posixpath.join(d, F.STATS_FILE)
            candidates.append((path, lambda p=path: _from_stats_json(p, name)))
    path = posixpath.join(posixpath.dirname(training_data), F.STATS_FILE)
    candidates.append((path, lambda: _from_stats_json(path, name)))
    for source, load in candidates:
        values = load()
        if values:
            return list(values), source
    return None, ""


def bucket_boundaries(
    training_data: str,
    transform_dir: str = "",
    transform_statistics: dict | None = None,
) -> tuple[list[int], str]:
    """Bucket boundaries for `bucket_by_sequence_length`, and where they came from:
    the length quantiles (see `find_statistic`), else defaults.

    Boundaries are made strictly increasing and >= 2, as tf.data requires.
    """
    values, source = find_statistic(
        "length_quantiles", training_data, transform_dir, transform_statistics
    )
    boundaries = sorted({int(v) for v in values or () if v >= 2})
    if boundaries:
        return boundaries, source
    return list(DEFAULT_BUCKET_BOUNDARIES), "defaults"


def delta_statistics(
    training_data: str,
    transform_dir: str = "",
    transform_statistics: dict | None = None,
) -> tuple[dict, str]:
    """{"delta_mean", "delta_std"} of the training deltas for the model's input
    standardisation, and where they came from; ({}, "") when not found."""
    found = {
        name: find_statistic(name, training_data, transform_dir, transform_statistics)
        for name in ("delta_mean", "delta_std")
    }
    (mean, source), (std, _) = found["delta_mean"], found["delta_std"]
    if mean and std and len(mean) == len(std) == 2 and min(std) > 0:
        return {"delta_mean": tuple(mean), "delta_std": tuple(std)}, source
    return {}, ""


def parse_examples(serialized: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """A batch of serialized Examples to ragged ink [B, (T), 3], lengths, labels.

    Parsing a batch at a time is several times faster than one Example per call.
    The `shape` feature is not needed: the ink's own length gives T.
    """
    parsed = tf.io.parse_example(serialized, _FEATURE_SPEC)
    flat = parsed[F.INK]
    ink = tf.RaggedTensor.from_row_lengths(
        tf.reshape(flat.values, [-1, 3]), flat.row_lengths() // 3, validate=False
    )
    return {INK: ink, LENGTHS: ink.row_lengths()}, parsed[F.CLASS_INDEX][:, 0]


def augment_batch(
    features: dict[str, tf.Tensor], labels: tf.Tensor
) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """Random left-right flip, rotation, per-axis scale and shear of each
    drawing in a batch.

    People draw the same object facing either way (an airplane, a cat, a
    guitar), so half the drawings are mirrored. A linear map of the points is
    the same linear map of their deltas, so it applies to the ink directly;
    padding rows stay zero and pen bits are kept. Applied per batch with one
    einsum, so it costs next to nothing.
    """
    ink = features[INK]
    batch = tf.shape(ink)[0]
    uniform = tf.random.uniform
    # No op seeds: ops sharing one would draw the same numbers. The global
    # seed (keras.utils.set_random_seed) still makes runs repeatable.
    angle = uniform([batch], -MAX_ROTATION, MAX_ROTATION)
    log_scale = uniform([batch, 2], -MAX_LOG_SCALE, MAX_LOG_SCALE)
    shear = uniform([batch], -MAX_SHEAR, MAX_SHEAR)
    cos, sin = tf.cos(angle), tf.sin(angle)
    flip = tf.where(uniform([batch]) < 0.5, -1.0, 1.0)
    sx, sy = flip * tf.exp(log_scale[:, 0]), tf.exp(log_scale[:, 1])
    # matrix = rotation @ [[sx, shear], [0, sy]], applied as xy @ matrix^T.
    matrix = tf.stack(
        [
            tf.stack([cos * sx, cos * shear - sin * sy], axis=1),
            tf.stack([sin * sx, sin * shear + cos * sy], axis=1),
        ],
        axis=1,
    )
    xy = tf.einsum("btj,bij->bti", ink[:, :, :2], matrix)
    ink = tf.concat([xy, ink[:, :, 2:]], axis=2)
    return {INK: ink, LENGTHS: features[LENGTHS]}, labels


def drop_points(
    features: dict[str, tf.Tensor], labels: tf.Tensor, rate: float
) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """Drops a random `rate` of each drawing's points, keeping every stroke end.

    The same drawing sampled a little differently, as another tablet or a
    faster hand would record it (sketch-rnn's point-dropping augmentation).
    Dropping a point merges its delta into the next one, so the remaining
    points keep their positions: deltas are summed back to positions, the
    kept positions gathered per drawing, and differenced again. Stroke ends
    (pen bit 1) always stay, so strokes, their count and the last point keep
    their meaning and no drawing becomes empty.
    """
    ink = features[INK]
    lengths = tf.cast(features[LENGTHS], tf.int32)
    steps = tf.shape(ink)[1]
    valid = tf.sequence_mask(lengths, steps)
    last = tf.one_hot(lengths - 1, steps, on_value=True, off_value=False)
    keep = valid & (
        (ink[:, :, 2] > 0.5) | last | (tf.random.uniform(tf.shape(valid)) >= rate)
    )
    positions = tf.ragged.boolean_mask(tf.cumsum(ink[:, :, :2], axis=1), keep)
    pen = tf.ragged.boolean_mask(ink[:, :, 2:], keep)
    kept = tf.cast(positions.row_lengths(), tf.int32)
    positions = positions.to_tensor()
    previous = tf.pad(positions, [[0, 0], [1, 0], [0, 0]])[:, :-1]
    mask = tf.cast(tf.sequence_mask(kept, tf.shape(positions)[1]), ink.dtype)
    ink = tf.concat([positions - previous, pen.to_tensor()], axis=2)
    ink = pad_to_one_step(ink * mask[:, :, None])
    return {INK: ink, LENGTHS: kept}, labels


def pad_to_one_step(ink: tf.Tensor) -> tf.Tensor:
    """Pads dense ink [B, T, 3] to T >= 1: a batch of empty drawings would
    otherwise give the model a zero-length time axis."""
    return tf.pad(ink, [[0, 0], [0, tf.maximum(1 - tf.shape(ink)[1], 0)], [0, 0]])


def _finish_batch(features: dict, labels: tf.Tensor) -> tuple[dict, tf.Tensor]:
    ink = pad_to_one_step(features[INK])
    return {INK: ink, LENGTHS: tf.cast(features[LENGTHS], tf.int32)}, labels


def make_dataset(
    pattern: str,
    batch_size: int,
    training: bool,
    boundaries: Sequence[int] = DEFAULT_BUCKET_BOUNDARIES,
    augment: bool = False,
    point_drop: float = 0.0,
    shuffle_buffer: int = 10_000,
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
    # Parse in chunks (vectorised), then go back to single examples to bucket.
    ds = ds.batch(256).map(parse_examples, num_parallel_calls=tf.data.AUTOTUNE)
    # unbatch leaves ragged-rank-0 specs that padded_batch rejects; an identity
    # map turns them back into plain tensors.
    ds = ds.unbatch().map(lambda f, y: (f, y), num_parallel_calls=tf.data.AUTOTUNE)
    if bucket:
        bounds = [int(b) for b in boundaries]
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda f, _: tf.cast(f[LENGTHS], tf.int32),
            bucket_boundaries=bounds,
            bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
            drop_remainder=training,
        )
    else:
        ds = ds.padded_batch(batch_size, drop_remainder=training)
    ds = ds.map(_finish_batch, num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment:
        if point_drop > 0:
            ds = ds.map(
                lambda f, y: drop_points(f, y, point_drop),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        ds = ds.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
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
