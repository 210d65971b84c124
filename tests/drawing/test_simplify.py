"""The dataset's simplification (`drawing.simplify`) and the pipeline's --simplify.

Against a plain reference (every 1 px sample built, RDP one interval at a
time), on hypothesis strokes, and on the real sample: simplified drawings drawn
densely on a 1000 px canvas, the simplified drawings themselves, and the raw
drawings of raw_extra/. The shares asserted were measured on the same subsets
(figures in the comments); the module docs of `drawing.simplify` give the
shares on the whole sample and against Google's own output.
"""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawing import ndjson
from drawing.simplify import SIZE, simplify_strokes
from tests.shared_data import requires_sample
from tools import sample

HALF_DIAGONAL = math.sqrt(0.5)  # how far rounding moves a point


def fit(strokes: list) -> list[np.ndarray]:
    """Steps 1-2 written plainly: float [n, 2] strokes in the 0-255 box."""
    points = [np.asarray(s[:2], dtype=float).T for s in strokes if len(s[0])]
    every = np.concatenate(points)
    lower = every.min(axis=0)
    extent = (every.max(axis=0) - lower).max()
    return [(p - lower) * SIZE / extent if extent else p - lower for p in points]


def rdp_mask(p: np.ndarray, epsilon: float = 2.0) -> np.ndarray:
    """Textbook RDP (line distance, first farthest point), one interval at a time."""
    keep = np.zeros(len(p), dtype=bool)
    keep[[0, -1]] = True
    todo = [(0, len(p) - 1)]
    while todo:
        a, b = todo.pop()
        if b - a < 2:
            continue
        d, r = p[b] - p[a], p[a + 1 : b] - p[a]
        length = np.hypot(*d)
        dist = (
            np.abs(d[0] * r[:, 1] - d[1] * r[:, 0]) / length
            if length
            else np.hypot(r[:, 0], r[:, 1])
        )
        i = a + 1 + int(np.argmax(dist))
        if dist[i - a - 1] > epsilon:
            keep[i] = True
            todo += [(a, i), (i, b)]
    return keep


def reference(strokes: list) -> list[list[list[int]]]:
    """Steps 1-4 the slow way: every sample at 1 px of arc length, then RDP."""
    out = []
    for p in fit(strokes):
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
        at = np.append(np.arange(0.0, arc[-1], 1.0), arc[-1])
        if not arc[-1]:
            at = np.zeros(2)
        s = np.stack([np.interp(at, arc, p[:, 0]), np.interp(at, arc, p[:, 1])], 1)
        q = np.rint(s[rdp_mask(s)]).astype(int)
        out.append([q[:, 0].tolist(), q[:, 1].tolist()])
    return out


def random_walks(rng: np.random.Generator) -> list:
    strokes = []
    for _ in range(rng.integers(1, 6)):
        n = int(rng.integers(1, 80))
        steps = rng.normal(0, rng.uniform(1, 40), (n, 2))
        p = np.cumsum(steps, axis=0) + rng.uniform(-500, 500, 2)
        strokes.append([p[:, 0].tolist(), p[:, 1].tolist()])
    return strokes


