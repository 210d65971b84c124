"""Input that yields less than it seems: damaged compressed files, empty classes.

Neither may pass in silence: a compressed file that breaks off is read up to
the break and named in stats.json, errors/ and the summary; an input file or
a class without drawings is named in stats.json and the summary.
"""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import json
import lzma

import numpy as np
import pytest

from drawing import features as F
from drawing.flags import InputError
from pipeline import (
    accounting,
    decompress,
    lines,
    main,
    ndjson_reader,
    sources,
    split,
)
from tests.synthetic import random_file, random_line

LOCAL = ["--runner=FnApiRunner", "--direct_running_mode=in_memory"]
NO_TRANSFORM = ["--analysis_fraction=0", *LOCAL]
_RNG = np.random.default_rng(7)
LINES = [random_line("circle", str(i), _RNG) for i in range(2000)]
DATA = b"\n".join(LINES) + b"\n"


def _truncated(compressed: bytes) -> bytes:
    return compressed[: len(compressed) // 2]


def _corrupt_middle(compressed: bytes) -> bytes:
    middle = len(compressed) // 2
    return compressed[:middle] + b"\xff" * 64 + compressed[middle + 64 :]


def _bad_crc(compressed: bytes) -> bytes:
    # gzip's trailer: CRC-32 of the data, then its length, 4 bytes each.
    crc = bytes(b ^ 0xFF for b in compressed[-8:-4])
    return compressed[:-8] + crc + compressed[-4:]


def _read_whole(path) -> tuple[list[bytes], lines.Damage | None]:
    lines, damage = ndjson_reader.read_chunk(sources.Chunk(str(path), 0, None))
    return [line.data for line in lines], damage


@pytest.mark.parametrize(
    ("damage", "reason", "detail"),
    [
        (_truncated, decompress.TRUNCATED, "ended before the end-of-stream"),
        (_corrupt_middle, decompress.CORRUPT, "invalid block type"),
        (_bad_crc, decompress.CORRUPT, "CRC check failed"),
    ],
)
def test_a_damaged_gz_is_read_up_to_the_break_and_reported(
    tmp_path, damage, reason, detail
):
    path = tmp_path / "circle.ndjson.gz"
    path.write_bytes(damage(gzip.compress(DATA)))

    lines, found = _read_whole(path)

    assert lines == LINES[: len(lines)]  # the complete lines, unchanged, in order
    assert found is not None
    assert (found.path, found.reason) == (str(path), reason)
    assert detail in found.detail
    assert found.lines_read == len(lines)
    assert found.line_number == len(lines) + 1
    assert found.offset == sum(len(line) + 1 for line in lines)
    if damage is _bad_crc:  # found at the very end, after all the data
        assert len(lines) == len(LINES) and found.partial_line == b""
    else:
        assert 0 < len(lines) < len(LINES)
        assert LINES[len(lines)].startswith(found.partial_line)


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".ndjson.xz", lzma.compress), (".ndjson.bz2", bz2.compress)],
)
def test_truncated_xz_and_bz2_are_reported_too(tmp_path, suffix, compress):
    path = tmp_path / f"circle{suffix}"
    path.write_bytes(_truncated(compress(DATA)))

    lines, found = _read_whole(path)

    assert lines == LINES[: len(lines)]
    assert found is not None and found.reason == decompress.TRUNCATED
    assert found.lines_read == len(lines) < len(LINES)


def test_a_good_gz_is_read_whole_without_a_report(tmp_path):
    path = tmp_path / "circle.ndjson.gz"
    path.write_bytes(gzip.compress(DATA[:-1]))  # no final newline: still whole

    assert _read_whole(path) == (LINES, None)


def test_a_failing_read_is_an_error_not_a_damaged_file():
    class Dropped(io.BytesIO):
        """A connection that breaks after 1,000 bytes."""

        def read(self, size=-1):
            if self.tell() >= 1000:
                raise OSError("connection reset by peer")
            return super().read(min(size, 1000 - self.tell()))

    with pytest.raises(OSError, match="connection reset by peer"):
        decompress.read_all(Dropped(gzip.compress(DATA)), "gzip")


