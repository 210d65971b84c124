"""Serialises encoded drawings as the tutorial's tf.train.Example records.

The ink goes in as one packed FloatList parsed from raw little-endian float32
bytes, which protobuf decodes in C; filling `float_list.value` from a numpy
array instead iterates in Python and made serialisation the slowest step of the
per-drawing path (see bench/README.md).
"""

from __future__ import annotations

import functools

import numpy as np

from pipeline import features as F
from pipeline.ink import Drawing

_PACKED_VALUES_TAG = b"\x0a"  # FloatList.value: field 1, wire type 2 (packed)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


@functools.cache
def _example_class():
    """tf.train.Example, imported on first use: importing TensorFlow costs ~4 s,
    which the launcher process, which never serialises, should not pay."""
    from tensorflow.core.example import example_pb2

    return example_pb2.Example


def serialize(drawing: Drawing, ink: np.ndarray, class_index: int) -> bytes:
    """The tf.train.Example bytes for one drawing and its float32 [N-1, 3] ink."""
    example = _example_class()()
    feature = example.features.feature
    raw = np.ascontiguousarray(ink, dtype="<f4").tobytes()
    feature[F.INK].float_list.MergeFromString(
        _PACKED_VALUES_TAG + _varint(len(raw)) + raw
    )
    feature[F.SHAPE].int64_list.value.extend(ink.shape)
    feature[F.CLASS_INDEX].int64_list.value.append(class_index)
    feature[F.KEY_ID].bytes_list.value.append(drawing.key_id.encode())
    feature[F.RECOGNIZED].int64_list.value.append(int(drawing.recognized))
    return example.SerializeToString()


def serialize_raw(drawing: Drawing) -> bytes:
    """The raw tf.Example that tf.Transform and the serving signature read.

    Strokes as `pipeline.ink_tf.raw_feature_spec` describes them: every point's
    x and y in drawing order plus the points per stroke, and the class word.
    """
    example = _example_class()()
    feature = example.features.feature
    feature["drawing_x"].float_list.value.extend(drawing.xs)
    feature["drawing_y"].float_list.value.extend(drawing.ys)
    feature["stroke_lengths"].int64_list.value.extend(drawing.stroke_lengths)
    feature["word"].bytes_list.value.append(drawing.word.encode())
    return example.SerializeToString()
