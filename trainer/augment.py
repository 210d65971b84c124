"""Training-time augmentation of batches of right-padded ink.

Each function maps ({"ink": [B, T, 3], "lengths": [B]}, labels) to the same
structure inside a tf.data pipeline (`trainer.data`); padding rows stay zero.
"""

from __future__ import annotations

import tensorflow as tf

from drawing import features as F

# Augmentation strength: the drawings are already normalised to the unit box,
# so these are relative. Small enough that a circle stays a circle.
MAX_ROTATION = 0.25  # radians
MAX_LOG_SCALE = 0.2  # per axis
MAX_SHEAR = 0.2


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
    ink = features[F.INK]
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
    return {F.INK: ink, F.LENGTHS: features[F.LENGTHS]}, labels


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
