"""Parse, validate, size-normalise and delta-encode one Quick, Draw! drawing.

Pure numpy, no Beam and no TensorFlow, so that the per-drawing logic can be
unit-tested with plain pytest and runs the same on a laptop and a Dataflow
worker. The arithmetic reproduces the tutorial's `create_dataset.py` bit for bit
in float32 (see `tools.tutorial` and `tests/pipeline/test_ink.py`), only vectorised
over the whole drawing instead of looping over strokes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from itertools import chain
from typing import NamedTuple

import numpy as np
import orjson

from pipeline import features as F
from pipeline.simplify import simplify_points

DEFAULT_MAX_POINTS = 10_000
_EXTENT_OVERFLOW = "coordinates span more than float32 holds"


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
    line, and a frozen dataclass's __init__ cost 3x as much.

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


def _coords(xs: list, ys: list) -> np.ndarray:
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


def to_points(drawing: Drawing) -> np.ndarray:
    """float32 [N, 2] canvas points of one drawing, checked to be finite numbers."""
    return _coords(drawing.xs, drawing.ys).T


def pen_up_bits(stroke_lengths: list[int]) -> np.ndarray:
    """float32 [N]: 1 on the last point of each stroke, as the tutorial sets it."""
    pen_up = np.zeros(sum(stroke_lengths), dtype=np.float32)
    pen_up[np.cumsum(stroke_lengths) - 1] = 1.0
    return pen_up


def simplify_flat(
    xs: list, ys: list, lengths: list[int], max_points: int = DEFAULT_MAX_POINTS
) -> tuple[list, list, list[int]]:
    """The dataset's simplification (`pipeline.simplify`) of flattened strokes.

    For raw-format input: the values are checked first, as `to_points` checks
    them, so bad ones get their usual reason. The result has int coordinates
    in 0-255, at least two points per stroke (a dot becomes two equal points,
    as in the dataset), and is rejected past `max_points` like any drawing.
    """
    _coords(xs, ys)
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


def normalize_and_delta(points: np.ndarray, pen_up: np.ndarray) -> np.ndarray:
    """The tutorial's transform: unit bounding box, then deltas of consecutive points.

    Each axis is scaled to [0, 1] independently (an axis with no extent keeps
    scale 1), consecutive differences are taken, and each row keeps the pen-up
    bit of the later point, as `create_dataset.py` does. All in float32, in the
    same order of operations, so the result equals the tutorial's bit for bit.

    Returns:
      float32 [N-1, 3]: dx, dy, pen-up.

    Raises:
      BadDrawing: when the points span more than float32 holds (e.g. -3e38 to
        3e38): the scale would be inf and the deltas NaN.
    """
    lower = points.min(axis=0)
    with np.errstate(over="ignore"):
        scale = points.max(axis=0) - lower
    if not np.isfinite(scale).all():
        raise BadDrawing(Reason.NON_FINITE, _EXTENT_OVERFLOW)
    scale[scale == 0] = 1
    normalized = (points - lower) / scale
    ink = np.empty((points.shape[0] - 1, F.INK_CHANNELS), dtype=np.float32)
    np.subtract(normalized[1:], normalized[:-1], out=ink[:, :2])
    ink[:, 2] = pen_up[1:]
    return ink


def drawing_to_ink(drawing: Drawing) -> np.ndarray:
    """float32 [N-1, 3] ink for one drawing; BadDrawing if its values are bad."""
    return normalize_and_delta(to_points(drawing), pen_up_bits(drawing.stroke_lengths))


def encode_batch(
    drawings: list[Drawing],
) -> tuple[list[np.ndarray | None], dict[int, BadDrawing]]:
    """`drawing_to_ink` for many drawings with one numpy call per step.

    A typical drawing has ~50 points, so per-call numpy overhead dominated the
    single-drawing version; concatenating a batch amortises it. The elementwise
    float32 operations are the same, so each result is bit-identical to
    `normalize_and_delta` on that drawing alone.

    Returns:
      (inks, errors): inks[i] is drawing i's float32 [N-1, 3] ink, or None when
      its coordinates are not finite numbers, in which case errors[i] says why.
    """
    if not drawings:
        return [], {}
    errors: dict[int, BadDrawing] = {}
    try:
        coords = _coords(
            list(chain.from_iterable(d.xs for d in drawings)),
            list(chain.from_iterable(d.ys for d in drawings)),
        )
    except BadDrawing:
        # Rare: find the culprits one by one, then encode the rest in bulk.
        for i, d in enumerate(drawings):
            try:
                _coords(d.xs, d.ys)
            except BadDrawing as err:
                errors[i] = err
        good = [i for i in range(len(drawings)) if i not in errors]
        good_inks, good_errors = encode_batch([drawings[i] for i in good])
        errors.update((good[j], err) for j, err in good_errors.items())
        inks: list[np.ndarray | None] = [None] * len(drawings)
        for i, ink in zip(good, good_inks, strict=True):
            inks[i] = ink
        return inks, errors
    flat = coords.T
    lengths = np.fromiter((d.num_points for d in drawings), np.int64, len(drawings))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    lower = np.minimum.reduceat(flat, starts, axis=0)
    # A drawing spanning more than float32 holds gets no ink (see
    # `normalize_and_delta`); its overflows stay in its own rows.
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.maximum.reduceat(flat, starts, axis=0) - lower
        for i in np.flatnonzero(~np.isfinite(scale).all(axis=1)).tolist():
            errors[i] = BadDrawing(Reason.NON_FINITE, _EXTENT_OVERFLOW)
        scale[scale == 0] = 1
        owner = np.repeat(np.arange(len(drawings)), lengths)
        normalized = (flat - lower[owner]) / scale[owner]
        ink = np.empty((flat.shape[0], F.INK_CHANNELS), dtype=np.float32)
        np.subtract(normalized[1:], normalized[:-1], out=ink[1:, :2])
    ink[:, 2] = 0.0
    stroke_ends = (
        np.cumsum(list(chain.from_iterable(d.stroke_lengths for d in drawings))) - 1
    )
    ink[stroke_ends, 2] = 1.0
    # Row `start` of each drawing holds a cross-drawing delta and is dropped.
    return [
        None if i in errors else ink[s + 1 : e]
        for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True))
    ], errors


def ink_to_strokes(ink: np.ndarray) -> list[np.ndarray]:
    """Inverts the delta encoding for pictures: strokes of normalised points.

    The first point of a drawing is lost by the encoding, so strokes start at the
    origin; the shape is what people need to check the preprocessing by eye.
    """
    ink = np.asarray(ink, dtype=np.float32).reshape(-1, F.INK_CHANNELS)
    xy = np.concatenate([np.zeros((1, 2), np.float32), np.cumsum(ink[:, :2], axis=0)])
    pen = np.concatenate([[0.0], ink[:, 2]])
    ends = np.flatnonzero(pen > 0.5)
    strokes, start = [], 0
    for end in ends:
        strokes.append(xy[start : end + 1])
        start = end + 1
    if start < len(xy):
        strokes.append(xy[start:])
    return [s for s in strokes if len(s)]
