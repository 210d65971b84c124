"""The chunk encoder against the per-line path: same records, rejects, counts."""

from __future__ import annotations

import logging

import orjson
import pytest

from drawing import binary as binary_format
from drawing import features as F
from drawing import ink, ndjson, ndjson_batch
from pipeline import accounting, chunk_encoder, chunk_parser, records, split
from pipeline.config import PipelineConfig
from pipeline.encode_config import EncodeConfig
from pipeline.lines import Line, Lines, Record

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
            data = binary_format.pack(binary_format.from_record(record))
            lines.append(Record("c.bin", 0, k + 1, data, record["word"]))
        else:
            lines.append(Line("c.ndjson", k, k + 1, text))
    return Lines.of(lines)


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
        split_name, _ = split.assign(drawing.key_id, config.eval_fraction)
        example = records.serialize(drawing, encoded, class_index[drawing.word])
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


def test_the_batch_parsers_take_canonical_lines_and_binary_drawings_unless_simplify():
    lines = _mixed_lines(10)
    class_index = {c: i for i, c in enumerate(CLASSES)}
    taken = chunk_parser.parse_canonical(lines, _config(), class_index).index
    assert sorted(taken) == [k for k in range(10) if k % 5 in (0, 3, 4)]
    assert not chunk_parser.parse_canonical(
        lines, _config(simplify=True), class_index
    ).index


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
    lines = Lines.of([x for x in _mixed_lines(60) if type(x) is Line])
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


def test_assign_many_is_assign():
    keys = ["1", "5262014343544832", "ünïcode", "", *map(str, range(500))]
    is_eval, priority = split.assign_many([k.encode() for k in keys], 0.1)
    for k, e, p in zip(keys, is_eval.tolist(), priority.tolist(), strict=True):
        assert split.assign(k, 0.1) == (F.EVAL if e else F.TRAIN, p)


def test_tfrecords_frames_records_as_tensorflow_reads_them(tmp_path):
    import tensorflow as tf  # checks every length and data CRC as it reads

    examples = [b"", b"a", b"x" * 70000, bytes(range(256))]
    path = tmp_path / "framed.tfrecord"
    path.write_bytes(records.tfrecords(examples))
    read = [r.numpy() for r in tf.data.TFRecordDataset(str(path))]
    assert read == examples
