"""The numpy ink transform against the tutorial's own code, on every real drawing."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from drawing import ink, ndjson
from tests.shared_data import requires_sample
from tools import sample
from tools.tutorial import tutorial_parse_line


def _line(**overrides) -> bytes:
    record = {
        "word": "cat",
        "countrycode": "VE",
        "recognized": True,
        "key_id": "5201136883597312",
        "drawing": [[[130, 113, 99], [72, 40, 27]], [[76, 28, 7], [136, 128, 128]]],
    }
    record.update(overrides)
    return orjson.dumps({k: v for k, v in record.items() if v is not ...})


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
    ("line", "reason"),
    [
        (b'{"word": "cat", ', ndjson.Reason.MALFORMED_JSON),
        (b"[1, 2]", ndjson.Reason.MALFORMED_JSON),
        (b'{"word": "caf\xe9", "key_id": "1"}', ndjson.Reason.NOT_UTF8),
        (_line(word=...), ndjson.Reason.MISSING_WORD),
        (_line(word=""), ndjson.Reason.MISSING_WORD),
        (_line(word="dog"), ndjson.Reason.UNKNOWN_WORD),
        (_line(key_id=...), ndjson.Reason.MISSING_KEY_ID),
        (_line(key_id=None), ndjson.Reason.MISSING_KEY_ID),
        (_line(drawing=...), ndjson.Reason.BAD_DRAWING),
        (_line(drawing="strokes"), ndjson.Reason.BAD_DRAWING),
        (_line(drawing=[[1, 2]]), ndjson.Reason.BAD_DRAWING),
        (_line(drawing=[[[1, 2]]]), ndjson.Reason.BAD_DRAWING),
        (_line(drawing=[]), ndjson.Reason.EMPTY_DRAWING),
        (_line(drawing=[[[], []]]), ndjson.Reason.EMPTY_DRAWING),
        (_line(drawing=[[[1, 2, 3], [1, 2]]]), ndjson.Reason.UNEQUAL_XY),
        (_line(drawing=[[[1], [2]]]), ndjson.Reason.SINGLE_POINT),
        (
            _line(drawing=[[list(range(11)), list(range(11))]]),
            ndjson.Reason.TOO_MANY_POINTS,
        ),
    ],
)
def test_bad_lines_are_rejected_with_a_reason(line, reason):
    with pytest.raises(ndjson.BadDrawing) as caught:
        ndjson.parse_drawing(line, {"cat": 0}, max_points=10)
    assert caught.value.reason == reason


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


def test_integer_key_ids_and_missing_optional_fields_are_accepted():
    drawing = ndjson.parse_drawing(_line(key_id=42, countrycode=..., recognized=...))
    assert drawing.key_id == "42"
    assert drawing.recognized


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
