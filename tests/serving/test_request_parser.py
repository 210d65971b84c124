"""Request bodies -> checked drawings, in-process: what is parsed, echoed,
simplified or refused, and why (tests/serving/test_serve.py sends the same
bodies over HTTP to a real model)."""

from __future__ import annotations

import orjson
import pytest

from drawing.simplify import simplify_strokes
from serving import request_parser as I

LIMITS = I.Limits()
SIMPLIFIED = [[[0, 100, 200], [0, 50, 10]], [[5, 5], [9, 250]]]


def parse(payload: object, limits: I.Limits = LIMITS) -> I.Request:
    return I.parse_request(orjson.dumps(payload), limits)


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
        with pytest.raises(I.BadRequest, match="parameters.k"):
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
    assert I.needs_simplification(strokes, timed) is needs


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
    with pytest.raises(I.BadRequest) as refused:
        parse(payload, I.Limits(max_instances=2, max_points=5))
    assert refused.value.instance == instance
    assert words in str(refused.value)
    if instance is not None:
        assert str(refused.value).startswith(f"instance {instance}: ")