@pytest.mark.slow
def test_a_damaged_file_is_named_in_stats_errors_and_the_summary(tmp_path, capsys):
    data = tmp_path / "in"
    data.mkdir()
    random_file(data / "square.ndjson", "square", 30, 10**6)
    damaged = data / "circle.ndjson.gz"
    damaged.write_bytes(_truncated(gzip.compress(DATA)))
    out = tmp_path / "out"

    assert main.main(["--input", str(data), "--output", str(out), *NO_TRANSFORM]) == 0

    stats = json.loads((out / F.STATS_FILE).read_text())
    [report] = stats["damaged_files"]
    kept = report["lines_read"]
    assert 0 < kept < len(LINES)
    assert report["path"] == str(damaged)
    assert report["reason"] == decompress.TRUNCATED
    assert report["bytes_read"] == sum(len(line) + 1 for line in LINES[:kept])
    # The complete lines count as lines read; the unfinished one is no line.
    assert stats["lines_read"] == 30 + kept
    assert stats["rejected"] == {}
    assert sum(stats["written"].values()) == 30 + kept
    accounting.check_accounting(stats)
    errors = [
        json.loads(line)
        for path in (out / F.ERRORS_DIR).glob("*.ndjson")
        for line in path.read_text().splitlines()
    ]
    [error] = errors
    assert (error["reason"], error["source"]) == ("damaged_file", str(damaged))
    assert (error["lines_read"], error["line_number"]) == (kept, kept + 1)
    assert LINES[kept].decode().startswith(error["line"])
    shown = capsys.readouterr().out
    assert "WARNING: 1 damaged input file(s), read only up to the damage" in shown
    assert f"  {damaged}: truncated after {kept:,} complete lines" in shown


def test_an_empty_file_leaves_its_class_out_unless_the_classes_file_names_it(
    tmp_path,
):
    files = [
        sources.InputFile("in/circle.ndjson", 10),
        sources.InputFile("in/triangle.ndjson", 0),
        sources.InputFile("in/square.ndjson", 0),
        sources.InputFile("in/square.ndjson.gz", 20),  # square has drawings
    ]
    assert sources.class_set(None, files) == ["circle", "square"]
    named = tmp_path / "classes.txt"
    named.write_text("circle\ntriangle\n")
    assert sources.class_set(str(named), files) == ["circle", "triangle"]
    with pytest.raises(InputError, match="every input file is empty"):
        sources.class_set(None, [sources.InputFile("in/triangle.ndjson", 0)])


def test_a_classes_file_that_cannot_be_read_or_names_no_class_is_one_line(tmp_path):
    files = [sources.InputFile("in/circle.ndjson", 10)]
    named = tmp_path / "classes.txt"
    with pytest.raises(InputError, match=r"cannot be read \(.+\): check the path$"):
        sources.class_set(str(named), files)
    named.write_text("\n \n")
    with pytest.raises(InputError, match="names no class: write one class a line"):
        sources.class_set(str(named), files)


def _one_training_drawing(word: str) -> bytes:
    """A line whose key_id falls in the training split."""
    keys = (str(k) for k in itertools.count(10**7))
    key = next(k for k in keys if split.assign(k, 0.1)[0] == F.TRAIN)
    return random_line(word, key, np.random.default_rng(0)) + b"\n"


@pytest.mark.slow
def test_classes_without_drawings_are_named_in_stats_and_the_summary(tmp_path, capsys):
    data = tmp_path / "in"
    data.mkdir()
    random_file(data / "circle.ndjson", "circle", 100, 1)
    empty = data / "triangle.ndjson"
    empty.write_bytes(b"")
    # Every square is rejected (one point); the one zigzag is a training one.
    single_points = [
        json.dumps({"word": "square", "key_id": str(k), "drawing": [[[1], [2]]]})
        for k in range(5)
    ]
    (data / "square.ndjson").write_text("\n".join(single_points) + "\n")
    (data / "zigzag.ndjson").write_bytes(_one_training_drawing("zigzag"))
    out = tmp_path / "out"
    args = ["--input", str(data), "--output", str(out), *NO_TRANSFORM]

    assert main.main(args) == 0

    classes = (out / F.CLASSES_FILE).read_text().split()
    assert classes == ["circle", "square", "zigzag"]  # no triangle
    stats = json.loads((out / F.STATS_FILE).read_text())
    assert stats["empty_input_files"] == [str(empty)]
    assert stats["left_out_classes"] == ["triangle"]
    assert stats["empty_classes"] == {
        F.TRAIN: ["square"],
        F.EVAL: ["square", "zigzag"],
    }
    shown = capsys.readouterr().out
    assert (
        f"WARNING: 1 empty input file(s): {empty}; class(es) left out: triangle"
    ) in shown
    assert (
        "WARNING: 1 class(es) with no train drawing; "
        "the model can never learn them: square"
    ) in shown
    assert (
        "WARNING: 2 class(es) with no eval drawing; "
        "their accuracy goes unmeasured: square, zigzag"
    ) in shown

    # A class the classes file names stays, its label index with it.
    named = tmp_path / "classes.txt"
    named.write_text("circle\nsquare\ntriangle\nzigzag\n")
    assert main.main([*args, "--overwrite", "--classes_file", str(named)]) == 0
    assert (out / F.CLASSES_FILE).read_text().split() == [
        "circle",
        "square",
        "triangle",
        "zigzag",
    ]
    stats = json.loads((out / F.STATS_FILE).read_text())
    assert stats["left_out_classes"] == []
    assert stats["empty_classes"][F.TRAIN] == ["square", "triangle"]
    assert "no train drawing; the model can never learn them: square, triangle" in (
        capsys.readouterr().out
    )
