"""`Columns`: a batch of drawings as arrays, joined and taken apart again."""

from __future__ import annotations

import numpy as np

from drawing import ndjson, ndjson_batch
from drawing.columns import Columns

LINES = [
    b'{"word":"cat","key_id":"1","recognized":false,"drawing":[[[1,2],[3,4]]]}',
    b'{"word":"dog","key_id":"22","drawing":[[[0,255,9],[3,4,0]],[[8,8],[9,1]]]}',
    b'{"word":"cat","key_id":"333","drawing":[[[10,20,30],[30,40,50]]]}',
]


def _as_lists(drawing: ndjson.Drawing) -> ndjson.Drawing:
    return drawing._replace(
        xs=list(map(int, drawing.xs)),
        ys=list(map(int, drawing.ys)),
        stroke_lengths=list(map(int, drawing.stroke_lengths)),
    )


def test_each_drawing_comes_back_as_the_reference_parser_reads_its_line():
    columns = ndjson_batch.parse_columns(LINES)
    assert columns.index == [0, 1, 2]
    expected = [ndjson.parse_drawing(line) for line in LINES]
    assert [_as_lists(d) for d in columns.drawings()] == expected
    assert [_as_lists(d) for d in columns.drawings([2, 0])] == expected[::-2]
    assert columns.points.tolist() == [2, 5, 3]
    assert columns.strokes.tolist() == [1, 2, 1]


def test_parts_join_in_order_and_keep_their_index():
    first = ndjson_batch.parse_columns(LINES[:2])
    second = ndjson_batch.parse_columns(LINES[2:])._replace(index=[7])
    joined = Columns.concat([first, Columns.none(), second])
    assert joined.index == [0, 1, 7]
    whole = ndjson_batch.parse_columns(LINES)
    for name in ("xs", "ys", "points", "strokes", "stroke_lengths"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(whole, name))
    assert joined.fields == whole.fields
    assert Columns.concat([first]) is first


def test_no_drawing_at_all():
    none = Columns.none()
    assert none.drawings() == [] and none.index == []
    assert none.xs.dtype == np.int16 and none.points.dtype == np.int64
    assert Columns.concat([]).index == Columns.concat([none, none]).index == []
