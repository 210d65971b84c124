"""Training-time augmentation: dropped points and a random linear map.

`trainer.data` drops points (`thin`) from a whole window of ragged drawings
at once, before they are sorted by length into batches, so that a batch is
padded to its drawings' lengths after dropping; the linear map
(`augment_batch`) runs on each padded batch ({"ink": [B, T, 3], "lengths":
[B]}, labels), where it costs a few multiply-adds per step. Padding rows
stay zero. `drop_points` is `thin` for a padded batch.
"""

from __future__ import annotations

import tensorflow as tf

from drawing import features as F

# Augmentation strength: the drawings are already normalised to the unit box,
# so these are relative. Small enough that a circle stays a circle.
MAX_ROTATION = 0.25  # radians
MAX_LOG_SCALE = 0.2  # per axis
MAX_SHEAR = 0.2


def _random_maps(count: tf.Tensor) -> tf.Tensor:
    """[count, 2, 2]: a random flip, rotation, per-axis scale and shear each."""
    uniform = tf.random.uniform
    # No op seeds: ops sharing one would draw the same numbers. The global
    # seed (keras.utils.set_random_seed) still makes runs repeatable.
    angle = uniform([count], -MAX_ROTATION, MAX_ROTATION)
    log_scale = uniform([count, 2], -MAX_LOG_SCALE, MAX_LOG_SCALE)
    shear = uniform([count], -MAX_SHEAR, MAX_SHEAR)
    cos, sin = tf.cos(angle), tf.sin(angle)
    flip = tf.where(uniform([count]) < 0.5, -1.0, 1.0)
    sx, sy = flip * tf.exp(log_scale[:, 0]), tf.exp(log_scale[:, 1])
    # rotation @ [[sx, shear], [0, sy]]
    return tf.stack(
        [
            tf.stack([cos * sx, cos * shear - sin * sy], axis=1),
            tf.stack([sin * sx, sin * shear + cos * sy], axis=1),
        ],
        axis=1,
    )


def augment_batch(
    features: dict[str, tf.Tensor], labels: tf.Tensor
) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """Random left-right flip, rotation, per-axis scale and shear of each
    drawing in a batch.

    People draw the same object facing either way (an airplane, a cat, a
    guitar), so half the drawings are mirrored. A linear map of the points is
    the same linear map of their deltas, so it applies to the ink directly;
    padding rows stay zero and pen bits are kept. The channels are taken as
    whole [B, T] planes, which is several times faster than a batched 2x2
    matrix product.
    """
    x, y, pen = tf.unstack(features[F.INK], axis=2)
    m = tf.unstack(tf.reshape(_random_maps(tf.shape(x)[0]), [-1, 4, 1]), axis=1)
    ink = tf.stack([m[0] * x + m[1] * y, m[2] * x + m[3] * y, pen], axis=2)
    return {F.INK: ink, F.LENGTHS: features[F.LENGTHS]}, labels


def thin(ink: tf.RaggedTensor, rate: float) -> tf.RaggedTensor:
    """Drops a random `rate` of each drawing's points, keeping every stroke end.

    The same drawing sampled a little differently, as another tablet or a
    faster hand would record it (sketch-rnn's point-dropping augmentation).
    Dropping a point merges its delta into the next kept one, so the kept
    points keep their positions. Stroke ends (pen bit 1) and each drawing's
    last point always stay, so strokes keep their meaning and no drawing
    becomes empty. One segment sum over all the points does it: a point
    belongs to the next kept one, and the pen bits add up right because
    only points with pen bit 0 are dropped.
    """
    points, splits = ink.values, ink.row_splits
    draw = tf.random.uniform(tf.shape(points)[:1])
    last = tf.boolean_mask(splits[1:], ink.row_lengths() > 0) - 1
    draw = tf.tensor_scatter_nd_update(draw, last[:, None], tf.ones(tf.shape(last)))
    keep = (points[:, 2] > 0.5) | (draw >= rate)
    kept_before = tf.cumsum(tf.cast(keep, tf.int32), exclusive=True)
    values = tf.math.segment_sum(points, kept_before)
    kept_before = tf.concat([kept_before, tf.shape(values)[:1]], axis=0)
    row_splits = tf.cast(tf.gather(kept_before, splits), splits.dtype)
    return tf.RaggedTensor.from_row_splits(values, row_splits, validate=False)


def drop_points(
    features: dict[str, tf.Tensor], labels: tf.Tensor, rate: float
) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """`thin` on a batch of right-padded ink, padded to its longest result."""
    ragged = tf.RaggedTensor.from_tensor(features[F.INK], lengths=features[F.LENGTHS])
    ink = thin(ragged, rate)
    lengths = tf.cast(ink.row_lengths(), features[F.LENGTHS].dtype)
    return {F.INK: ink.to_tensor(), F.LENGTHS: lengths}, labels
