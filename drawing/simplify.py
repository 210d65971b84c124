"""The Quick, Draw! dataset's simplification of raw drawings: pure numpy.

Google made the simplified files, the format the model is trained on, from
the raw drawings: align to the top-left corner, scale uniformly to 0-255,
resample every stroke at 1 px, then Ramer-Douglas-Peucker at epsilon 2. The
code was never published; this module reproduces most of the sample's raw
drawings exactly as Google's lines (bench/simplify_bench.py counts them), each
choice fixed by measurement (docs/simplify.md has the notes). Simplifying a
simplified drawing again is not the identity, so callers pass simplified
drawings as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SIZE = 255  # the simplified format's largest coordinate
SPACING = 1.0  # resampling step, in pixels of the 0-255 box
EPSILON = 2.0  # RDP tolerance, in the same pixels


def simplify_strokes(strokes: Sequence) -> list[list[list[int]]]:
    """The dataset's simplification of one `drawing` field.

    Args:
      strokes: [[xs, ys], ...] or [[xs, ys, ts], ...] (times are ignored), in
        any coordinates, ints or floats.

    Returns:
      [[xs, ys], ...] of ints in 0-255, one per non-empty input stroke, each
      with at least two points.

    Raises:
      ValueError: for a field that is not a list of [xs, ys] strokes of equal
        length, or coordinates that are not finite numbers.
    """
    xs: list = []
    ys: list = []
    lengths: list[int] = []
    try:
        for stroke in strokes:
            x, y = stroke[0], stroke[1]
            if len(x) != len(y):
                raise ValueError(f"stroke with {len(x)} x and {len(y)} y values")
            xs += x
            ys += y
            lengths.append(len(x))
    except (TypeError, IndexError, KeyError) as err:
        raise ValueError(f"drawing is not a list of [xs, ys] strokes: {err}") from None
    points, new_lengths = simplify_points(as_points(xs, ys), lengths)
    if not len(new_lengths):
        return []
    bounds = np.cumsum(new_lengths)[:-1]
    return [[p[:, 0].tolist(), p[:, 1].tolist()] for p in np.split(points, bounds)]


def as_points(xs: Sequence, ys: Sequence) -> np.ndarray:
    """float64 [N, 2] from decoded JSON values; ValueError if not finite numbers."""
    try:
        coords = np.array((xs, ys))
    except (ValueError, TypeError, OverflowError) as err:
        raise ValueError(f"coordinates are not numbers: {err}") from None
    # As `drawing.ink` decides: a JSON `true` among numbers counts as 1, but
    # str, None, huge ints ('U', 'O') and lists where numbers belong do not.
    if coords.dtype.kind not in "iuf" or coords.ndim != 2:
        raise ValueError(f"coordinates are not numbers ({coords.dtype})")
    coords = coords.astype(np.float64).T
    if not np.isfinite(coords).all():
        raise ValueError("coordinates are not finite")
    return coords


def simplify_points(
    points: np.ndarray, stroke_lengths: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The dataset's simplification of strokes given as concatenated points.

    Args:
      points: [N, 2] finite x, y of every point, strokes one after another.
      stroke_lengths: points per stroke; zeros (empty strokes) are dropped.

    Returns:
      (int64 [M, 2] points in 0-255, int64 points per kept stroke, each >= 2).

    Raises:
      ValueError: for non-finite points, lengths that do not add up to N, or
        an extent too wide for float64 (beyond ~1.8e308).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    lengths = np.asarray(stroke_lengths, dtype=np.int64).reshape(-1)
    if (lengths < 0).any() or lengths.sum() != len(points):
        raise ValueError(f"stroke lengths add up to {lengths.sum()}, not {len(points)}")
    if not np.isfinite(points).all():
        raise ValueError("coordinates are not finite")
    lengths = lengths[lengths > 0]
    if not len(lengths):
        return np.zeros((0, 2), np.int64), lengths
    samples, sample_lengths = _candidate_samples(_fit_box(points), lengths)
    keep = _rdp_keep(samples, sample_lengths, EPSILON)
    starts = np.cumsum(sample_lengths) - sample_lengths
    new_lengths = np.add.reduceat(keep, starts).astype(np.int64)
    return np.rint(samples[keep]).astype(np.int64), new_lengths


def _fit_box(points: np.ndarray) -> np.ndarray:
    """Steps 1-2: minimum at 0, the longer axis scaled to span 0..SIZE."""
    lower = points.min(axis=0)
    extent = float((points.max(axis=0) - lower).max())
    if not np.isfinite(extent):
        raise ValueError("coordinates span more than float64 can hold")
    if extent == 0:  # one spot: nothing to scale
        return points - lower
    return (points - lower) * SIZE / extent


def _stroke_arcs(points: np.ndarray, lengths: np.ndarray):
    """Per segment (start point index, length) and per point its arc position.

    Each stroke's arc starts at 0 and is summed stroke by stroke, so the values
    do not depend on the strokes before it.
    """
    ends = np.cumsum(lengths)
    starts = ends - lengths
    within = np.ones(len(points) - 1, dtype=bool)
    within[ends[:-1] - 1] = False  # the step from one stroke to the next
    seg_start = np.flatnonzero(within)
    seg_len = np.hypot(*(points[seg_start + 1] - points[seg_start]).T)
    arc = np.zeros(len(points))
    bounds = np.cumsum(lengths - 1)[:-1]
    for s, part in zip(starts, np.split(seg_len, bounds), strict=True):
        arc[s + 1 : s + 1 + len(part)] = np.cumsum(part)
    return seg_start, seg_len, arc, starts, ends


def _candidate_samples(
    points: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Step 3, reduced to what RDP can keep: the samples RDP might choose.

    A stroke's samples lie at arc positions 0, 1, 2, ... (< its length) and at
    its end. Kept: its first and last point, and on each segment the first and
    last sample strictly inside the stroke, in stroke order.
    """
    seg_start, seg_len, arc, starts, ends = _stroke_arcs(points, lengths)
    a0, a1 = arc[seg_start], arc[seg_start + 1]
    first = np.maximum(np.ceil(a0 / SPACING), 1.0)  # arc 0 is the first point
    last = np.ceil(a1 / SPACING) - 1.0  # the samples before the segment's end
    has = first <= last  # zero-length segments hold none
    two = has & (last > first)
    seg = np.concatenate([seg_start[has], seg_start[two]])
    step = np.concatenate([first[has], last[two]])
    t = (step * SPACING - arc[seg]) / np.concatenate([seg_len[has], seg_len[two]])
    inner = points[seg] + t[:, None] * (points[seg + 1] - points[seg])
    samples = np.concatenate([points[starts], inner, points[ends - 1]])
    # Stroke order by one integer key per sample: 4 * point index, +1 for the
    # first and +2 for the last sample of the segment from that point, +3 for
    # the stroke's last point (after its segments, before the next stroke).
    keys = np.concatenate(
        [4 * starts, 4 * seg_start[has] + 1, 4 * seg_start[two] + 2, 4 * ends - 1]
    )
    counts = 2 + np.bincount(
        np.searchsorted(ends, seg, side="right"), minlength=len(lengths)
    )
    return samples[np.argsort(keys, kind="stable")], counts


def _rdp_keep(points: np.ndarray, lengths: np.ndarray, epsilon: float) -> np.ndarray:
    """Step 4: RDP on every stroke; a bool mask of the kept points.

    An explicit stack of intervals, each measured in one vectorised pass
    (docs/simplify.md says why not level by level).
    """
    ends = np.cumsum(lengths)
    keep = np.zeros(len(points), dtype=bool)
    keep[ends - lengths] = keep[ends - 1] = True
    x, y = points[:, 0], points[:, 1]
    todo = list(zip((ends - lengths).tolist(), (ends - 1).tolist(), strict=True))
    while todo:
        a, b = todo.pop()
        if b - a < 2:
            continue
        dx, dy = float(x[b] - x[a]), float(y[b] - y[a])
        rx, ry = x[a + 1 : b] - x[a], y[a + 1 : b] - y[a]
        length = math.hypot(dx, dy)
        # The distance to the line through a and b, or to a where b is a too.
        dist = np.abs(dx * ry - dy * rx) / length if length else np.hypot(rx, ry)
        i = int(dist.argmax())  # the first farthest point
        if dist[i] > epsilon:
            keep[a + 1 + i] = True
            todo += [(a, a + 1 + i), (a + 1 + i, b)]
    return keep
