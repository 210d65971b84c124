"""Reads Quick, Draw! ndjson lines: one drawing, checked, or a reason why not.

Pure Python and numpy (orjson decodes), no Beam and no TensorFlow: the
pipeline, the prediction command line and the tools read lines with it, and
plain pytest tests it (tests/drawing/test_ndjson.py). Every way a line can
fail has a `Reason`, whose value names the pipeline's counters and error
files.

The reference of the drawing format's family of readers (docs/layout.md,
"The format family"): the batch readers `drawing.ndjson_batch` and
`drawing.binary_batch`, the `.bin` reader `drawing.binary`, the in-graph
reader `drawing.ndjson_tf` and the server's `serving.request_parser` are
faster or differently placed twins, each held to this parser (or to orjson,
whose reading this parser checks) by a test of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import orjson

from drawing import features as F
from drawing.simplify import simplify_points

DEFAULT_MAX_POINTS = 10_000
EXTENT_OVERFLOW = "coordinates span more than float32 holds"


class Reason(enum.StrEnum):
    """Why a line was rejected. The values name the Beam counters and error files."""

    NOT_UTF8 = "not_utf8"
    MALFORMED_JSON = "malformed_json"
    MISSING_WORD = "missing_word"
    UNKNOWN_WORD = "unknown_word"
    MISSING_KEY_ID = "missing_key_id"
    BAD_DRAWING = (
        "bad_drawing"  # `drawing` is missing or not a list of [xs, ys] strokes
    )
    EMPTY_DRAWING = "empty_drawing"
    UNEQUAL_XY = "unequal_xy"
    NON_NUMERIC = "non_numeric"
    NON_FINITE = "non_finite"
    SINGLE_POINT = "single_point"
    TOO_MANY_POINTS = "too_many_points"


class BadDrawing(ValueError):
    """A line that cannot become a training example; `reason` says why."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason


class Drawing(NamedTuple):
    """One structurally valid drawing with its coordinates still as parsed.

    A NamedTuple rather than a frozen dataclass: it is built once per input
    line, and a frozen dataclass's __init__ costs several times as much.

    Attributes:
      word: The class name, from the line's `word`.
      key_id: The drawing's id, kept so every record traces back to its line.
      recognized: Whether the game recognised the drawing.
      xs, ys: Canvas coordinates of every point, strokes concatenated, as the
        JSON decoder gave them; `to_points` checks that they are numbers.
      stroke_lengths: Points per non-empty stroke.
    """

    word: str
    key_id: str
    recognized: bool
    xs: list
    ys: list
    stroke_lengths: list[int]

    @property
    def num_points(self) -> int:
        return len(self.xs)


