"""The batch parser against `parse_drawing` + `encode_batch`, line for line.

Every line the batch parser accepts must be one `parse_drawing` accepts, with
the same fields and, after `encode_batch`, the same ink bit for bit; every
other line goes to `parse_drawing` itself, so its reject and reason are the
per-line path's by construction. Generated lines are canonical or mutated a
byte at a time (spaces, signs, dots, brackets, quotes, escapes, bad UTF-8).
"""

from __future__ import annotations

import json

import numpy as np
import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from drawing import ink, ndjson, ndjson_batch
from tests.shared_data import requires_sample
from tools import sample

CLASSES = {"cat": 0, "dog": 1}
MAX_POINTS = 12


def parse_batch(
    lines: list[bytes], class_index=None, max_points=ndjson.DEFAULT_MAX_POINTS
) -> list[ndjson.Drawing | None]:
    """The drawing `parse_columns` reads from each line, None where it leaves
    the line to `parse_drawing`."""
    out: list[ndjson.Drawing | None] = [None] * len(lines)
    columns = ndjson_batch.parse_columns(lines, class_index, max_points)
    for i, drawing in zip(columns.index, columns.drawings(), strict=True):
        out[i] = drawing
    return out


def _reference(line: bytes, class_index, max_points) -> ndjson.Drawing | str:
    try:
        return ndjson.parse_drawing(line, class_index, max_points)
    except ndjson.BadDrawing as err:
        return str(err)


def _check(lines: list[bytes], class_index=CLASSES, max_points=MAX_POINTS) -> int:
    """Asserts the batch parser agrees with the per-line path; returns how many
    lines it took itself."""
    fast = parse_batch(lines, class_index, max_points)
    assert len(fast) == len(lines)
    reference = [_reference(line, class_index, max_points) for line in lines]
    for line, got, want in zip(lines, fast, reference, strict=True):
        if got is None:
            continue
        assert isinstance(want, ndjson.Drawing), (line, want)
        assert got.xs.dtype == np.int16 and got.ys.dtype == np.int16
        assert got.stroke_lengths.dtype == np.int64
        as_lists = got._replace(
            xs=got.xs.tolist(),
            ys=got.ys.tolist(),
            stroke_lengths=got.stroke_lengths.tolist(),
        )
        assert as_lists == want, line
    # The pipeline's mix: the batch parser's drawings, the rest line by line.
    mixed = [
        got or want
        for got, want in zip(fast, reference, strict=True)
        if got is not None or isinstance(want, ndjson.Drawing)
    ]
    alone = [want for want in reference if isinstance(want, ndjson.Drawing)]
    mixed_inks, mixed_errors = ink.encode_batch(mixed)
    inks, errors = ink.encode_batch(alone)
    assert {i: str(e) for i, e in mixed_errors.items()} == {
        i: str(e) for i, e in errors.items()
    }
    for got, want in zip(mixed_inks, inks, strict=True):
        assert (got is None) == (want is None)
        if got is not None:
            assert got.dtype == want.dtype and got.shape == want.shape
            assert got.tobytes() == want.tobytes()
    return sum(d is not None for d in fast)


coordinate = st.one_of(st.integers(0, 999), st.integers(0, 255), st.integers(0, 1200))
stroke = st.integers(1, 5).flatmap(
    lambda n: st.tuples(st.lists(coordinate, min_size=n, max_size=n)).map(
        lambda xs: [xs[0], xs[0][::-1]]
    )
)
record = st.fixed_dictionaries(  # the dataset's fields, in its order
    {
        "word": st.sampled_from(["cat", "dog", "cow", ""]),
        "countrycode": st.sampled_from(["US", "", "é"]),
        "timestamp": st.just("2017-03-27 00:14:57.31033 UTC"),
        "recognized": st.sampled_from([True, False, None, 0]),
        "key_id": st.one_of(st.from_regex(r"[0-9]{1,6}", fullmatch=True), coordinate),
        "drawing": st.lists(stroke, min_size=1, max_size=4),
    }
)
MUTATIONS = list(b' -.e",[]{}:\\0123456789') + [0xFF, 0xC3]


@st.composite
def lines(draw) -> bytes:
    """A line as the dataset writes it, or with spaces, or mutated a byte."""
    rec = draw(record)
    if draw(st.booleans()):
        rec["drawing"] = draw(st.lists(stroke, min_size=1, max_size=4))
        rec = {k: rec[k] for k in draw(st.permutations(list(rec)))}
    spaced = draw(st.integers(0, 9)) == 0
    line = json.dumps(rec).encode() if spaced else orjson.dumps(rec)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(line)))
        byte = bytes([draw(st.sampled_from(MUTATIONS))])
        cut = draw(st.integers(0, 2))  # insert, replace one, or delete one
        line = line[:at] + (b"" if cut == 2 else byte) + line[at + min(cut, 1) :]
    return line


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines(), min_size=1, max_size=10))
@example(
    [
        b'{"word":"cat","key_id":"1","drawing":[[[1,2],[3,4]]],"drawing":0}',
        b'{"word":"cat","key_id":"1","drawing":[[[1,2],[3,4]]],"draw\\u0069ng":0}',
        b'{"k\\"drawing":[[[1,2],[3,4]]],"word":"cat","key_id":"1"}',
        b'{"word":"cat","key_id":"1","drawing":[[[1,2],[3,4]]]e5}',
        b'{"word":"cat","key_id":"1","drawing":[[[1,2],[3,4],[5,6]]]}',
        b'{"word":"cat","key_id":"1","drawing":[[[1,02],[3,4]]]}',
        b'{"word":"cat","key_id":"1","drawing":[[[1],[3]],[[],[]]]}',
        b'{"word":"cat","key_id":true,"drawing":[[[1,2],[3,4]]]}',
        b'{"word":"cat","key_id":"1","drawing":[[[1,2],[3,4]]],"x":[[[5]]]}',
        b'{"word":"cat","key_id":"1","drawing":[[[1],[3]],[[2],[4]]]}',
    ]
)
def test_batch_parser_agrees_with_the_per_line_path(batch):
    _check(batch)


def test_canonical_lines_take_the_batch_path():
    batch = [
        b'{"word":"cat","key_id":"1","recognized":false,"drawing":[[[1,2],[3,4]]]}',
        b'{"word":"dog","key_id":77,"drawing":[[[0,255,9],[3,4,0]],[[8],[9]]]}',
        b'{"drawing":[[[10,20],[30,40]]],"word":"cat","key_id":"x"}',
        b'{"word":"dog","countrycode":"US","timestamp":"2017-03-27 00:14:57 UTC",'
        b'"recognized":true,"key_id":"5","drawing":[[[7,8],[9,10]]]}',  # the dataset's
        b'{"word":"cow","countrycode":"US","timestamp":"2017-03-27 00:14:57 UTC",'
        b'"recognized":true,"key_id":"5","drawing":[[[7,8],[9,10]]]}',  # unknown word
        b'{"word":"cat","key_id":"1","drawing":[[[1, 2],[3,4]]]}',  # a space
        b'{"word":"cat","key_id":"1","drawing":[[[1000,2],[3,4]]]}',  # 4 digits
    ]
    taken = [d is not None for d in parse_batch(batch, CLASSES)]
    assert taken == [True, True, True, True, False, False, False]
    assert _check(batch) == 4


@requires_sample
def test_every_real_line_takes_the_batch_path_with_the_same_result():
    lines = sample.all_lines()
    taken = sum(
        _check(lines[i : i + 512], None, ndjson.DEFAULT_MAX_POINTS)
        for i in range(0, len(lines), 512)
    )
    assert taken == len(lines)
