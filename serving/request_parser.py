"""Predict request bodies -> checked drawings: `serving.serve`'s input side.

A request is TF Serving's row format, `{"instances": [...]}`, with Vertex AI's
optional `"parameters": {"k": n}`. An instance is an object with a `drawing`
(strokes of `[xs, ys]` or `[xs, ys, ts]`) and optional `key_id`/`word`, or an
ndjson line as a string. The body is parsed once; each instance becomes the
strokes the dataset would hold for it, which the model scores as numbers.
A raw drawing (with times, or not whole pixels in 0-255) is simplified as the
dataset's were (`drawing.simplify`); a simplified one is passed unchanged
(`needs_simplification` says why). Nothing here imports TensorFlow or aiohttp.

A twin of the reference parser, `drawing.ndjson` (the format family:
docs/layout.md). It reads an instance with the reference's structure and
reasons: an instance's error is the instance, then the reason the pipeline
would give its line (`drawing.ndjson.Reason`), then what exactly is wrong,
e.g. `instance 1: unequal_xy: stroke 1 has unequal lengths: 2 vs 1`. Where
it is stricter, on purpose: a boolean is not a number here (the pipeline
reads `true` as 1, as the tutorial's numpy does); a stroke's times must be
as many as its points; the points bound is the server's (`Limits`); no word
or key_id is needed. `tests/serving/test_request_parser.py` holds each
reason against the reference's on the same drawing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from drawing import features as F
from drawing.ndjson import Reason

# The simplified format's coordinate range.
SIMPLIFIED_MAX = 255


class BadRequest(ValueError):
    """A request the server refuses (HTTP 400); `instance` is its index, if any,
    and `reason` the pipeline's reason for a drawing that fails its checks."""

    def __init__(
        self, message: str, instance: int | None = None, reason: Reason | None = None
    ) -> None:
        if reason is not None:
            message = f"{reason.value}: {message}"
        super().__init__(
            message if instance is None else f"instance {instance}: {message}"
        )
        self.instance = instance
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds on one request, so that no request can exhaust the server."""

    max_instances: int = 64
    # Points per drawing as sent (before simplification). The dataset's raw
    # drawings, sampled at pointer events, have a few hundred; traced at 1 px
    # on a 1000 px canvas, as the page sends them, thousands, and a shaded one
    # tens of thousands, still checked and simplified in a fraction of a
    # second. The body bound (4 MiB) caps a request's total anyway.
    max_points: int = 100_000


@dataclasses.dataclass(frozen=True)
class Instance:
    """One drawing, ready to score."""

    strokes: list[list[list]]  # [[xs, ys], ...], as the model scores them
    echo: dict[str, str]  # key_id and word, when the instance has them
    simplified_here: bool  # whether the server simplified it

    @property
    def points(self) -> tuple[list, list, list[int]]:
        """(xs, ys, points per stroke): the strokes concatenated."""
        xs = [x for stroke in self.strokes for x in stroke[0]]
        ys = [y for stroke in self.strokes for y in stroke[1]]
        return xs, ys, [len(stroke[0]) for stroke in self.strokes]


@dataclasses.dataclass(frozen=True)
class Request:
    instances: list[Instance]
    k: int | None  # parameters.k, when given


def _number_list(value: Any, what: str, index: int) -> list:
    if not isinstance(value, list):
        raise BadRequest(f"{what} is not a list of numbers", index, Reason.BAD_DRAWING)
    for v in value:
        if type(v) not in (int, float):  # not bool, str, None, list
            shown = orjson.dumps(v).decode()[:40]
            raise BadRequest(f"{what} holds {shown}", index, Reason.NON_NUMERIC)
    return value


def checked_strokes(drawing: Any, index: int, max_points: int) -> list[list[list]]:
    """The drawing's strokes as `[xs, ys]` (times dropped), or BadRequest.

    Empty strokes are dropped, as the pipeline drops them.
    """
    if not isinstance(drawing, list):
        raise BadRequest(
            '"drawing" is not a list of [xs, ys] strokes', index, Reason.BAD_DRAWING
        )
    strokes = []
    points = 0
    for s, stroke in enumerate(drawing):
        if not isinstance(stroke, list) or len(stroke) not in (2, 3):
            raise BadRequest(
                f"stroke {s} is not [xs, ys] or [xs, ys, ts]", index, Reason.BAD_DRAWING
            )
        xs = _number_list(stroke[0], f"stroke {s} xs", index)
        ys = _number_list(stroke[1], f"stroke {s} ys", index)
        lengths = [len(xs), len(ys)]
        if len(stroke) == 3:
            lengths.append(len(_number_list(stroke[2], f"stroke {s} ts", index)))
        if len(set(lengths)) != 1:
            counts = " vs ".join(map(str, lengths))
            raise BadRequest(
                f"stroke {s} has unequal lengths: {counts}", index, Reason.UNEQUAL_XY
            )
        points += len(xs)
        if points > max_points:
            raise BadRequest(
                f"more than {max_points} points", index, Reason.TOO_MANY_POINTS
            )
        if xs:
            strokes.append([xs, ys])
    if points < 2:
        raise _too_few(points, "a drawing needs at least 2", index)
    return strokes


def _too_few(points: int, detail: str, index: int) -> BadRequest:
    """No point or one point: the pipeline's empty_drawing or single_point."""
    reason = Reason.SINGLE_POINT if points == 1 else Reason.EMPTY_DRAWING
    plural = "" if points == 1 else "s"
    return BadRequest(f"{points} point{plural}; {detail}", index, reason)


