"""tf.Transform definition: the ink transform and the full-pass statistics.

`preprocessing_fn` takes raw strokes, exactly as a client sends them, and
returns the model's ink through `pipeline.ink_tf`, the graph twin of the numpy
path that writes the TFRecords (the equivalence test holds them to 1e-6).
The exported model does not embed this transform graph: its serving
signatures call the same `pipeline.ink_tf` ops directly, so training and
serving run one piece of code and cannot skew.

Its analyzers make one pass over (a deterministic sample of) the training
split for:
- the class vocabulary, in the order of `training.tfrecord.classes` (sorted,
  index = line number; the class list is passed as reserved tokens, so the
  analyzer never reorders by frequency),
- the mean and standard deviation of dx and dy over the analysed points, which
  the model standardises its input with,
- quantiles of the sequence length, the trainer's bucket boundaries.

The pipeline imports this module, and the trainer's `trainer.statistics` does
lazily, to read the statistics back: importing tensorflow_transform switches
`tf.keras` to the legacy Keras for the whole process.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_transform as tft

from pipeline import features as F
from pipeline import ink_tf

LENGTH_BUCKETS = 16


def raw_feature_spec() -> dict:
    """Raw schema: ragged strokes (see `pipeline.ink_tf`) and the class word."""
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


def statistics(transform_dir: str) -> dict:
    """The analyzers' results in plain form, for stats.json and the trainer.

    They live as constants in the transform graph; running it on one dummy
    drawing is the simplest way to read them back.
    """
    output = tft.TFTransformOutput(transform_dir)
    x = tf.RaggedTensor.from_row_lengths(
        tf.RaggedTensor.from_row_lengths(tf.constant([0.0, 1.0]), [2]), [1]
    )
    vocabulary = output.vocabulary_by_name(F.CLASSES_VOCABULARY)
    first = vocabulary[0] if vocabulary else b""
    raw = {F.DRAWING_X: x, F.DRAWING_Y: x, F.WORD: tf.constant([first])}
    out = output.transform_features_layer()(raw)
    return {
        F.VOCABULARY: [w.decode() for w in vocabulary],
        F.DELTA_MEAN: out[F.DELTA_MEAN][0].numpy().tolist(),
        F.DELTA_STD: out[F.DELTA_STD][0].numpy().tolist(),
        F.LENGTH_QUANTILES: [round(v) for v in out[F.LENGTH_QUANTILES][0].numpy()],
    }
