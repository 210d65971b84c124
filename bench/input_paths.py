"""The trainer input paths that bench/input_bench.py measures, stage by stage.

- `read`, `parse`: the reference. The shards read in parallel (interleaved)
  into batches, then each batch parsed with one `tf.io.parse_example`.
- `old_*`: the trainer's input as it was up to commit 3d27c5b, rebuilt here
  from that commit's trainer/data.py and trainer/augment.py: records
  shuffled one at a time, parsed in chunks of 256, `unbatch`, then
  `padded_batch` or `bucket_by_sequence_length`, then point dropping and the
  linear map on each padded batch.
- `new_*`: `trainer.data` as it is, its stages cut off one after the other.

Each builder takes (pattern, batch size, bucket boundaries) and returns a
dataset of batches: (features, labels), or serialized records for `read`
and `new_read`.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from drawing import features as F
from trainer import data as D
from trainer.config import InputConfig

AUTOTUNE = tf.data.AUTOTUNE
OLD_SHUFFLE_BUFFER = 10_000  # the old default
OLD_POINT_DROP = 0.1


def _files(pattern: str) -> tf.data.Dataset:
    files = sorted(tf.io.gfile.glob(pattern))
    ds = tf.data.Dataset.from_tensor_slices(files)
    return ds.shuffle(len(files), seed=0, reshuffle_each_iteration=True), len(files)


def read(pattern: str, batch_size: int, _) -> tf.data.Dataset:
    files, count = _files(pattern)
    ds = files.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(count, 16),
        num_parallel_calls=AUTOTUNE,
        deterministic=False,
    )
    return ds.repeat().batch(batch_size).prefetch(AUTOTUNE)


def parse(pattern: str, batch_size: int, _) -> tf.data.Dataset:
    ds = read(pattern, batch_size, None)
    return ds.map(D.parse_examples, num_parallel_calls=AUTOTUNE, deterministic=False)


# --------------------------------------------------------------------------
# The old path (3d27c5b).


def _old_records(pattern: str) -> tf.data.Dataset:
    files, count = _files(pattern)
    ds = files.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(count, 16),
        num_parallel_calls=AUTOTUNE,
        deterministic=False,
    )
    ds = ds.shuffle(OLD_SHUFFLE_BUFFER, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(256).map(D.parse_examples, num_parallel_calls=AUTOTUNE)
    return ds.unbatch().map(lambda f, y: (f, y), num_parallel_calls=AUTOTUNE)


def _old_finish(features: dict, labels: tf.Tensor) -> tuple[dict, tf.Tensor]:
    ink = D.pad_to_one_step(features[F.INK])
    return {F.INK: ink, F.LENGTHS: tf.cast(features[F.LENGTHS], tf.int32)}, labels


def old_padded(pattern: str, batch_size: int, _) -> tf.data.Dataset:
    ds = _old_records(pattern).padded_batch(batch_size, drop_remainder=True)
    return ds.map(_old_finish, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def _old_bucketed(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    bounds = [int(b) for b in boundaries]
    return _old_records(pattern).bucket_by_sequence_length(
        element_length_func=lambda f, _: tf.cast(f[F.LENGTHS], tf.int32),
        bucket_boundaries=bounds,
        bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
        drop_remainder=True,
    )


def old_bucketed(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    ds = _old_bucketed(pattern, batch_size, boundaries)
    return ds.map(_old_finish, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def old_trainer(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    """The old trainer input with its defaults: bucketing, point dropping and
    the linear map."""
    ds = _old_bucketed(pattern, batch_size, boundaries)
    ds = ds.map(
        lambda f, y: _old_drop_points(f, y, OLD_POINT_DROP),
        num_parallel_calls=AUTOTUNE,
    )
    ds = ds.map(_old_augment_batch, num_parallel_calls=AUTOTUNE)
    return ds.map(_old_finish, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def _old_augment_batch(features: dict, labels: tf.Tensor) -> tuple[dict, tf.Tensor]:
    """3d27c5b's trainer.augment.augment_batch, as it was."""
    ink = features[F.INK]
    batch = tf.shape(ink)[0]
    uniform = tf.random.uniform
    angle = uniform([batch], -0.25, 0.25)
    log_scale = uniform([batch, 2], -0.2, 0.2)
    shear = uniform([batch], -0.2, 0.2)
    cos, sin = tf.cos(angle), tf.sin(angle)
    flip = tf.where(uniform([batch]) < 0.5, -1.0, 1.0)
    sx, sy = flip * tf.exp(log_scale[:, 0]), tf.exp(log_scale[:, 1])
    matrix = tf.stack(
        [
            tf.stack([cos * sx, cos * shear - sin * sy], axis=1),
            tf.stack([sin * sx, sin * shear + cos * sy], axis=1),
        ],
        axis=1,
    )
    xy = tf.einsum("btj,bij->bti", ink[:, :, :2], matrix)
    ink = tf.concat([xy, ink[:, :, 2:]], axis=2)
    return {F.INK: ink, F.LENGTHS: features[F.LENGTHS]}, labels


def _old_drop_points(features: dict, labels: tf.Tensor, rate: float):
    """3d27c5b's trainer.augment.drop_points, as it was."""
    ink = features[F.INK]
    lengths = tf.cast(features[F.LENGTHS], tf.int32)
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
    return {F.INK: ink * mask[:, :, None], F.LENGTHS: kept}, labels


# --------------------------------------------------------------------------
# The new path (trainer.data), stage by stage.


def _config(boundaries, **changes) -> InputConfig:
    return dataclasses.replace(InputConfig(boundaries=tuple(boundaries)), **changes)


def new_read(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    """Shards read in blocks and joined into windows."""
    config = _config(boundaries)
    ds, _ = D.record_windows(pattern, batch_size, True, config)
    return ds.repeat().prefetch(AUTOTUNE)


def new_parse(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    """+ one parse_example per window."""
    ds = new_read(pattern, batch_size, boundaries)
    return ds.map(D.parse_examples, num_parallel_calls=AUTOTUNE, deterministic=False)


def new_sorted(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    """+ sorted by length bucket, cut into batches, each padded (no
    augmentation)."""
    config = _config(boundaries, augment=False)
    return D.make_dataset(pattern, batch_size, True, config)


def new_linear(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    """+ the linear map per batch (no point dropping)."""
    config = _config(boundaries, point_drop=0.0)
    return D.make_dataset(pattern, batch_size, True, config)


def new_trainer(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    """The trainer's input with its defaults (points dropped too)."""
    return D.make_dataset(pattern, batch_size, True, _config(boundaries))


def new_eval(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    """The eval input: file order, sorted by bucket, no augmentation."""
    config = _config(boundaries)
    return D.make_dataset(pattern, batch_size, False, config).repeat()


def new_cached(pattern: str, batch_size: int, boundaries) -> tf.data.Dataset:
    """The trainer's input with `cache`: parsed windows kept after a pass."""
    config = _config(boundaries, cache=True)
    return D.make_dataset(pattern, batch_size, True, config)


PATHS = {
    "read": read,
    "parse": parse,
    "old_padded": old_padded,
    "old_bucketed": old_bucketed,
    "old_trainer": old_trainer,
    "new_read": new_read,
    "new_parse": new_parse,
    "new_sorted": new_sorted,
    "new_linear": new_linear,
    "new_trainer": new_trainer,
    "new_eval": new_eval,
    "new_cached": new_cached,
}
