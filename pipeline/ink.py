"""Parse, validate, size-normalise and delta-encode one Quick, Draw! drawing.

Pure numpy, no Beam and no TensorFlow, so that the per-drawing logic can be
unit-tested with plain pytest and runs the same on a laptop and a Dataflow
worker. The arithmetic reproduces the tutorial's `create_dataset.py` bit for bit
in float32 (see `pipeline.reference` and `tests/test_ink.py`), only vectorised
over the whole drawing instead of looping over strokes.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

import numpy as np
import orjson

DEFAULT_MAX_POINTS = 10_000


class Reason(enum.StrEnum):
    """Why a line was rejected. The values name the Beam counters and error files."""

    NOT_UTF8 = "not_utf8"
    MALFORMED_JSON = "malformed_json"
    MISSING_WORD = "missing_word"
    UNKNOWN_WORD = "unknown_word"
    MISSING_KEY_ID = "missing_key_id"
    BAD_DRAWING = "bad_drawing"  # `drawing` is missing or not a list of [xs, ys] strokes
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


@dataclasses.dataclass(frozen=True, slots=True)
class Drawing:
    """One validated drawing with its points still in canvas coordinates.

    Attributes:
      word: The class name, from the line's `word`.
      key_id: The drawing's id, kept so every record traces back to its line.
      countrycode: Two-letter country code, empty when absent.
      recognized: Whether the game recognised the drawing.
      points: float32 [N, 2] canvas x, y of every point, strokes concatenated.
      pen_up: float32 [N], 1 on the last point of each stroke.
    """

    word: str
    key_id: str
    countrycode: str
    recognized: bool
    points: np.ndarray
    pen_up: np.ndarray

    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])


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


def strokes_to_points(
    strokes: object, max_points: int = DEFAULT_MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Validates a `drawing` field and flattens it to points and pen-up bits.

    Strokes may carry a third (time) list, as the raw format does; it is ignored.
    Empty strokes are skipped: the tutorial's loop gives the same output for them.

    Returns:
      (points float32 [N, 2], pen_up float32 [N]).

    Raises:
      BadDrawing: for every way the field can be unusable.
    """
    if not isinstance(strokes, list):
        raise BadDrawing(Reason.BAD_DRAWING, "drawing is not a list of strokes")
    xs: list = []
    ys: list = []
    lengths: list[int] = []
    for stroke in strokes:
        if not isinstance(stroke, list) or len(stroke) < 2:
            raise BadDrawing(Reason.BAD_DRAWING, "stroke is not [xs, ys]")
        x, y = stroke[0], stroke[1]
        if not isinstance(x, list) or not isinstance(y, list):
            raise BadDrawing(Reason.BAD_DRAWING, "stroke coordinates are not lists")
        if len(x) != len(y):
            raise BadDrawing(Reason.UNEQUAL_XY, f"{len(x)} x vs {len(y)} y")
        if x:
            xs.extend(x)
            ys.extend(y)
            lengths.append(len(x))
            if len(xs) > max_points:
                raise BadDrawing(Reason.TOO_MANY_POINTS, f"over {max_points}")
    n = len(xs)
    if n == 0:
        raise BadDrawing(Reason.EMPTY_DRAWING)
    if n == 1:
        raise BadDrawing(Reason.SINGLE_POINT)
    try:
        coords = np.array((xs, ys))
    except (ValueError, TypeError, OverflowError) as err:
        raise BadDrawing(Reason.NON_NUMERIC, str(err)) from None
    # 'b' (bool), 'U' (str) and 'O' (None, nested, huge ints) are not coordinates.
    if coords.dtype.kind not in "iuf":
        raise BadDrawing(Reason.NON_NUMERIC, f"coordinates of type {coords.dtype}")
    points = coords.astype(np.float32).T
    if not np.isfinite(points).all():
        raise BadDrawing(Reason.NON_FINITE)
    pen_up = np.zeros(n, dtype=np.float32)
    pen_up[np.cumsum(lengths) - 1] = 1.0
    return points, pen_up


def parse_drawing(
    line: bytes,
    class_index: Mapping[str, int] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> Drawing:
    """Parses and validates one ndjson line.

    Args:
      line: The raw bytes of one line, without the newline.
      class_index: The class set; a word outside it is bad input. None accepts
        every word (for tools that look at single files).
      max_points: Drawings with more points are rejected instead of being
        allowed to exhaust a worker's memory.
    """
    record = loads(line)
    word = record.get("word")
    if not isinstance(word, str) or not word:
        raise BadDrawing(Reason.MISSING_WORD)
    if class_index is not None and word not in class_index:
        raise BadDrawing(Reason.UNKNOWN_WORD, word[:100])
    key_id = record.get("key_id")
    if isinstance(key_id, int) and not isinstance(key_id, bool):
        key_id = str(key_id)
    if not isinstance(key_id, str) or not key_id:
        raise BadDrawing(Reason.MISSING_KEY_ID)
    points, pen_up = strokes_to_points(record.get("drawing"), max_points)
    countrycode = record.get("countrycode")
    return Drawing(
        word=word,
        key_id=key_id,
        countrycode=countrycode if isinstance(countrycode, str) else "",
        recognized=record.get("recognized") is not False,
        points=points,
        pen_up=pen_up,
    )


def normalize_and_delta(points: np.ndarray, pen_up: np.ndarray) -> np.ndarray:
    """The tutorial's transform: unit bounding box, then deltas of consecutive points.

    Each axis is scaled to [0, 1] independently (an axis with no extent keeps
    scale 1), consecutive differences are taken, and each row keeps the pen-up
    bit of the later point, as `create_dataset.py` does. All in float32, in the
    same order of operations, so the result equals the tutorial's bit for bit.

    Returns:
      float32 [N-1, 3]: dx, dy, pen-up.
    """
    lower = points.min(axis=0)
    scale = points.max(axis=0) - lower
    scale[scale == 0] = 1
    normalized = (points - lower) / scale
    ink = np.empty((points.shape[0] - 1, 3), dtype=np.float32)
    np.subtract(normalized[1:], normalized[:-1], out=ink[:, :2])
    ink[:, 2] = pen_up[1:]
    return ink


def drawing_to_ink(drawing: Drawing) -> np.ndarray:
    """float32 [N-1, 3] ink for a validated drawing."""
    return normalize_and_delta(drawing.points, drawing.pen_up)


def ink_to_strokes(ink: np.ndarray) -> list[np.ndarray]:
    """Inverts the delta encoding for pictures: strokes of normalised points.

    The first point of a drawing is lost by the encoding, so strokes start at the
    origin; the shape is what people need to check the preprocessing by eye.
    """
    ink = np.asarray(ink, dtype=np.float32).reshape(-1, 3)
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
