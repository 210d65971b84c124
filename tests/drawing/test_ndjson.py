"""The reference parser, `drawing.ndjson`: what it reads, and every reason it
gives a line it cannot read. Its twins are held to it in their own tests."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawing import ndjson
from drawing.ndjson import BadDrawing, Reason

PROPERTY = settings(max_examples=200, deadline=None)


def _line(**overrides) -> bytes:
    """A dataset line of a cat; a field set to `...` is left out."""
    record = {
        "word": "cat",
        "countrycode": "VE",
        "recognized": True,
        "key_id": "5201136883597312",
        "drawing": [[[130, 113, 99], [72, 40, 27]], [[76, 28, 7], [136, 128, 128]]],
    }
    record.update(overrides)
    return orjson.dumps({k: v for k, v in record.items() if v is not ...})


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"word": "cat", ', Reason.MALFORMED_JSON),
        (b"[1, 2]", Reason.MALFORMED_JSON),
        (b'{"word": "caf\xe9", "key_id": "1"}', Reason.NOT_UTF8),
        (_line(word=...), Reason.MISSING_WORD),
        (_line(word=""), Reason.MISSING_WORD),
        (_line(word="dog"), Reason.UNKNOWN_WORD),
        (_line(key_id=...), Reason.MISSING_KEY_ID),
        (_line(key_id=None), Reason.MISSING_KEY_ID),
        (_line(drawing=...), Reason.BAD_DRAWING),
        (_line(drawing="strokes"), Reason.BAD_DRAWING),
        (_line(drawing=[[1, 2]]), Reason.BAD_DRAWING),
        (_line(drawing=[[[1, 2]]]), Reason.BAD_DRAWING),
        (_line(drawing=[]), Reason.EMPTY_DRAWING),
        (_line(drawing=[[[], []]]), Reason.EMPTY_DRAWING),
        (_line(drawing=[[[1, 2, 3], [1, 2]]]), Reason.UNEQUAL_XY),
        (_line(drawing=[[[1], [2]]]), Reason.SINGLE_POINT),
        (_line(drawing=[[list(range(11)), list(range(11))]]), Reason.TOO_MANY_POINTS),
    ],
)
def test_bad_lines_are_rejected_with_a_reason(line, reason):
    with pytest.raises(ndjson.BadDrawing) as caught:
        ndjson.parse_drawing(line, {"cat": 0}, max_points=10)
    assert caught.value.reason == reason


def test_integer_key_ids_and_missing_optional_fields_are_accepted():
    drawing = ndjson.parse_drawing(_line(key_id=42, countrycode=..., recognized=...))
    assert drawing.key_id == "42"
    assert drawing.recognized


@pytest.mark.parametrize(
    ("xs", "reason"),
    [
        ([1, "2", 3], Reason.NON_NUMERIC),
        ([1, None, 3], Reason.NON_NUMERIC),
        ([1, [2], 3], Reason.NON_NUMERIC),
        ([[1], [2], [3]], Reason.NON_NUMERIC),
        ([1, 1e39, 3], Reason.NON_FINITE),
        ([-3e38, 0, 3e38], Reason.NON_FINITE),  # each fits float32, the span not
    ],
)
def test_values_are_checked_after_the_structure(xs, reason):
    drawing = ndjson.parse_drawing(_line(drawing=[[xs, [1, 2, 3]]]))
    with pytest.raises(BadDrawing) as caught:
        ndjson.checked_points(drawing.xs, drawing.ys)
    assert caught.value.reason == reason


def test_a_boolean_among_numbers_counts_as_one_as_in_the_tutorials_numpy():
    drawing = ndjson.parse_drawing(_line(drawing=[[[0, True, 2], [0, 1, 2]]]))
    assert ndjson.checked_points(drawing.xs, drawing.ys)[:, 0].tolist() == [0, 1, 2]


def test_the_points_bound_is_inclusive_and_applies_after_simplification():
    strokes = [[list(range(10)), list(range(10))]]
    assert ndjson.parse_drawing(_line(drawing=strokes), max_points=10).num_points == 10
    # Simplified, a 1000-point zigzag still has more than 10 points.
    zigzag = [[list(range(1000)), [0, 500] * 500]]
    with pytest.raises(BadDrawing) as caught:
        ndjson.parse_drawing(_line(drawing=zigzag), max_points=10, simplify=True)
    assert caught.value.reason == Reason.TOO_MANY_POINTS


def test_simplify_checks_the_values_first_and_gives_the_datasets_box():
    with pytest.raises(BadDrawing) as caught:
        ndjson.parse_drawing(_line(drawing=[[[0, "x"], [0, 1]]]), simplify=True)
    assert caught.value.reason == Reason.NON_NUMERIC
    raw = [[[1000.5, 3000.25, 2000], [10, 900, 20], [0, 5, 9]]]  # with times
    drawing = ndjson.parse_drawing(_line(drawing=raw), simplify=True)
    values = drawing.xs + drawing.ys
    assert all(type(v) is int and 0 <= v <= 255 for v in values)
    assert max(drawing.xs) == 255  # the longer side fills the box


# The drawing field as the dataset and the raw format write it: strokes of
# x and y lists (maybe with times), empty strokes allowed.
NUMBER = st.one_of(st.integers(-(2**31), 2**31), st.floats(-1e6, 1e6))


@st.composite
def strokes(draw) -> list:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 6))
        stroke = [draw(st.lists(NUMBER, min_size=n, max_size=n)) for _ in range(2)]
        if draw(st.booleans()):
            stroke.append(draw(st.lists(st.integers(0, 10**6), max_size=n)))
        out.append(stroke)
    return out


@PROPERTY
@given(
    strokes(),
    st.one_of(st.text(min_size=1, max_size=8), st.just("cat")),
    st.one_of(st.text(min_size=1, max_size=20), st.integers(0, 2**63)),
    st.one_of(st.none(), st.booleans()),
)
def test_a_well_formed_line_is_read_field_for_field(drawing, word, key_id, recognized):
    record = {"word": word, "key_id": key_id, "drawing": drawing}
    if recognized is not None:
        record["recognized"] = recognized
    kept = [s for s in drawing if s[0]]
    points = sum(len(s[0]) for s in kept)
    try:
        got = ndjson.parse_drawing(orjson.dumps(record))
    except BadDrawing as err:
        expected = {0: Reason.EMPTY_DRAWING, 1: Reason.SINGLE_POINT}
        assert err.reason == expected[points]
        return
    assert points >= 2
    assert (got.word, got.key_id) == (word, str(key_id))
    assert got.recognized is (recognized is not False)
    assert got.xs == [x for s in kept for x in s[0]]
    assert got.ys == [y for s in kept for y in s[1]]
    assert got.stroke_lengths == [len(s[0]) for s in kept]
    np.testing.assert_array_equal(
        ndjson.checked_points(got.xs, got.ys),
        np.array([got.xs, got.ys], np.float64).astype(np.float32).T,
    )


def _dumps(value) -> bytes:
    """JSON as Python writes it: big integers and NaN included."""
    return json.dumps(value).encode()


@PROPERTY
@given(st.one_of(st.binary(max_size=80), st.builds(_dumps, st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["word", "key_id", "drawing", "x"]), inner),
    max_leaves=20,
))))  # fmt: skip
def test_any_bytes_give_a_drawing_or_a_reason_never_another_error(line):
    try:
        drawing = ndjson.parse_drawing(line)
    except BadDrawing as err:
        assert err.reason in Reason
        return
    assert drawing.num_points >= 2 and drawing.word and drawing.key_id
