"""The chunk parser: the batch parsers first, the rest line by line, counted."""

from __future__ import annotations

import orjson

from drawing import ndjson_batch
from pipeline import accounting, chunk_parser
from pipeline.config import PipelineConfig
from pipeline.encode_config import EncodeConfig
from pipeline.lines import Line, Lines, Record
from tests.pipeline.test_lines import lines_of
from tests.synthetic import from_record, pack

CLASSES = ("cat", "dog")
DRAWING = [[[1, 5, 9], [2, 2, 7]], [[0, 3], [4, 0]]]


def _config(**settings) -> EncodeConfig:
    run = PipelineConfig(inputs=(), output="", **settings)
    return EncodeConfig.of(run, CLASSES, analysis_fraction=0.5)


def _mixed_lines(n: int) -> Lines:
    """Canonical, spaced, unrecognized, bad and binary drawings, interleaved."""
    lines = []
    for k in range(n):
        record = {"word": CLASSES[k % 2], "countrycode": "US", "timestamp": "t",
                  "recognized": k % 3 != 0, "key_id": str(10**6 + k),
                  "drawing": DRAWING[: 1 + k % 2]}  # fmt: skip
        text = orjson.dumps(record)
        kind = k % 5
        if kind == 1:
            text = text.replace(b",", b", ")  # not the dataset's layout
        elif kind == 2:
            text = text.replace(b'"drawing":[[[1', b'"drawing":[[["x"')
        if kind == 3:
            data = pack(from_record(record))
            lines.append(Record("c.bin", 0, k + 1, data, record["word"]))
        else:
            lines.append(Line("c.ndjson", k, k + 1, text))
    return lines_of(lines)


CANONICAL = (0, 3, 4)  # the kinds of `_mixed_lines` that the batch parsers take


def test_the_batch_parsers_take_canonical_lines_and_binary_drawings_unless_simplify():
    lines = _mixed_lines(10)
    class_index = {c: i for i, c in enumerate(CLASSES)}
    taken = chunk_parser.parse_canonical(lines, _config(), class_index).index
    assert sorted(taken) == [k for k in range(10) if k % 5 in (0, 3, 4)]
    assert not chunk_parser.parse_canonical(
        lines, _config(simplify=True), class_index
    ).index


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