def needs_simplification(strokes: list[list[list]], timed: bool = False) -> bool:
    """Whether the drawing is not already in the dataset's simplified format.

    Simplified drawings have no times and hold integers in 0-255 (not always
    spanning the whole box: RDP can drop an extreme point). Simplifying them
    again is far from the identity: it leaves few of the sample's simplified
    drawings unchanged (bench/README.md, "Simplification") and drops a few
    points from the others (RDP then runs on rounded points and on no denser
    line). So they
    are passed as they are, which also keeps the server's answer for a dataset
    line equal to TF Serving's for the same line. A raw drawing without times
    that happens to fit the box in whole pixels (at most 255 px, drawn in a
    canvas's top-left corner) is taken as simplified too: a client that sends
    such drawings should send the times (`timed`), as the drawing page does.
    """
    if timed:
        return True
    for xs, ys in strokes:
        for v in (*xs, *ys):
            if type(v) is not int or not 0 <= v <= SIMPLIFIED_MAX:
                return True
    return False


def _simplify(strokes: list[list[list]], index: int) -> list[list[list]]:
    from drawing.simplify import simplify_strokes

    try:
        simplified = [s for s in simplify_strokes(strokes) if len(s[0])]
    except ValueError as err:  # e.g. an extent beyond float64
        raise BadRequest(
            f"cannot simplify the drawing: {err}", index, Reason.NON_FINITE
        ) from None
    points = sum(len(xs) for xs, _ in simplified)
    if points < 2:
        raise _too_few(points, "fewer than 2 after simplification", index)
    return simplified


def _echo(record: dict) -> dict[str, str]:
    echo = {}
    if record.get(F.KEY_ID) is not None:
        echo[F.KEY_ID] = str(record[F.KEY_ID])
    if isinstance(record.get(F.WORD), str):
        echo[F.WORD] = record[F.WORD]
    return echo


def parse_instance(value: Any, index: int, limits: Limits) -> Instance:
    """One instance (object or ndjson line string) -> its checked strokes."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as err:
            raise BadRequest(
                f"the ndjson line is not JSON: {err}", index, Reason.MALFORMED_JSON
            ) from None
        if not isinstance(value, dict):
            raise BadRequest(
                "the ndjson line is not a JSON object", index, Reason.MALFORMED_JSON
            )
    elif not isinstance(value, dict):
        kind = type(value).__name__
        raise BadRequest(
            f'expected an object with "drawing" or an ndjson line string, got {kind}',
            index,
            Reason.MALFORMED_JSON,
        )
    if F.DRAWING not in value:
        raise BadRequest('no "drawing"', index, Reason.BAD_DRAWING)
    strokes = checked_strokes(value[F.DRAWING], index, limits.max_points)
    timed = any(len(stroke) == 3 for stroke in value[F.DRAWING])  # checked above
    simplify = needs_simplification(strokes, timed)
    if simplify:
        strokes = _simplify(strokes, index)
    return Instance(strokes=strokes, echo=_echo(value), simplified_here=simplify)


def parse_request(body: bytes, limits: Limits) -> Request:
    """A predict request body -> its instances, or BadRequest saying what is wrong."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise BadRequest(f"the request body is not JSON: {err}") from None
    if not isinstance(request, dict):
        raise BadRequest('the request must be a JSON object with "instances"')
    if "instances" not in request:
        hint = ' (the columnar "inputs" format is not supported)'
        raise BadRequest('no "instances"' + (hint if "inputs" in request else ""))
    instances = request["instances"]
    if not isinstance(instances, list) or not instances:
        raise BadRequest('"instances" must be a non-empty list')
    if len(instances) > limits.max_instances:
        raise BadRequest(
            f"{len(instances)} instances; at most {limits.max_instances} per request"
        )
    k = _k(request.get("parameters"))
    parsed = [parse_instance(v, i, limits) for i, v in enumerate(instances)]
    return Request(instances=parsed, k=k)


def _k(parameters: Any) -> int | None:
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise BadRequest('"parameters" must be an object')
    k = parameters.get("k")
    if k is not None and (type(k) is not int or k < 1):
        raise BadRequest('"parameters.k" must be a positive integer')
    return k
