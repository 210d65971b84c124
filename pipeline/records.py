"""Serialises encoded drawings as the tutorial's tf.train.Example records.

The Example bytes are assembled directly in protobuf wire format (field numbers
from tensorflow/core/example/{example,feature}.proto): faster than
`example_pb2`, and no worker imports TensorFlow just to serialise
(bench/README.md has the figures). Every part but the ink and the key_id is
one of a few byte strings, built once and looked up by its length or value.

Twins of `tf.train.Example`: tests/pipeline/test_records.py parses every
record of the real sample back with TensorFlow and holds each field equal to
the tutorial's record built with `tf.train.Example` (`tests.synthetic.example`),
and each raw Example (`serialize_raw`) equal to `drawing.raw_example`'s.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from itertools import chain

import google_crc32c
import numpy as np

from drawing import features as F
from drawing.ndjson import Drawing


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# Wire tags, (field << 3) | 2 (length-delimited): each message's field 1 is
# 0x0a (Example.features, Features.feature, MapEntry.key and every *List.value);
# MapEntry.value is 0x12; a Feature holds bytes_list 0x0a, float_list 0x12 or
# int64_list 0x1a.
_FIELD_1, _FIELD_2 = b"\x0a", b"\x12"
_BYTES_LIST, _FLOAT_LIST, _INT64_LIST = b"\x0a", b"\x12", b"\x1a"


_SMALL = [_varint(i) for i in range(1 << 14)]  # every length below 16 KiB


def _delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


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


def _head(key: bytes, kind: bytes, size: int) -> bytes:
    """The bytes of `_entry(key, kind, values)` before `values` of `size` bytes."""
    return _entry(key, kind, b"\0" * size)[:-size] if size else _entry(key, kind, b"")


def _int64_entry(key: bytes, *values: int) -> bytes:
    return _entry(key, _INT64_LIST, b"".join(map(_varint, values)))


class _Table(dict):
    """Byte strings by key, each built by `make` on first use and kept: a
    plain dict lookup costs a quarter of a `functools.cache` call's."""

    def __init__(self, make) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key):
        value = self[key] = self._make(key)
        return value


_X_HEAD = _Table(lambda size: _head(_key(F.DRAWING_X), _FLOAT_LIST, size))
_Y_HEAD = _Table(lambda size: _head(_key(F.DRAWING_Y), _FLOAT_LIST, size))
_LENGTHS_HEAD = _Table(lambda size: _head(_key(F.STROKE_LENGTHS), _INT64_LIST, size))
_WORD_HEAD = _Table(lambda size: _head(_key(F.WORD), _BYTES_LIST, size))
_INK_HEAD = _Table(lambda size: _head(_INK, _FLOAT_LIST, size))
_KEY_HEAD = _Table(lambda size: _head(_KEY_ID, _BYTES_LIST, size))
ROW_BYTES = 4 * F.INK_CHANNELS  # bytes of one float32 ink row
# By the ink's rows: its shape is [rows, 3].
_SHAPE_ENTRY = _Table(lambda rows: _int64_entry(_SHAPE, rows, F.INK_CHANNELS))
_CLASS_ENTRY = _Table(lambda index: _int64_entry(_CLASS, index))
_RECOGNIZED_ENTRY = (_int64_entry(_RECOGNIZED, 0), _int64_entry(_RECOGNIZED, 1))
_F4 = np.dtype("<f4")


def raw_ink(ink: np.ndarray) -> bytes:
    """An ink array's bytes as `serialize_many` takes them."""
    if ink.dtype == _F4:  # tobytes() is C order whatever the strides
        return ink.tobytes()
    return np.ascontiguousarray(ink, dtype=_F4).tobytes()


def serialize_many(
    inks: Iterable[bytes | memoryview],
    key_ids: Iterable[bytes],
    recognized: Iterable[bool],
    class_indices: Iterable[int],
) -> list[bytes]:
    """The tf.train.Example bytes of many drawings, each ink given as its
    float32 bytes (little-endian, [N-1, 3] in C order): one loop of lookups
    and joins."""
    ink_head, shape, class_entry = _INK_HEAD, _SHAPE_ENTRY, _CLASS_ENTRY
    key_head, small, flag = _KEY_HEAD, _SMALL, _RECOGNIZED_ENTRY
    out = []
    for raw, key, r, c in zip(inks, key_ids, recognized, class_indices, strict=True):
        n = len(raw)
        features = b"".join(
            (
                ink_head[n],
                raw,
                shape[n // ROW_BYTES],
                class_entry[c],
                # A BytesList repeats field 1 once per value; here there is one.
                key_head[len(key)],
                key,
                flag[r],
            )
        )
        n = len(features)
        out.append(_FIELD_1 + (small[n] if n < 16384 else _varint(n)) + features)
    return out


def _masked_crcs(parts: Sequence[bytes]) -> np.ndarray:
    """TFRecord's masked CRC-32C of each part, as little-endian uint32."""
    crcs = np.fromiter(map(google_crc32c.value, parts), np.uint32, len(parts))
    masked = ((crcs >> 15) | (crcs << 17)) + np.uint32(0xA282EAD8)  # wraps mod 2**32
    return masked.astype("<u4", copy=False)


def _frame_head_of(size: int) -> bytes:
    length = struct.pack("<Q", size)
    return length + _masked_crcs([length]).tobytes()


_FRAME_HEAD = _Table(_frame_head_of)


def tfrecords(records: Sequence[bytes]) -> bytes:
    """The records in TFRecord framing, joined: each one's length, its masked
    CRC-32C, the data and its masked CRC-32C."""
    tails = _masked_crcs(records).view("V4").tolist()  # 4 bytes each
    heads = map(_FRAME_HEAD.__getitem__, map(len, records))
    return b"".join(chain.from_iterable(zip(heads, records, tails, strict=True)))


def serialize_raw(drawing: Drawing) -> bytes:
    """The raw tf.Example of a drawing and its word, for tf.Transform's analysis:
    `drawing.raw_example.raw_example`'s message, assembled as bytes (faster:
    bench/README.md)."""
    # Through float64, as protobuf converts Python numbers to float.
    xs = np.asarray(drawing.xs, np.float64).astype(_F4).tobytes()
    ys = np.asarray(drawing.ys, np.float64).astype(_F4).tobytes()
    lengths = b"".join([_varint(n) for n in drawing.stroke_lengths])
    word = drawing.word.encode()
    features = b"".join(
        (
            _X_HEAD[len(xs)],
            xs,
            _Y_HEAD[len(ys)],
            ys,
            _LENGTHS_HEAD[len(lengths)],
            lengths,
            _WORD_HEAD[len(word)],
            word,
        )
    )
    return _delimited(_FIELD_1, features)
