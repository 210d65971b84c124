"""Request bodies -> checked drawings, in-process: what is parsed, echoed,
simplified or refused, and why (tests/serving/test_serve.py sends the same
bodies over HTTP to a real model); and against the reference parser,
`drawing.ndjson`: an instance that fails gets the reason the pipeline gives
its line."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from drawing import ndjson
from drawing.ndjson import Reason
from drawing.simplify import simplify_strokes
from serving import request_parser

MOST = 5  # points a drawing may have, on both sides
SMALL = request_parser.Limits(max_points=MOST)

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

LIMITS = request_parser.Limits()
SIMPLIFIED = [[[0, 100, 200], [0, 50, 10]], [[5, 5], [9, 250]]]


def parse(
    payload: object, limits: request_parser.Limits = LIMITS
) -> request_parser.Request:
    return request_parser.parse_request(orjson.dumps(payload), limits)


def test_objects_and_ndjson_lines_give_the_same_strokes_and_echo():
    record = {"key_id": 5201136883597312, "word": "cat", "drawing": SIMPLIFIED}
    request = parse({"instances": [record, orjson.dumps(record).decode()]})
    assert request.k is None
    for instance in request.instances:
        assert instance.strokes == SIMPLIFIED and not instance.simplified_here
        # key_id comes back as a string, as the dataset's ndjson writes it.
        assert instance.echo == {"key_id": "5201136883597312", "word": "cat"}
        assert instance.points == ([0, 100, 200, 5, 5], [0, 50, 10, 9, 250], [3, 2])


def test_parameters_k_is_read_and_checked():
    assert (
        parse({"instances": [{"drawing": SIMPLIFIED}], "parameters": {"k": 2}}).k == 2
    )
    for k in (0, -1, 2.0, True, "2"):
        with pytest.raises(request_parser.BadRequest, match="parameters.k"):
            parse({"instances": [{"drawing": SIMPLIFIED}], "parameters": {"k": k}})


def test_raw_drawings_are_simplified_as_the_dataset_was():
    timed = [[[10.5, 300.25, 600.0], [20.0, 40.5, 80.0], [0, 16, 32]]]
    [instance] = parse({"instances": [{"drawing": timed}]}).instances
    assert instance.simplified_here
    assert instance.strokes == simplify_strokes([stroke[:2] for stroke in timed])
    # Whole pixels in 0-255 with times are raw too: the page sends times.
    small = [[[0, 100, 200], [0, 50, 10], [0, 16, 32]]]
    assert parse({"instances": [{"drawing": small}]}).instances[0].simplified_here


@pytest.mark.parametrize(
    ("strokes", "timed", "needs"),
    [
        (SIMPLIFIED, False, False),
        (SIMPLIFIED, True, True),
        ([[[0, 256], [0, 1]]], False, True),  # beyond the simplified box
        ([[[0, -1], [0, 1]]], False, True),
        ([[[0.0, 1], [0, 1]]], False, True),  # a float, even a whole one
    ],
)
def test_what_needs_simplification(strokes, timed, needs):
    assert request_parser.needs_simplification(strokes, timed) is needs


def test_empty_strokes_are_dropped_as_the_pipeline_drops_them():
    drawing = [[[], []], *SIMPLIFIED, [[], []]]
    assert parse({"instances": [{"drawing": drawing}]}).instances[0].strokes == (
        SIMPLIFIED
    )


@pytest.mark.parametrize(
    ("payload", "instance", "words"),
    [
        ({"instances": [{"drawing": SIMPLIFIED}] * 3}, None, "at most 2 per request"),
        ({"instances": [{"drawing": SIMPLIFIED}, {"drawing": [[list(range(6))] * 2]}]},
         1, "more than 5 points"),
        ({"instances": [{"drawing": SIMPLIFIED}, {"drawing": [[[7], [7]]]}]},
         1, "1 point; a drawing needs at least 2"),
        ({"instances": [{"drawing": [[[0, 1], [0, 1], [0]]]}]},
         0, "stroke 0 has unequal lengths: 2 vs 2 vs 1"),
        ({"instances": [{"drawing": [[[0, None], [0, 1]]]}]},
         0, "stroke 0 xs holds null"),
    ],
)  # fmt: skip
def test_refusals_name_the_instance_and_what_is_wrong(payload, instance, words):
    with pytest.raises(request_parser.BadRequest) as refused:
        parse(payload, request_parser.Limits(max_instances=2, max_points=5))
    assert refused.value.instance == instance
    assert words in str(refused.value)
    if instance is not None:
        assert str(refused.value).startswith(f"instance {instance}: ")


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
        request_parser.parse_instance(instance, 3, SMALL)
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