def loads(line: bytes) -> dict:
    """Decodes one ndjson line, telling bad UTF-8 apart from bad JSON."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise BadDrawing(Reason.NOT_UTF8, str(err)) from None
        raise BadDrawing(Reason.MALFORMED_JSON, str(err)) from None
    if not isinstance(record, dict):
        raise BadDrawing(Reason.MALFORMED_JSON, "line is not a JSON object")
    return record


def flatten_strokes(
    strokes: object, max_points: int = DEFAULT_MAX_POINTS
) -> tuple[list, list, list[int]]:
    """Checks the stroke structure of a `drawing` field and concatenates strokes.

    Strokes may carry a third (time) list, as the raw format does; it is ignored.
    Empty strokes are skipped: the tutorial's loop gives the same output for them.

    Returns:
      (xs, ys, stroke_lengths) as plain lists; the values are checked later, in
      bulk, by `to_points` or `encode_batch`.

    Raises:
      BadDrawing: for a field that is not a list of [xs, ys] strokes, unequal
        x and y counts, no points, one point, or more than `max_points`.
    """
    if not isinstance(strokes, list):
        raise BadDrawing(Reason.BAD_DRAWING, "drawing is not a list of strokes")
    xs: list = []
    ys: list = []
    lengths: list[int] = []
    # Hot loop: shapes are checked by the exceptions indexing raises, and the
    # values by `_coords` in bulk, which also catches strings smuggled in here.
    try:
        for stroke in strokes:
            x = stroke[0]
            y = stroke[1]
            n = len(x)
            if n != len(y):
                raise BadDrawing(Reason.UNEQUAL_XY, f"{n} x vs {len(y)} y")
            if n:
                xs += x
                ys += y
                lengths.append(n)
    except (TypeError, IndexError, KeyError) as err:
        raise BadDrawing(Reason.BAD_DRAWING, f"stroke is not [xs, ys]: {err}") from None
    n = len(xs)
    if n > max_points:
        raise BadDrawing(Reason.TOO_MANY_POINTS, f"{n} points, over {max_points}")
    if n == 0:
        raise BadDrawing(Reason.EMPTY_DRAWING)
    if n == 1:
        raise BadDrawing(Reason.SINGLE_POINT)
    return xs, ys, lengths


def coordinates(xs: list, ys: list) -> np.ndarray:
    """float32 [2, N] from decoded JSON values; BadDrawing if they are not numbers."""
    try:
        coords = np.array((xs, ys))
    except (ValueError, TypeError, OverflowError) as err:
        raise BadDrawing(Reason.NON_NUMERIC, str(err)) from None
    # 'U' (str) and 'O' (None, nested lists, huge ints) are not numbers. A JSON
    # `true` among ints passes as 1, as it would in the tutorial's numpy code.
    if coords.dtype.kind not in "iuf":
        raise BadDrawing(Reason.NON_NUMERIC, f"coordinates of type {coords.dtype}")
    if coords.ndim != 2:  # equal-shaped lists where numbers belong: [[1], [2]]
        raise BadDrawing(Reason.NON_NUMERIC, "coordinates are lists, not numbers")
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, rejected below
        coords = coords.astype(np.float32)
    if not np.isfinite(coords).all():
        raise BadDrawing(Reason.NON_FINITE)
    return coords


def checked_points(xs: list, ys: list) -> np.ndarray:
    """float32 [N, 2] points whose values and span the ink's float32 can hold."""
    coords = coordinates(xs, ys)
    with np.errstate(over="ignore"):
        span = coords.max(axis=1) - coords.min(axis=1)
    if not np.isfinite(span).all():
        raise BadDrawing(Reason.NON_FINITE, EXTENT_OVERFLOW)
    return coords.T


def simplify_flat(
    xs: list, ys: list, lengths: list[int], max_points: int = DEFAULT_MAX_POINTS
) -> tuple[list, list, list[int]]:
    """The dataset's simplification (`drawing.simplify`) of flattened strokes.

    For raw-format input: the values are checked first, as `coordinates` checks
    them, so bad ones get their usual reason. The result has int coordinates
    in 0-255, at least two points per stroke (a dot becomes two equal points,
    as in the dataset), and is rejected past `max_points` like any drawing.
    """
    coordinates(xs, ys)
    try:
        points, lengths_out = simplify_points(
            np.array((xs, ys), dtype=np.float64).T, lengths
        )
    except ValueError as err:  # past the checks above: an extent beyond float64
        raise BadDrawing(Reason.NON_FINITE, str(err)) from None
    if len(points) > max_points:
        raise BadDrawing(Reason.TOO_MANY_POINTS, f"{len(points)} points simplified")
    return points[:, 0].tolist(), points[:, 1].tolist(), lengths_out.tolist()


def parse_drawing(
    line: bytes,
    class_index: Mapping[str, int] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
    simplify: bool = False,
) -> Drawing:
    """Parses one ndjson line and checks everything but the coordinate values.

    Args:
      line: The raw bytes of one line, without the newline.
      class_index: The class set; a word outside it is bad input. None accepts
        every word (for tools that look at single files).
      max_points: Drawings with more points are rejected instead of being
        allowed to exhaust a worker's memory (raw drawings before and after
        simplification).
      simplify: Simplify the strokes as the dataset's simplified files were
        made (`simplify_flat`), for raw-format input; the values are then
        checked here already.
    """
    record = loads(line)
    word = record.get(F.WORD)
    if not isinstance(word, str) or not word:
        raise BadDrawing(Reason.MISSING_WORD)
    if class_index is not None and word not in class_index:
        raise BadDrawing(Reason.UNKNOWN_WORD, word[:100])
    key_id = record.get(F.KEY_ID)
    if isinstance(key_id, int) and not isinstance(key_id, bool):
        key_id = str(key_id)
    if not isinstance(key_id, str) or not key_id:
        raise BadDrawing(Reason.MISSING_KEY_ID)
    xs, ys, lengths = flatten_strokes(record.get(F.DRAWING), max_points)
    if simplify:
        xs, ys, lengths = simplify_flat(xs, ys, lengths, max_points)
    return Drawing(
        word=word,
        key_id=key_id,
        recognized=record.get(F.RECOGNIZED) is not False,
        xs=xs,
        ys=ys,
        stroke_lengths=lengths,
    )
