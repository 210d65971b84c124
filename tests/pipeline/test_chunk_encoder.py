"""The chunk encoder against the per-line path: same records, rejects, counts."""

from __future__ import annotations

import logging

import pytest

from drawing import features as F
from drawing import ink, ndjson, ndjson_batch
from pipeline import accounting, chunk_encoder, chunk_parser
from pipeline.encode_config import EncodeConfig
from pipeline.lines import Line, Lines
from tests.pipeline.test_chunk_parser import CLASSES, _config, _mixed_lines
from tests.pipeline.test_lines import lines_of
from tests.pipeline.test_records import serialize
from tests.pipeline.test_split import assign


def _line_by_line(lines: Lines, config: EncodeConfig):
    """Records per split, reject reasons and filtered count, one line at a time."""
    class_index = {c: i for i, c in enumerate(CLASSES)}
    out, reasons, filtered = {s: [] for s in F.SPLITS}, [], 0
    for line in lines:
        try:
            drawing = chunk_parser.parse_line(line, class_index, config.max_points)
            if config.recognized_only and not drawing.recognized:
                filtered += 1
                continue
            encoded = ink.drawing_to_ink(drawing)
        except ndjson.BadDrawing as err:
            reasons.append(err.reason.value)
            continue
        split_name, _ = assign(drawing.key_id, config.eval_fraction)
        example = serialize(drawing, encoded, class_index[drawing.word])
        out[split_name].append(example)
    return out, reasons, filtered


@pytest.mark.parametrize("recognized_only", [False, True])
def test_a_mixed_chunk_gives_the_per_line_paths_records_in_line_order(
    recognized_only,
):
    config = _config(recognized_only=recognized_only, eval_fraction=0.3)
    lines = _mixed_lines(2 * chunk_parser.CHUNK)
    tally = accounting.Tally()
    encoder = chunk_encoder.ChunkEncoder(config, {})
    done = [
        encoder.encode(lines[i : i + chunk_parser.CHUNK], tally)
        for i in (0, chunk_parser.CHUNK)
    ]
    encoder.finish(tally)
    expected, reasons, filtered = _line_by_line(lines, config)
    for split_name in F.SPLITS:
        got = [r for d in done for r in d.records[split_name]]
        assert got == expected[split_name]
        assert sum(n for (_, s), n in tally.written.items() if s == split_name) == len(
            expected[split_name]
        )
    assert sorted(r.reason for d in done for r in d.rejects) == sorted(reasons)
    assert tally.filtered == filtered
    assert tally.lines_read == len(lines)
    accounting.check_accounting({**tally.as_dict(), "rejected": {"all": len(reasons)}})
    assert 0 < len([r for d in done for r in d.raw]) == tally.analyzed


def test_a_failing_batch_parser_costs_speed_not_lines(monkeypatch, caplog):
    lines = _mixed_lines(20)
    expected = chunk_encoder.ChunkEncoder(_config(), {}).encode(
        lines, accounting.Tally()
    )

    def broken(*args):
        raise RuntimeError("bug")

    monkeypatch.setattr(ndjson_batch, "parse_columns", broken)
    with caplog.at_level(logging.ERROR):
        got = chunk_encoder.ChunkEncoder(_config(), {}).encode(
            lines, accounting.Tally()
        )
    assert got.records == expected.records
    assert "batch parser failed" in caplog.text


def test_caps_drop_by_priority_and_the_priority_pass_gives_the_same_priorities():
    config = _config(train_per_class=5, eval_fraction=0.0)
    lines = lines_of([x for x in _mixed_lines(60) if type(x) is Line])
    first = chunk_encoder.CapPriorities(config)
    priorities = first.priorities(lines, accounting.Tally())
    assert priorities and all(s == F.TRAIN for s, _, _ in priorities)
    limit = sorted(p for _, c, p in priorities if c == 0)[4]
    tally = accounting.Tally()
    encoder = chunk_encoder.ChunkEncoder(config, {(0, F.TRAIN): limit})
    done = encoder.encode(lines, tally)
    encoder.finish(tally)
    assert tally.written[("cat", F.TRAIN)] == 5
    assert tally.dropped[("cat", F.TRAIN)] == sum(c == 0 for _, c, _ in priorities) - 5
    assert len(done.records[F.TRAIN]) == 5 + tally.written[("dog", F.TRAIN)]
