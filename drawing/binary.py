"""Google's binary Quick, Draw! files (`<class>.bin`): where drawings start, and each
one read as its ndjson line is.

The layout of googlecreativelab/quickdraw-dataset's
`examples/binary_file_parser.py`, every field little-endian: key_id uint64,
countrycode 2 bytes, recognized int8, timestamp uint32 (Unix seconds), n_strokes
uint16, then per stroke n_points uint16, n_points x bytes, n_points y bytes.
The file holds no word: the class comes from the file name, as for ndjson.

Framework-free (struct, no numpy), so the pipeline and plain pytest share it;
the tests write `.bin` files with `tests.synthetic.pack`. A drawing becomes
the same `drawing.ndjson.Drawing`, with the same checks and reasons, as the
ndjson line of that drawing (`to_drawing`): a twin of the reference,
`drawing.ndjson`, held to it by tests/drawing/test_binary.py on generated
drawings and every real one.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import NamedTuple

from drawing import ndjson
from drawing.ndjson import BadDrawing, Drawing, Reason

# key_id, countrycode, recognized, timestamp, n_strokes
HEADER = struct.Struct("<Q2sbIH")
_N_STROKES = HEADER.size - 2  # offset of n_strokes within the header
_U16 = struct.Struct("<H")
TRUNCATED = "truncated"  # the bytes end inside a drawing
CORRUPT = "corrupt"  # a drawing whose fields no real file holds


class Problem(NamedTuple):
    """Why a walk stopped before the end: TRUNCATED or CORRUPT, and a detail."""

    kind: str
    detail: str


def drawing_end(data: bytes, offset: int) -> int | Problem:
    """Where the drawing that starts at `offset` ends, or why it cannot.

    Reads only the counts and skips the points, so a planner walks a file at
    the speed of its stroke count. A recognized byte other than 0 or 1 means the
    walk has lost step with the drawings (a corrupt count upstream): CORRUPT.
    """
    size = len(data)
    if offset + HEADER.size > size:
        return Problem(TRUNCATED, f"{size - offset} bytes left, a header needs 17")
    if data[offset + 10] not in (0, 1):
        return Problem(CORRUPT, f"recognized byte is {data[offset + 10]}, not 0 or 1")
    (n_strokes,) = _U16.unpack_from(data, offset + _N_STROKES)
    pos = offset + HEADER.size
    for stroke in range(n_strokes):
        if pos + 2 > size:
            return Problem(TRUNCATED, f"ends in stroke {stroke + 1} of {n_strokes}")
        pos += 2 + 2 * _U16.unpack_from(data, pos)[0]
    if pos > size:
        return Problem(TRUNCATED, f"ends in the last of {n_strokes} strokes")
    return pos


def scan(
    data: bytes, offset: int = 0, end: int | None = None
) -> tuple[list[int], int, Problem | None]:
    """The drawings of data[offset:end]: their starts, where the walk stopped,
    and why it stopped early (None when every drawing fits)."""
    end = len(data) if end is None else end
    view = data if end == len(data) else data[:end]
    starts: list[int] = []
    append = starts.append
    # Hot loop (the planner walks every drawing): `drawing_end` without its
    # checks, which an IndexError or a bad byte hands back to it for the reason.
    while offset < end:
        pos = offset + HEADER.size
        try:
            for _ in range(view[offset + 15] | view[offset + 16] << 8):
                pos += 2 + 2 * (view[pos] | view[pos + 1] << 8)
        except IndexError:
            break
        if pos > end or view[offset + 10] > 1:
            break
        append(offset)
        offset = pos
    if offset < end:
        problem = drawing_end(view, offset)
        assert isinstance(problem, Problem), (offset, problem)
        return starts, offset, problem
    return starts, offset, None


def to_drawing(
    data: bytes,
    word: str,
    class_index: Mapping[str, int] | None = None,
    max_points: int = ndjson.DEFAULT_MAX_POINTS,
    simplify: bool = False,
) -> Drawing:
    """One whole drawing's bytes as `ndjson.parse_drawing` gives its ndjson line.

    The same checks in the same order and with the same reasons: the word
    (here the file's class), then the points (empty strokes skipped; none,
    one, or more than `max_points` rejected). key_id is the uint64 in decimal,
    as the ndjson files write it; recognized is the int8 != 0.
    """
    if class_index is not None and word not in class_index:
        raise BadDrawing(Reason.UNKNOWN_WORD, word[:100])
    # Hot path: a slice per stroke and one list per axis; no struct calls.
    n_strokes = data[_N_STROKES] | data[_N_STROKES + 1] << 8
    x_parts, y_parts, lengths = [], [], []
    pos = HEADER.size
    for _ in range(n_strokes):
        n = data[pos] | data[pos + 1] << 8
        if n:
            mid = pos + 2 + n
            x_parts.append(data[pos + 2 : mid])
            y_parts.append(data[mid : mid + n])
            lengths.append(n)
        pos += 2 + 2 * n
    xs: list = list(b"".join(x_parts))
    ys: list = list(b"".join(y_parts))
    n = len(xs)
    if n > max_points:
        raise BadDrawing(Reason.TOO_MANY_POINTS, f"{n} points, over {max_points}")
    if n == 0:
        raise BadDrawing(Reason.EMPTY_DRAWING)
    if n == 1:
        raise BadDrawing(Reason.SINGLE_POINT)
    if simplify:
        xs, ys, lengths = ndjson.simplify_flat(xs, ys, lengths, max_points)
    return Drawing(
        word=word,
        key_id=str(int.from_bytes(data[:8], "little")),
        recognized=data[10] != 0,
        xs=xs,
        ys=ys,
        stroke_lengths=lengths,
    )
