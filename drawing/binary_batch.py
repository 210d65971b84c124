"""Reads a batch of binary drawings (`drawing.binary`) at once, as `Columns`.

`binary.to_drawing` builds a Python int per coordinate, and numpy converts
them back. Here a batch's drawings are joined, one Python walk over each
drawing's stroke counts finds where its x and y bytes are, and numpy gathers
every coordinate of the batch at once. A drawing that would be rejected (an
unknown word, no point, one point, too many, counts that overrun its bytes)
is left out, and its caller asks `binary.to_drawing`, so rejects and their
reasons stay the same; a drawing taken equals `to_drawing`'s.

A twin of `binary.to_drawing` (itself a twin of the reference,
`drawing.ndjson`): tests/drawing/test_binary_batch.py holds the two equal on
generated drawings, valid and not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from drawing.binary import HEADER
from drawing.columns import Columns
from drawing.ndjson import DEFAULT_MAX_POINTS

_N_STROKES = HEADER.size - 2  # offset of n_strokes within the header
_RECOGNIZED = 10  # offset of the recognized int8


def parse_columns(
    drawings: Sequence[bytes],
    words: Sequence[str],
    class_index: Mapping[str, int] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> Columns:
    """The drawings that `binary.to_drawing` takes, as columns.

    Args:
      drawings: Each drawing's whole bytes.
      words: Each drawing's class (its file's).
      class_index, max_points: As in `binary.to_drawing`.

    Returns:
      Columns whose `index` says which drawings they are; every other one
      must be read by `binary.to_drawing`.
    """
    index, fields, points, strokes = [], [], [], []
    starts: list[int] = []  # where each stroke's x bytes are, in the joined bytes
    lengths: list[int] = []
    base = 0
    for i, (data, word) in enumerate(zip(drawings, words, strict=True)):
        known = class_index is None or word in class_index
        first = len(lengths)
        total = _walk(data, base, starts, lengths) if known else -1
        if 2 <= total <= max_points:
            index.append(i)
            recognized = b"true" if data[_RECOGNIZED] else b"false"
            key_id = str(int.from_bytes(data[:8], "little")).encode()
            fields.append((word.encode(), recognized, key_id))
            points.append(total)
            strokes.append(len(lengths) - first)
        else:
            del starts[first:], lengths[first:]
        base += len(data)
    if not index:
        return Columns.none()
    sizes = np.array(lengths, np.int64)
    begin = np.array(starts, np.int64)
    # Point k of stroke j is at begin[j] + k (x) and begin[j] + sizes[j] + k (y).
    at = np.repeat(begin - (np.cumsum(sizes) - sizes), sizes) + np.arange(sizes.sum())
    joined = np.frombuffer(b"".join(drawings), np.uint8)
    xs = joined[at].astype(np.int16)
    ys = joined[at + np.repeat(sizes, sizes)].astype(np.int16)
    return Columns(
        index, fields, xs, ys, np.array(points, np.int64),
        np.array(strokes, np.int64), sizes,
    )  # fmt: skip


def _walk(data: bytes, base: int, starts: list[int], lengths: list[int]) -> int:
    """Appends where each non-empty stroke's x bytes start (after `base`) and
    its points; returns the drawing's points, or -1 if its counts do not fill
    its bytes exactly."""
    end = len(data)
    if end < HEADER.size:
        return -1
    n_strokes = data[_N_STROKES] | data[_N_STROKES + 1] << 8
    pos, total = HEADER.size, 0
    for _ in range(n_strokes):
        if pos + 2 > end:
            return -1
        n = data[pos] | data[pos + 1] << 8
        if n:
            starts.append(base + pos + 2)
            lengths.append(n)
            total += n
        pos += 2 + 2 * n
    return total if pos == end else -1
