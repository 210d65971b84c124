"""Input that yields less than it seems: damaged compressed files, empty classes.

Neither may pass in silence: a compressed file that breaks off is read up to
the break and named in stats.json, errors/ and the summary; an input file or
a class without drawings is named in stats.json and the summary.
"""

from __future__ import annotations

import gzip
import itertools
import json

import numpy as np
import pytest

from drawing import features as F
from pipeline import (
    accounting,
    decompress,
    main,
)
from tests.pipeline.test_decompress import DATA, LINES, _truncated
from tests.pipeline.test_split import assign
from tests.synthetic import random_file, random_line

LOCAL = ["--runner=FnApiRunner", "--direct_running_mode=in_memory"]
NO_TRANSFORM = ["--analysis_fraction=0", *LOCAL]


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


def _one_training_drawing(word: str) -> bytes:
    """A line whose key_id falls in the training split."""
    keys = (str(k) for k in itertools.count(10**7))
    key = next(k for k in keys if assign(k, 0.1)[0] == F.TRAIN)
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
