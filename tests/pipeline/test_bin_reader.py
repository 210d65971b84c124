"""Binary `.bin` input: planned into work units, read into the ndjson path's records.

A binary run of some drawings writes the same records, dead letters and
accounting as the ndjson run of the same drawings; it mixes with ndjson input;
a big file becomes many work units that hold every drawing once, walked by the
job, not the launcher; a file that ends inside a drawing is counted and named
in stats.json and errors/.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import apache_beam as beam
import numpy as np
import orjson
import pytest
import tensorflow as tf

from drawing import features as F
from pipeline import bin_reader, chunk_parser, job, main, sources, stripe_reader
from pipeline.config import PipelineConfig
from tests.shared_data import requires_sample
from tests.synthetic import binary_drawings, random_line
from tools import sample

LOCAL = ["--runner=FnApiRunner", "--direct_running_mode=in_memory"]
NO_TRANSFORM = ["--analysis_fraction=0", "--eval_fraction=0.3", *LOCAL]
_RNG = np.random.default_rng(18)
_BAD = [  # a single point and an empty drawing: the same rejections either way
    orjson.dumps({F.WORD: "circle", F.KEY_ID: "77", F.DRAWING: [[[5], [6]]]}),
    orjson.dumps({F.WORD: "circle", F.KEY_ID: "78", F.DRAWING: [[[], []]]}),
]
LINES = {
    "circle": [random_line("circle", str(i), _RNG) for i in range(300)] + _BAD,
    "square": [random_line("square", str(10**6 + i), _RNG) for i in range(300)],
}


def _write(folder: Path, kinds: dict[str, str], lines=LINES) -> Path:
    """Each class's lines as `<class>.ndjson`, `.bin` or `.bin.gz`."""
    folder.mkdir()
    for word, kind in kinds.items():
        if kind == "ndjson":
            data = b"\n".join(lines[word]) + b"\n"
        else:
            data = binary_drawings(lines[word])
        if kind.endswith(".gz"):
            data = gzip.compress(data)
        (folder / f"{word}.{kind}").write_bytes(data)
    return folder


def _run(tmp_path: Path, name: str, kinds: dict, *flags: str) -> tuple[Path, dict]:
    data = _write(tmp_path / f"{name}_in", kinds)
    out = tmp_path / name
    args = ["--input", str(data), "--output", str(out), *flags, *NO_TRANSFORM]
    assert main.main(args) == 0
    return out, json.loads((out / F.STATS_FILE).read_text())


def _records(out: Path, split_name: str) -> list[bytes]:
    paths = sorted(str(p) for p in out.glob(f"{F.SPLIT_PREFIX[split_name]}-*"))
    return sorted(r.numpy() for r in tf.data.TFRecordDataset(paths))


def _errors(out: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in (out / F.ERRORS_DIR).glob("*.ndjson")
        for line in path.read_text().splitlines()
    ]


def _same_outcome(a: Path, a_stats: dict, b: Path, b_stats: dict) -> None:
    for split_name in F.SPLITS:
        assert _records(a, split_name) == _records(b, split_name)
    for key in ("lines_read", "written", "rejected", "per_class", "filtered"):
        assert a_stats[key] == b_stats[key], key
    reasons = [sorted(e["reason"] for e in _errors(o)) for o in (a, b)]
    assert reasons[0] == reasons[1]


@pytest.mark.slow
def test_binary_and_mixed_runs_write_the_ndjson_runs_records(tmp_path):
    kinds = {"circle": "ndjson", "square": "ndjson"}
    ndjson_out, ndjson_stats = _run(tmp_path, "ndjson", kinds)
    assert ndjson_stats["rejected"] == {"empty_drawing": 1, "single_point": 1}
    bin_out, bin_stats = _run(tmp_path, "bin", {"circle": "bin", "square": "bin.gz"})
    _same_outcome(ndjson_out, ndjson_stats, bin_out, bin_stats)
    for error in _errors(bin_out):  # where to find the drawing, and its bytes
        data = (tmp_path / "bin_in" / "circle.bin").read_bytes()
        shown = bytes.fromhex(error["line"])
        assert data[error["offset"] :].startswith(shown)
        assert error["line_number"] in (301, 302)
    mixed = {"circle": "bin", "square": "ndjson"}
    mixed_out, mixed_stats = _run(tmp_path, "mixed", mixed, "--stripe_mb=1")
    _same_outcome(ndjson_out, ndjson_stats, mixed_out, mixed_stats)


def _plan(stripes: list[sources.Stripe]) -> list[sources.Stripe]:
    """`stripes` with every split binary file's ranges moved to drawing starts,
    walked here, as the job's AlignBinary step does on its workers."""
    walks = {p: bin_reader.walk(p, b) for p, b in bin_reader.bounds(stripes).items()}
    return [bin_reader.align(s, walks) for s in stripes]


