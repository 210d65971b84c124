"""The chunk parser: the batch parsers first, the rest line by line, counted."""

from __future__ import annotations

from drawing import ndjson_batch
from pipeline import accounting, chunk_parser
from tests.pipeline.test_chunk_encoder import _config, _mixed_lines

CANONICAL = (0, 3, 4)  # the kinds of `_mixed_lines` that the batch parsers take


def _per_line_parsed(lines, config) -> int:
    tally = accounting.Tally()
    chunk_parser.ChunkParser(config).parse(lines, [], tally)
    return tally.per_line_parsed


def test_the_lines_the_batch_parsers_give_up_are_counted():
    lines = _mixed_lines(50)
    given_up = sum(k % 5 not in CANONICAL for k in range(50))
    assert _per_line_parsed(lines, _config()) == given_up == 20
    # With --simplify no batch parser is asked: reading line by line is the way.
    assert _per_line_parsed(lines, _config(simplify=True)) == 0


def test_a_failing_batch_parser_counts_every_line(monkeypatch):
    def broken(*args):
        raise RuntimeError("bug")

    monkeypatch.setattr(ndjson_batch, "parse_columns", broken)
    assert _per_line_parsed(_mixed_lines(50), _config()) == 50
