"""tf.Transform's `preprocessing_fn`: the ink and the full-pass statistics.

It computes the ink from raw strokes with `drawing.ink_tf` (the equivalence
test holds it to the pipeline's stored ink), and its analyzers make one pass
over a sample of the training split: the class vocabulary in the classes
file's order, the mean and std of dx and dy (the model standardises its input
with them), and length quantiles (the trainer's buckets). The exported model
runs the same `drawing.ink_tf` code, not this graph; `drawing.tft_output`
reads the statistics back. Importing tensorflow_transform switches `tf.keras`
to the legacy Keras, so only the pipeline imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_transform as tft

from drawing import features as F
from drawing import ink_tf

LENGTH_BUCKETS = 16


def raw_feature_spec() -> dict:
    """Raw schema: ragged strokes (see `drawing.ink_tf`) and the class word."""
    return {**ink_tf.raw_feature_spec(), F.WORD: tf.io.FixedLenFeature([], tf.string)}


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
    ink = ink_tf.strokes_to_ink(inputs[F.DRAWING_X], inputs[F.DRAWING_Y])
    length = ink.row_lengths()
    deltas = ink.flat_values[:, :2]
    mean = tft.mean(deltas, reduce_instance_dims=False)
    std = tf.sqrt(tft.var(deltas, reduce_instance_dims=False))
    boundaries = tft.quantiles(
        tf.cast(length, tf.float32),
        num_buckets=LENGTH_BUCKETS,
        epsilon=0.01,
        name=F.LENGTH_QUANTILES,
    )
    vocabulary = tft.vocabulary(
        inputs[F.WORD],
        vocab_filename=F.CLASSES_VOCABULARY,
        reserved_tokens=list(classes) if classes else None,
    )
    return {
        F.INK: ink,
        F.LENGTH: length,
        F.CLASS_INDEX: tft.apply_vocabulary(inputs[F.WORD], vocabulary),
        F.DELTA_MEAN: _broadcast(mean, length),
        F.DELTA_STD: _broadcast(std, length),
        F.LENGTH_QUANTILES: _broadcast(boundaries, length),
    }
