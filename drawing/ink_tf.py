"""The per-drawing transform of `drawing.ink` as TensorFlow ops.

`drawing.ink.normalize_and_delta` runs in numpy in the Beam pipeline. Serving
graphs and tf.Transform's `preprocessing_fn` need the same arithmetic inside a
TensorFlow graph, so that a model sees exactly the ink it was trained on whether
the drawing came through the pipeline or straight from a client. The ops are
the numpy ones in the same order and in float32, so the results agree to the
last bit in practice (the tests hold them to 1e-6).

Everything is vectorised over a ragged batch: no Python loops over drawings, no
`tf.py_function`, so it works under `tf.function`, in SavedModels and in TFT.
This module deliberately imports neither tensorflow_transform nor keras:
importing tensorflow_transform switches `tf.keras` to the legacy Keras.
"""

from __future__ import annotations

import tensorflow as tf

from drawing.features import DRAWING_X, DRAWING_Y, STROKE_LENGTHS


def raw_feature_spec() -> dict[str, tf.io.RaggedFeature]:
    """The tf.io spec of a raw drawing in a tf.train.Example.

    The Example holds `drawing_x` and `drawing_y` (float lists, every point of
    every stroke in drawing order) and `stroke_lengths` (int64 list, points per
    stroke). Parsing with this spec gives `drawing_x` and `drawing_y` as float32
    ragged [batch, strokes, points], the input of `strokes_to_ink`.
    """

    def coordinate(key: str) -> tf.io.RaggedFeature:
        return tf.io.RaggedFeature(
            tf.float32,
            value_key=key,
            partitions=[tf.io.RaggedFeature.RowLengths(STROKE_LENGTHS)],
            row_splits_dtype=tf.int64,
        )

    return {DRAWING_X: coordinate(DRAWING_X), DRAWING_Y: coordinate(DRAWING_Y)}


def strokes_to_ink(x: tf.RaggedTensor, y: tf.RaggedTensor) -> tf.RaggedTensor:
    """Size-normalises and delta-encodes a batch of drawings, like `drawing.ink`.

    Per drawing: each axis is scaled to [0, 1] by its own min/max (an axis with
    no extent keeps scale 1), the strokes are concatenated, consecutive points
    are differenced across stroke boundaries, and each row carries the pen-up
    bit of its later point (1 on the last point of a stroke). Empty strokes
    contribute nothing, as in the numpy version.

    Args:
      x: float32 ragged [batch, strokes, points] canvas x coordinates.
      y: float32 ragged [batch, strokes, points], the same structure as `x`.

    Returns:
      float32 ragged [batch, (N-1), 3]: dx, dy, pen-up, where N is the drawing's
      number of points (a drawing with fewer than 2 points gives 0 rows).
    """
    x = tf.cast(x, tf.float32).with_row_splits_dtype(tf.int64)
    y = tf.cast(y, tf.float32).with_row_splits_dtype(tf.int64)
    # Pen-up bit per point: the point's index within its stroke is the last one.
    strokes = x.values  # ragged [total strokes, points]
    stroke_lengths = strokes.row_lengths()
    position = tf.ragged.range(stroke_lengths)
    pen_up = tf.cast(
        tf.equal(position, tf.expand_dims(stroke_lengths - 1, 1)), tf.float32
    )
    pen_up = x.with_values(pen_up)

    # Strokes concatenated: ragged [batch, points]; empty strokes vanish here.
    x_flat = x.merge_dims(1, 2)
    y_flat = y.merge_dims(1, 2)
    pen_flat = pen_up.merge_dims(1, 2)

    def normalize(points: tf.RaggedTensor) -> tf.Tensor:
        lower = tf.reduce_min(points, axis=1)
        scale = tf.reduce_max(points, axis=1) - lower
        scale = tf.where(tf.equal(scale, 0.0), tf.ones_like(scale), scale)
        # Same order of float32 operations as numpy: (p - lower) / scale.
        row = points.value_rowids()
        return (points.flat_values - tf.gather(lower, row)) / tf.gather(scale, row)

    nx = normalize(x_flat)
    ny = normalize(y_flat)

    # Keep every point but the first of each drawing; its delta is to the point
    # before it in the flat values, which belongs to the same drawing.
    num_points = x_flat.row_lengths()
    later = tf.ragged.range(num_points).flat_values > 0
    keep = tf.where(later)[:, 0]
    dx = tf.gather(nx, keep) - tf.gather(nx, keep - 1)
    dy = tf.gather(ny, keep) - tf.gather(ny, keep - 1)
    pen = tf.gather(pen_flat.flat_values, keep)
    rows = tf.stack([dx, dy, pen], axis=1)
    return tf.RaggedTensor.from_row_lengths(
        rows, tf.maximum(num_points - 1, 0), validate=False
    )
