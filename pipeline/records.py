"""Serialises encoded drawings as the tutorial's tf.train.Example records.

The Example bytes are assembled directly in protobuf wire format (field numbers
from tensorflow/core/example/{example,feature}.proto): faster than
`example_pb2`, and no worker imports TensorFlow just to serialise
(bench/README.md has the figures). `tests/pipeline/test_records.py` holds
every byte of it against `tf.train.Example` on the real sample.
"""

from __future__ import annotations

import numpy as np

from drawing import examples
from drawing import features as F
from drawing.ndjson import Drawing


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [_varint(i) for i in range(1 << 14)]  # every length below 16 KiB

# Wire tags, (field << 3) | 2 (length-delimited): each message's field 1 is
# 0x0a (Example.features, Features.feature, MapEntry.key and every *List.value);
# MapEntry.value is 0x12; a Feature holds bytes_list 0x0a, float_list 0x12 or
# int64_list 0x1a.
_FIELD_1, _FIELD_2 = b"\x0a", b"\x12"
_BYTES_LIST, _FLOAT_LIST, _INT64_LIST = b"\x0a", b"\x12", b"\x1a"


def _delimited(tag: bytes, payload: bytes) -> bytes:
    n = len(payload)
    return tag + (_SMALL[n] if n < 16384 else _varint(n)) + payload


def _key(name: str) -> bytes:
    """A map entry's key field followed by its value tag, the same every time."""
    return _delimited(_FIELD_1, name.encode()) + _FIELD_2


_INK, _SHAPE, _CLASS, _KEY_ID, _RECOGNIZED = map(
    _key, (F.INK, F.SHAPE, F.CLASS_INDEX, F.KEY_ID, F.RECOGNIZED)
)


def _entry(key: bytes, kind: bytes, values: bytes) -> bytes:
    """One `map<string, Feature>` entry whose Feature holds one list of `kind`."""
    feature = _delimited(kind, _delimited(_FIELD_1, values))
    return _delimited(_FIELD_1, key + _delimited(b"", feature))


def _int64s(*values: int) -> bytes:
    return b"".join([_SMALL[v] if 0 <= v < 16384 else _varint(v) for v in values])


def serialize(drawing: Drawing, ink: np.ndarray, class_index: int) -> bytes:
    """The tf.train.Example bytes for one drawing and its float32 [N-1, 3] ink."""
    raw = np.ascontiguousarray(ink, dtype="<f4").tobytes()
    features = b"".join(
        (
            _entry(_INK, _FLOAT_LIST, raw),
            _entry(_SHAPE, _INT64_LIST, _int64s(ink.shape[0], ink.shape[1])),
            _entry(_CLASS, _INT64_LIST, _int64s(class_index)),
            # A BytesList repeats field 1 once per value; here there is one.
            _entry(_KEY_ID, _BYTES_LIST, drawing.key_id.encode()),
            _entry(_RECOGNIZED, _INT64_LIST, _int64s(int(drawing.recognized))),
        )
    )
    return _delimited(_FIELD_1, features)


def serialize_raw(drawing: Drawing) -> bytes:
    """The raw tf.Example of a drawing and its word, for tf.Transform's analysis."""
    return examples.raw_example(
        drawing.xs, drawing.ys, drawing.stroke_lengths, drawing.word
    )
