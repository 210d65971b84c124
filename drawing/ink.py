"""Size-normalises and delta-encodes drawings into the tutorial's ink.

Pure numpy, no Beam and no TensorFlow, so the per-drawing arithmetic is
tested with plain pytest and runs the same on a laptop and a Dataflow worker.
It reproduces the tutorial's `create_dataset.py` bit for bit in float32 (see
`tools.tutorial` and `tests/drawing/test_ink.py`), vectorised over whole
drawings and batches instead of looping over strokes. `drawing.ink_tf` is its
TensorFlow twin.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from drawing import features as F
from drawing.ndjson import EXTENT_OVERFLOW, BadDrawing, Drawing, Reason, coordinates


def to_points(drawing: Drawing) -> np.ndarray:
    """float32 [N, 2] canvas points of one drawing, checked to be finite numbers."""
    return coordinates(drawing.xs, drawing.ys).T


def pen_up_bits(stroke_lengths: list[int]) -> np.ndarray:
    """float32 [N]: 1 on the last point of each stroke, as the tutorial sets it."""
    pen_up = np.zeros(sum(stroke_lengths), dtype=np.float32)
    pen_up[np.cumsum(stroke_lengths) - 1] = 1.0
    return pen_up


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
        raise BadDrawing(Reason.NON_FINITE, EXTENT_OVERFLOW)
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
    try:
        coords = _batch_coordinates(drawings)
    except BadDrawing:
        return _encode_around_bad_values(drawings)
    lengths = np.fromiter(map(len, (d.xs for d in drawings)), np.int64, len(drawings))
    strokes = [d.stroke_lengths for d in drawings]
    if all(type(s) is np.ndarray for s in strokes):  # from `drawing.ndjson_batch`
        stroke_lengths = np.concatenate(strokes)
    else:
        stroke_lengths = np.fromiter(chain.from_iterable(strokes), np.int64)
    ink, starts, bad = _encode_flat(coords, lengths, stroke_lengths)
    ends = starts + lengths
    # Row `start` of each drawing holds a cross-drawing delta and is dropped.
    inks = [ink[s:e] for s, e in zip((starts + 1).tolist(), ends.tolist(), strict=True)]
    errors = {i: BadDrawing(Reason.NON_FINITE, EXTENT_OVERFLOW) for i in bad}
    for i in errors:
        inks[i] = None
    return inks, errors


def encode_columns(
    xs: np.ndarray, ys: np.ndarray, points: np.ndarray, stroke_lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`encode_batch` for drawings given as columns (`drawing.columns.Columns`).

    Their coordinates are int16, so every extent is finite and no drawing fails.

    Returns:
      (ink, starts): float32 [sum(points), 3]; drawing j's ink is the rows from
      starts[j] + 1 to starts[j] + points[j], as one block of bytes.
    """
    coords = np.empty((2, len(xs)), np.float32)
    coords[0], coords[1] = xs, ys
    ink, starts, _ = _encode_flat(coords, points, stroke_lengths)
    return ink, starts


def _encode_flat(
    coords: np.ndarray, lengths: np.ndarray, stroke_lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The ink of drawings concatenated in `coords` (float32 [2, N], scaled in
    place), each drawing's first row, and the drawings too wide for float32."""
    ends = np.cumsum(lengths)
    starts = ends - lengths
    lower = np.minimum.reduceat(coords, starts, axis=1)
    # A drawing spanning more than float32 holds gets no ink (see
    # `normalize_and_delta`); its overflows stay in its own rows.
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.maximum.reduceat(coords, starts, axis=1) - lower
        bad = np.flatnonzero(~np.isfinite(scale).all(axis=0)).tolist()
        scale[scale == 0] = 1
        coords -= np.repeat(lower, lengths, axis=1)
        coords /= np.repeat(scale, lengths, axis=1)
        ink = np.empty((coords.shape[1], F.INK_CHANNELS), dtype=np.float32)
        np.subtract(coords[:, 1:], coords[:, :-1], out=ink[1:, :2].T)
    ink[:, 2] = 0.0
    ink[np.cumsum(stroke_lengths) - 1, 2] = 1.0
    return ink, starts, bad


def _batch_coordinates(drawings: list[Drawing]) -> np.ndarray:
    """float32 [2, N] of every drawing's points; BadDrawing if a value is bad.

    `drawing.ndjson_batch` gives int16 arrays, which are numbers already and
    convert to float32 as numpy's int64 of the same values does.
    """
    xs = [d.xs for d in drawings]
    if all(type(x) is np.ndarray for x in xs):
        coords = np.empty((2, sum(map(len, xs))), np.float32)
        np.concatenate(xs, out=coords[0], casting="unsafe")
        np.concatenate([d.ys for d in drawings], out=coords[1], casting="unsafe")
        return coords
    lists = [_as_lists(d) if type(d.xs) is np.ndarray else d for d in drawings]
    return coordinates(
        list(chain.from_iterable(d.xs for d in lists)),
        list(chain.from_iterable(d.ys for d in lists)),
    )


def _as_lists(drawing: Drawing) -> Drawing:
    return drawing._replace(xs=drawing.xs.tolist(), ys=drawing.ys.tolist())


def _encode_around_bad_values(
    drawings: list[Drawing],
) -> tuple[list[np.ndarray | None], dict[int, BadDrawing]]:
    """`encode_batch` for a batch with bad values: rare, so the culprits are
    found one by one, then the rest is encoded in bulk."""
    errors: dict[int, BadDrawing] = {}
    for i, d in enumerate(drawings):
        try:
            coordinates(d.xs, d.ys)
        except BadDrawing as err:
            errors[i] = err
    good = [i for i in range(len(drawings)) if i not in errors]
    good_inks, good_errors = encode_batch([drawings[i] for i in good])
    errors.update((good[j], err) for j, err in good_errors.items())
    inks: list[np.ndarray | None] = [None] * len(drawings)
    for i, ink in zip(good, good_inks, strict=True):
        inks[i] = ink
    return inks, errors


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
