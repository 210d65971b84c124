"""The numpy ink transform against the tutorial's own code, on every real drawing."""

from __future__ import annotations

import numpy as np
import pytest

from drawing import ink, ndjson
from tests.drawing.test_ndjson import _line
from tests.shared_data import requires_sample
from tools import sample
from tools.tutorial import tutorial_parse_line


def _assert_matches_tutorial(lines: list[bytes]) -> None:
    drawings = [ndjson.parse_drawing(line) for line in lines]
    batch, errors = ink.encode_batch(drawings)
    assert not errors
    for line, drawing, batched in zip(lines, drawings, batch, strict=True):
        expected, word = tutorial_parse_line(line)
        single = ink.drawing_to_ink(drawing)
        assert word == drawing.word
        assert single.dtype == np.float32 and single.shape == expected.shape
        np.testing.assert_array_equal(single, expected)
        np.testing.assert_array_equal(batched, expected)


@requires_sample
def test_every_real_drawing_equals_the_tutorial_transform():
    lines = sample.all_lines()
    assert len(lines) > 17_000
    _assert_matches_tutorial(lines)


@requires_sample
def test_raw_format_float_drawings_equal_the_tutorial_transform():
    lines = sample.all_lines(sample.RAW_EXTRA)
    assert len(lines) > 2_000
    _assert_matches_tutorial(lines)


def test_delta_rows_carry_the_later_points_pen_up_bit():
    drawing = ndjson.parse_drawing(_line())
    out = ink.drawing_to_ink(drawing)
    assert out.shape == (5, 3)
    # Points: stroke 1 = p0 p1 p2, stroke 2 = p3 p4 p5; rows are p1..p5.
    np.testing.assert_array_equal(out[:, 2], [0, 1, 0, 0, 1])


def test_zero_extent_axis_keeps_scale_one():
    drawing = ndjson.parse_drawing(_line(drawing=[[[5, 5, 5], [0, 10, 20]]]))
    out = ink.drawing_to_ink(drawing)
    np.testing.assert_array_equal(out[:, 0], [0, 0])
    np.testing.assert_allclose(out[:, 1], [0.5, 0.5])


def test_a_zero_delta_is_a_real_step():
    drawing = ndjson.parse_drawing(_line(drawing=[[[1, 1, 9], [1, 1, 9]]]))
    out = ink.drawing_to_ink(drawing)
    np.testing.assert_array_equal(out[0], [0, 0, 0])


@pytest.mark.parametrize(
    ("xs", "reason"),
    [
        ([1, "2", 3], ndjson.Reason.NON_NUMERIC),
        ([1, None, 3], ndjson.Reason.NON_NUMERIC),
        ([1, [2], 3], ndjson.Reason.NON_NUMERIC),
        ([1, 1e39, 3], ndjson.Reason.NON_FINITE),
    ],
)
def test_bad_coordinates_are_found_alone_and_inside_a_batch(xs, reason):
    good = ndjson.parse_drawing(_line())
    bad = ndjson.parse_drawing(_line(drawing=[[xs, [1, 2, 3]]]))
    with pytest.raises(ndjson.BadDrawing) as caught:
        ink.drawing_to_ink(bad)
    assert caught.value.reason == reason
    inks, errors = ink.encode_batch([good, bad, good])
    assert set(errors) == {1} and errors[1].reason == reason
    assert inks[1] is None
    np.testing.assert_array_equal(inks[0], ink.drawing_to_ink(good))
    np.testing.assert_array_equal(inks[2], ink.drawing_to_ink(good))


def test_ink_to_strokes_inverts_the_delta_encoding():
    drawing = ndjson.parse_drawing(_line())
    strokes = ink.ink_to_strokes(ink.drawing_to_ink(drawing))
    assert [len(s) for s in strokes] == [3, 3]
    points = ink.to_points(drawing)
    lower, upper = points.min(0), points.max(0)
    normalized = (points - lower) / (upper - lower)
    np.testing.assert_allclose(
        np.concatenate(strokes), normalized - normalized[0], atol=1e-6
    )
