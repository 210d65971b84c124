"""tf.Transform definition: the serving transform and the full-pass statistics.

`preprocessing_fn` takes raw strokes, exactly as a client sends them, and
returns the model's ink through `pipeline.ink_tf`, the graph twin of the numpy
path that writes the TFRecords (the equivalence test holds them to 1e-6). The
same graph is exported with the model, so training and serving cannot skew.

Its analyzers make one pass over the training split for:
- the class vocabulary, in the order of `training.tfrecord.classes` (sorted,
  index = line number; the class list is passed as reserved tokens, so the
  analyzer never reorders by frequency),
- the mean and standard deviation of dx and dy over all training points,
- quantiles of the sequence length, the trainer's bucket boundaries.

Only the trainer's export and the pipeline import this module; the trainer does
not import tensorflow_transform at module level (it switches tf.keras).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_transform as tft

from pipeline import ink_tf

WORD = "word"
# Transformed feature names.
INK = "ink"
LENGTH = "length"
CLASS_INDEX = "class_index"
DELTA_MEAN = "delta_mean"  # [2]: mean dx, dy over training points
DELTA_STD = "delta_std"  # [2]
LENGTH_QUANTILES = "length_quantiles"  # [LENGTH_BUCKETS - 1] boundaries
CLASSES_VOCABULARY = "classes"  # vocabulary file name in transform_fn/assets
LENGTH_BUCKETS = 16


def raw_feature_spec() -> dict:
    """Raw schema: ragged strokes (see `pipeline.ink_tf`) and the class word."""
    return {**ink_tf.raw_feature_spec(), WORD: tf.io.FixedLenFeature([], tf.string)}


def _broadcast(value: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """An analyzer result repeated per example, so serving graphs can read it."""
    value = tf.reshape(value, [1, -1])
    return tf.tile(value, [tf.shape(like)[0], 1])


def preprocessing_fn(inputs: dict, classes: Sequence[str] | None = None) -> dict:
    """Raw strokes -> ink, length, class index and the training statistics.

    Args:
      inputs: `drawing_x`, `drawing_y` (float32 ragged [batch, strokes, points])
        and `word` (string [batch]).
      classes: The sorted class list. The pipeline binds it with
        functools.partial; without it the vocabulary is ordered by frequency.
    """
    ink = ink_tf.strokes_to_ink(inputs[ink_tf.DRAWING_X], inputs[ink_tf.DRAWING_Y])
    length = ink.row_lengths()
    deltas = ink.flat_values[:, :2]
    mean = tft.mean(deltas, reduce_instance_dims=False)
    std = tf.sqrt(tft.var(deltas, reduce_instance_dims=False))
    boundaries = tft.quantiles(
        tf.cast(length, tf.float32),
        num_buckets=LENGTH_BUCKETS,
        epsilon=0.01,
        name="length_quantiles",
    )
    vocabulary = tft.vocabulary(
        inputs[WORD],
        vocab_filename=CLASSES_VOCABULARY,
        reserved_tokens=list(classes) if classes else None,
    )
    return {
        INK: ink,
        LENGTH: length,
        CLASS_INDEX: tft.apply_vocabulary(inputs[WORD], vocabulary),
        DELTA_MEAN: _broadcast(mean, length),
        DELTA_STD: _broadcast(std, length),
        LENGTH_QUANTILES: _broadcast(boundaries, length),
    }


def statistics(transform_dir: str) -> dict:
    """The analyzers' results in plain form, for stats.json and for people.

    They live as constants in the transform graph; running it on one dummy
    drawing is the simplest way to read them back.
    """
    output = tft.TFTransformOutput(transform_dir)
    x = tf.RaggedTensor.from_row_lengths(
        tf.RaggedTensor.from_row_lengths(tf.constant([0.0, 1.0]), [2]), [1]
    )
    vocabulary = output.vocabulary_by_name(CLASSES_VOCABULARY)
    first = vocabulary[0] if vocabulary else b""
    raw = {ink_tf.DRAWING_X: x, ink_tf.DRAWING_Y: x, WORD: tf.constant([first])}
    out = output.transform_features_layer()(raw)
    return {
        "vocabulary": [w.decode() for w in vocabulary],
        "delta_mean": out[DELTA_MEAN][0].numpy().tolist(),
        "delta_std": out[DELTA_STD][0].numpy().tolist(),
        "length_quantiles": [round(v) for v in out[LENGTH_QUANTILES][0].numpy()],
    }
