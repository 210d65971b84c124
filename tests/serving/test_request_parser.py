"""The server's request parser against the reference parser, `drawing.ndjson`:
an instance that fails gets the reason the pipeline gives its line."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from drawing import ndjson
from drawing.ndjson import Reason
from serving import request_parser

MOST = 5  # points a drawing may have, on both sides
LIMITS = request_parser.Limits(max_points=MOST)

# instance -> the reason both give it
SAME_REASON: dict[str, tuple[Any, Reason]] = {
    "not a list": ({"drawing": "x"}, Reason.BAD_DRAWING),
    "no drawing": ({"word": "cat"}, Reason.BAD_DRAWING),
    "stroke not a pair": ({"drawing": [[[1, 2]]]}, Reason.BAD_DRAWING),
    "ys not a list": ({"drawing": [[[1, 2], 5]]}, Reason.BAD_DRAWING),
    "unequal": ({"drawing": [[[1, 2], [3, 4]], [[1, 2], [3]]]}, Reason.UNEQUAL_XY),
    "a string": ({"drawing": [[[1, "2"], [3, 4]]]}, Reason.NON_NUMERIC),
    "a null": ({"drawing": [[[1, 2], [3, None]]]}, Reason.NON_NUMERIC),
    "no stroke": ({"drawing": []}, Reason.EMPTY_DRAWING),
    "empty strokes": ({"drawing": [[[], []], [[], []]]}, Reason.EMPTY_DRAWING),
    "one point": ({"drawing": [[[1], [3]], [[], []]]}, Reason.SINGLE_POINT),
    "too many": ({"drawing": [[list(range(4))] * 2] * 2}, Reason.TOO_MANY_POINTS),
    "too wide": ({"drawing": [[[-1.7e308, 1.7e308], [0, 0]]]}, Reason.NON_FINITE),
    "line not JSON": ('{"drawing": [[[', Reason.MALFORMED_JSON),
    "line not an object": ("[1, 2]", Reason.MALFORMED_JSON),
}


def reference_reason(instance: Any) -> Reason | None:
    """The pipeline's reason for the line of this instance, or None: the
    reference parser, then the values' check every encoder makes."""
    if isinstance(instance, str):
        line = instance.encode()
    else:
        line = orjson.dumps({"word": "cat", "key_id": "1", **instance})
    try:
        drawing = ndjson.parse_drawing(line, None, MOST)
        ndjson.checked_points(drawing.xs, drawing.ys)
    except ndjson.BadDrawing as err:
        return err.reason
    return None


def served_reason(instance: Any) -> Reason | None:
    try:
        request_parser.parse_instance(instance, 3, LIMITS)
    except request_parser.BadRequest as err:
        assert str(err).startswith(f"instance 3: {err.reason.value}: ")
        return err.reason
    return None


@pytest.mark.parametrize("case", SAME_REASON, ids=list(SAME_REASON))
def test_a_bad_instance_gets_the_reason_the_pipeline_gives_its_line(case):
    instance, reason = SAME_REASON[case]
    assert reference_reason(instance) == served_reason(instance) == reason


def test_where_the_server_is_stricter_on_purpose():
    """A boolean is no number to the server (the pipeline reads `true` as 1,
    as the tutorial's numpy does), and a stroke's times must match its points."""
    boolean = {"drawing": [[[1, 2], [True, 4]]]}
    assert reference_reason(boolean) is None
    assert served_reason(boolean) == Reason.NON_NUMERIC
    times = {"drawing": [[[1, 2], [3, 4], [0]]]}
    assert reference_reason(times) is None
    assert served_reason(times) == Reason.UNEQUAL_XY


def test_a_good_instance_passes_both():
    good = {"drawing": [[[1, 5, 9], [2, 2, 7]]]}
    assert reference_reason(good) is served_reason(good) is None
