"""The encoder's chunked parsing: which lines the batch parser takes, in order."""

from __future__ import annotations

import logging

from drawing import ndjson_batch
from pipeline import binary, reader

CLASSES = {"cat": 0}
CANONICAL = b'{"word":"cat","key_id":"1","drawing":[[[1,2],[3,4]]]}'
SPACED = b'{"word":"cat","key_id":"2","drawing":[[[1, 2],[3,4]]]}'


def _lines(n: int) -> list:
    texts = [CANONICAL, SPACED] * n
    return [reader.Line("f.ndjson", i, i + 1, t) for i, t in enumerate(texts)]


def test_every_line_comes_back_in_order_with_the_batch_parsers_drawing_or_none():
    lines = _lines(binary.CHUNK)  # two chunks
    record = binary.Record("f.bin", 0, 1, b"", "cat")
    parsed = list(binary.parse_lines([*lines, record], CLASSES, 100))
    assert [line for line, _ in parsed] == [*lines, record]
    drawings = [drawing for _, drawing in parsed]
    assert all(d is not None and d.key_id == "1" for d in drawings[:-1:2])
    assert all(d is None for d in drawings[1::2])  # spaced, and the .bin record


def test_simplify_leaves_every_line_to_parse_line():
    parsed = binary.parse_lines(_lines(3), CLASSES, 100, simplify=True)
    assert [d for _, d in parsed] == [None] * 6


def test_a_failing_batch_parser_costs_speed_not_lines(monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("bug")

    monkeypatch.setattr(ndjson_batch, "parse_batch", broken)
    with caplog.at_level(logging.ERROR):
        parsed = list(binary.parse_lines(_lines(2), CLASSES, 100))
    assert [d for _, d in parsed] == [None] * 4
    assert "batch parser failed" in caplog.text