def test_a_big_file_becomes_many_units_that_hold_every_drawing_once(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(bin_reader, "PLAN_BLOCK", 1000)  # the walk crosses blocks
    lines = [random_line("circle", str(i), _RNG) for i in range(3000)]
    path = tmp_path / "circle.bin"
    path.write_bytes(binary_drawings(lines))
    files = sources.match_inputs([str(tmp_path / "*.bin")])
    stripes = _plan(sources.plan_stripes(files, 20_000, min_stripes=2))
    assert len(stripes) > 5
    read = [r for s in stripes for r in stripe_reader.read_stripe(s)[0]]
    assert not [d for s in stripes for d in stripe_reader.read_stripe(s)[1]]
    keys = sorted(
        int(chunk_parser.parse_line(r, {"circle": 0}, 99).key_id) for r in read
    )
    assert keys == list(range(3000))
    assert sorted(r.line_number for r in read) == list(range(1, 3001))


def test_a_gcs_bin_is_planned_and_read_like_a_local_one(gcs, gcs_bucket):
    lines = [random_line("circle", str(i), _RNG) for i in range(1000)]
    gcs.upload_bytes(binary_drawings(lines), f"{gcs_bucket}/in/circle.bin")
    files = sources.match_inputs([f"{gcs_bucket}/in/*.bin"])
    stripes = _plan(sources.plan_stripes(files, 5_000, min_stripes=2))
    assert len(stripes) > 5
    read = [r for s in stripes for r in stripe_reader.read_stripe(s)[0]]
    assert sorted(r.line_number for r in read) == list(range(1, 1001))


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_big_file_is_reported_once_with_what_it_kept(
    tmp_path, monkeypatch, damage
):
    monkeypatch.setattr(bin_reader, "PLAN_BLOCK", 4096)
    lines = [random_line("circle", str(i), _RNG) for i in range(2000)]
    data = binary_drawings(lines)
    whole = binary_drawings(lines[:1234])
    broken = bytearray(data[: len(whole) + 20])  # inside drawing 1235
    if damage == "corrupt":
        broken = bytearray(data)
        broken[len(whole) + 10] = 0x80  # its recognized byte
    (tmp_path / "circle.bin").write_bytes(bytes(broken))
    files = sources.match_inputs([str(tmp_path)])
    stripes = _plan(sources.plan_stripes(files, 20_000, min_stripes=2))
    read = [stripe_reader.read_stripe(s) for s in stripes]
    assert sum(len(records) for records, _ in read) == 1234
    [found] = [d for _, damaged in read for d in damaged]
    assert (found.reason, found.lines_read, found.line_number) == (damage, 1234, 1235)
    assert found.offset == len(whole)
    assert bytes(broken[len(whole) :]).startswith(found.partial_line)


def test_the_launcher_reads_no_bin_file_its_workers_walk_them(tmp_path, monkeypatch):
    data = _write(tmp_path / "in", {"circle": "bin", "square": "ndjson"})
    files = sources.match_inputs([str(data)])
    assert bin_reader.bounds(sources.plan_stripes(files, 1 << 20)), (
        "circle.bin is split"
    )

    def walk(*args):
        raise AssertionError("the launcher walked a .bin file")

    monkeypatch.setattr(bin_reader, "walk", walk)
    config = PipelineConfig(inputs=(str(data),), output=str(tmp_path / "out"))
    p = beam.Pipeline()
    job.build(p, config, files, ["circle", "square"], run_id="test")
    steps = p.to_runner_api().components.transforms.values()
    assert any(t.unique_name.endswith("AlignBinary/Walk") for t in steps)


@pytest.mark.slow
def test_a_truncated_file_is_counted_in_stats_and_errors(tmp_path, capsys):
    data = _write(tmp_path / "in", {"square": "ndjson"})
    whole = binary_drawings(LINES["circle"][:100])
    (data / "circle.bin").write_bytes(
        binary_drawings(LINES["circle"])[: len(whole) + 9]
    )
    out = tmp_path / "out"
    assert main.main(["--input", str(data), "--output", str(out), *NO_TRANSFORM]) == 0
    stats = json.loads((out / F.STATS_FILE).read_text())
    [report] = stats["damaged_files"]
    assert report["path"] == str(data / "circle.bin")
    assert (report["reason"], report["lines_read"]) == ("truncated", 100)
    assert (report["bytes_read"], report["partial_line_bytes"]) == (len(whole), 9)
    assert stats["lines_read"] == 300 + 100
    [error] = _errors(out)
    assert (error["reason"], error["line_number"]) == ("damaged_file", 101)
    assert "WARNING: 1 damaged input file(s)" in capsys.readouterr().out


@requires_sample
@pytest.mark.slow
def test_real_drawings_as_bin_write_the_records_of_their_ndjson(tmp_path):
    classes = sorted(sample.big_classes())[:3]
    real = {c: sample.file_lines(sample.SAMPLE / f"{c}.ndjson") for c in classes}
    outs = []
    for kind in ("ndjson", "bin"):
        folder = _write(tmp_path / f"{kind}_in", dict.fromkeys(classes, kind), real)
        out = tmp_path / kind
        args = ["--input", str(folder), "--output", str(out), *NO_TRANSFORM]
        assert main.main(args) == 0
        outs += [out, json.loads((out / F.STATS_FILE).read_text())]
    assert sum(outs[1]["written"].values()) > 1000
    _same_outcome(*outs)