def distance_to_polyline(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Each point's distance to the polyline `line` (one point: to that point)."""
    if len(line) == 1:
        line = np.concatenate([line, line])
    a, d = line[:-1], np.diff(line, axis=0)
    length2 = (d * d).sum(axis=1)
    rel = points[:, None, :] - a[None]
    t = np.clip((rel * d).sum(axis=2) / np.where(length2 > 0, length2, 1), 0, 1)
    return np.hypot(*(rel - t[..., None] * d).transpose(2, 0, 1)).min(axis=1)


def drawings(directory=sample.SAMPLE, every: int = 1) -> list:
    return [orjson.loads(x)["drawing"] for x in sample.all_lines(directory)[::every]]


def draw_densely(strokes: list, rng: np.random.Generator) -> list:
    """A simplified drawing as a canvas gives it: 1000 px, points <= 1 px apart."""
    out = []
    offset = rng.uniform(-500, 500, 2)
    for xs, ys in strokes:
        p = np.array([xs, ys], dtype=float).T * (1000 / SIZE) + offset
        parts = [p[:1]]
        for a, b in zip(p[:-1], p[1:], strict=True):
            n = max(math.ceil(np.hypot(*(b - a))), 1)
            parts.append(a + (np.arange(1, n + 1) / n)[:, None] * (b - a))
        p = np.concatenate(parts)
        out.append([p[:, 0].tolist(), p[:, 1].tolist()])
    return out


def check_against_input(strokes: list, out: list) -> None:
    """What holds for any input: bounds, stroke ends, closeness to the polyline."""
    fitted = fit(strokes)
    assert len(out) == len(fitted)
    for p, (xs, ys) in zip(fitted, out, strict=True):
        assert len(xs) == len(ys) >= 2
        assert all(type(v) is int and 0 <= v <= SIZE for v in (*xs, *ys))
        q = np.array([xs, ys], dtype=float).T
        assert (q[0] == np.rint(p[0])).all() and (q[-1] == np.rint(p[-1])).all()
        assert distance_to_polyline(q, p).max() <= HALF_DIAGONAL + 1e-9


def test_equals_the_plain_reference_on_random_walks():
    # Float walks have no exact ties, where the two may pick different points.
    rng = np.random.default_rng(0)
    for _ in range(300):
        strokes = random_walks(rng)
        assert simplify_strokes(strokes) == reference(strokes)


def test_edge_cases():
    assert simplify_strokes([]) == []
    assert simplify_strokes([[[], []], [[], [], []]]) == []
    # A dot becomes two equal points (as in Google's files); empty strokes go.
    assert simplify_strokes([[[5.5], [7]], [[], []], [[0, 10], [0, 10]]]) == [
        [[140, 140], [178, 178]],
        [[0, 255], [0, 255]],
    ]
    # Zero extent: only moved to the origin.
    assert simplify_strokes([[[3, 3], [4, 4]], [[3], [4]]]) == [
        [[0, 0], [0, 0]],
        [[0, 0], [0, 0]],
    ]
    # Times are ignored; a long straight line keeps its ends only.
    line = np.linspace(0, 1e4, 20_001).tolist()
    assert simplify_strokes([[line, line, list(range(20_001))]]) == [
        [[0, 255], [0, 255]]
    ]


def test_deep_rdp_needs_no_recursion():
    # A spiral of 20,000 points: an RDP tree 394 levels deep, 1,700 points kept.
    t = np.linspace(0, 200 * np.pi, 20_000)
    ((xs, ys),) = simplify_strokes(
        [[(t * np.cos(t)).tolist(), (t * np.sin(t)).tolist()]]
    )
    assert len(xs) == len(ys) == 1700
    assert min(xs) == min(ys) == 0 and max(xs) == SIZE


@pytest.mark.parametrize(
    "strokes",
    [
        [[[1, float("nan")], [1, 2]]],
        [[[1, 2], [1, float("inf")]]],
        [[["1", 2], [1, 2]]],
        [[[None, 2], [1, 2]]],
        [[[[1], [2]], [[1], [2]]]],
        [[[1, 2], [1]]],
        [[[1, 2]]],
        [5],
        None,
    ],
)
def test_bad_input_raises_value_error(strokes):
    with pytest.raises(ValueError):
        simplify_strokes(strokes)


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
small_ints = st.integers(-10_000, 10_000)


def strokes_of(values: st.SearchStrategy) -> st.SearchStrategy:
    stroke = st.integers(0, 30).flatmap(
        lambda n: st.tuples(
            st.lists(values, min_size=n, max_size=n),
            st.lists(values, min_size=n, max_size=n),
        )
    )
    return st.lists(stroke.map(list), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(strokes_of(finite))
def test_finite_input_gives_the_format(strokes):
    out = simplify_strokes(strokes)  # never raises on finite numbers
    if any(len(xs) for xs, _ in strokes):
        check_against_input(strokes, out)
    else:
        assert out == []


@settings(max_examples=200, deadline=None)
@given(strokes_of(small_ints), small_ints, small_ints, st.integers(-20, 20))
def test_invariant_to_translation_and_uniform_scale(strokes, dx, dy, power):
    # Exactly so where float arithmetic is exact: integer shifts of integer
    # points, scaling by powers of two.
    moved = [[[x + dx for x in xs], [y + dy for y in ys]] for xs, ys in strokes]
    scaled = [
        [[x * 2.0**power for x in xs], [y * 2.0**power for y in ys]]
        for xs, ys in strokes
    ]
    out = simplify_strokes(strokes)
    assert simplify_strokes(moved) == out
    assert simplify_strokes(scaled) == out


@requires_sample
def test_dense_drawing_simplifies_as_its_polyline():
    # Every 12th drawing of the sample (1,500), on a 1000 px canvas with points
    # <= 1 px apart: 98.7% give what the sparse polyline gives (the rest: ties
    # broken by float noise; 98.1% on all 17,989), but only 1.8% the original
    # simplified drawing, since re-simplifying is not the identity (next test).
    rng = np.random.default_rng(12)
    originals = drawings(every=12)
    same_as_sparse = exact = 0
    for strokes in originals:
        out = simplify_strokes(draw_densely(strokes, rng))
        # The dense polyline is the sparse one, so the points stay near it.
        for p, (xs, ys) in zip(fit(strokes), out, strict=True):
            q = np.array([xs, ys], dtype=float).T
            assert distance_to_polyline(q, p).max() <= HALF_DIAGONAL + 1e-9
        same_as_sparse += out == simplify_strokes(strokes)
        exact += out == strokes
    assert same_as_sparse / len(originals) >= 0.97
    assert exact / len(originals) >= 0.015


@requires_sample
def test_simplified_drawings_change_little_when_simplified_again():
    # Every 12th drawing (1,500): 1.8% come back unchanged (1.9% of all
    # 17,989), every point stays within half a diagonal of the drawing's lines,
    # and 3.6% of the points go (3.7% of all; RDP on rounded points), so
    # simplified input is best passed as it is.
    originals = drawings(every=12)
    unchanged = before = after = 0
    for strokes in originals:
        out = simplify_strokes(strokes)
        check_against_input(strokes, out)
        unchanged += out == strokes
        before += sum(len(xs) for xs, _ in strokes)
        after += sum(len(xs) for xs, _ in out)
    assert 0.015 <= unchanged / len(originals) < 0.03
    assert 0.95 < after / before < 0.98


@requires_sample
def test_raw_drawings():
    # All 2,289 raw drawings (floats, x -1013..2232): 4.5x fewer points, and
    # the longer side spans exactly 0..255 in 82% (RDP may drop an extreme
    # point, as in 21% of Google's own simplified sample).
    raws = drawings(sample.RAW_EXTRA)
    points_in = points_out = full_span = 0
    for strokes in raws:
        out = simplify_strokes(strokes)
        check_against_input(strokes, out)
        points_in += sum(len(s[0]) for s in strokes)
        points_out += sum(len(xs) for xs, _ in out)
        xs = np.concatenate([xs for xs, _ in out])
        ys = np.concatenate([ys for _, ys in out])
        full_span += max(xs.max() - xs.min(), ys.max() - ys.min()) == SIZE
    assert points_in / points_out > 4.0
    assert full_span / len(raws) >= 0.8


def _line(drawing: list) -> bytes:
    return orjson.dumps({"word": "cat", "key_id": "1", "drawing": drawing})


def test_parse_drawing_simplifies_on_request():
    raw = [[[0.5, 100.25, 300], [1, 50, -20], [0, 1, 2]], [[7], [8]]]
    as_is = ndjson.parse_drawing(_line(raw))
    assert as_is.xs == [0.5, 100.25, 300, 7] and as_is.stroke_lengths == [3, 1]
    drawing = ndjson.parse_drawing(_line(raw), simplify=True)
    flat = [[xs, ys] for xs, ys in simplify_strokes(raw)]
    assert [drawing.xs, drawing.ys] == [
        [v for xs, _ in flat for v in xs],
        [v for _, ys in flat for v in ys],
    ]
    assert drawing.stroke_lengths == [3, 2]


@pytest.mark.parametrize(
    ("drawing", "reason"),
    [
        ([[[1, "2"], [1, 2]]], ndjson.Reason.NON_NUMERIC),
        ([[[1, 1e39], [1, 2]]], ndjson.Reason.NON_FINITE),
        ([[[1, 2, 3], [1, 2]]], ndjson.Reason.UNEQUAL_XY),
        # Dots double: 3 one-point strokes make 6 points, over a cap of 5.
        ([[[1], [1]], [[2], [2]], [[3], [3]]], ndjson.Reason.TOO_MANY_POINTS),
    ],
)
def test_a_drawing_that_cannot_be_simplified_is_rejected(drawing, reason):
    with pytest.raises(ndjson.BadDrawing) as caught:
        ndjson.parse_drawing(_line(drawing), max_points=5, simplify=True)
    assert caught.value.reason == reason
