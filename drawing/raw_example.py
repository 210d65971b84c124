"""The raw drawing as a tf.train.Example, as tf.Transform and serving read it.

Every point's x and y in drawing order (float lists), the points per stroke
(int64 list) and, optionally, the class word: the layout of
`drawing.ink_tf.raw_feature_spec`. The pipeline writes it for tf.Transform's
analysis, and serving hands drawings to the exported model's
`predict_example` signature this way: numbers, with no JSON to parse again.

Written with `tf.train.Example` itself: the reference that the pipeline's
hand-assembled `pipeline.records.serialize_raw` is held to
(tests/pipeline/test_records.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from drawing import features as F


@functools.cache
def _example_class():
    """tf.train.Example, imported on first use: TensorFlow takes seconds to load."""
    from tensorflow.core.example import example_pb2

    return example_pb2.Example


def raw_example(
    xs: Sequence[float],
    ys: Sequence[float],
    stroke_lengths: Sequence[int],
    word: str | None = None,
) -> bytes:
    """The serialized Example of one drawing's points (strokes concatenated)."""
    example = _example_class()()
    feature = example.features.feature
    feature[F.DRAWING_X].float_list.value.extend(xs)
    feature[F.DRAWING_Y].float_list.value.extend(ys)
    feature[F.STROKE_LENGTHS].int64_list.value.extend(stroke_lengths)
    if word is not None:
        feature[F.WORD].bytes_list.value.append(word.encode())
    return example.SerializeToString()
