"""--overwrite: the old dataset goes only once the new one is complete.

A run stages everything under OUTPUT/.incoming/ and swaps it in as its last
step (pipeline.staging), so a killed or failing run, or a dry run, leaves an
old dataset byte for byte as it was, `_SUCCESS` included.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest

from drawing import features as F
from pipeline import accounting, job, main
from tests.synthetic import random_file

REPO = Path(__file__).resolve().parents[2]
LOCAL = ["--runner=FnApiRunner", "--direct_running_mode=in_memory"]
NO_TRANSFORM = ["--analysis_fraction=0", *LOCAL]
FINAL_FILES = {F.CLASSES_FILE, F.STATS_FILE, F.SUCCESS_FILE}


def _snapshot(output: Path) -> dict[str, bytes]:
    """Every file of the dataset in `output` (not the staging folder), by name."""
    return {
        str(p.relative_to(output)): p.read_bytes()
        for p in sorted(output.rglob("*"))
        if p.is_file() and p.relative_to(output).parts[0] != F.STAGING_DIR
    }


def _input(folder: Path, words: list[str], per_class: int) -> Path:
    folder.mkdir()
    for i, word in enumerate(words):
        random_file(folder / f"{word}.ndjson", word, per_class, 1 + i * 10**6)
    return folder


def _old_dataset(tmp_path: Path, *flags: str) -> Path:
    """A finished dataset of two classes, three shards per split."""
    data = _input(tmp_path / "old_in", ["circle", "square"], 40)
    out = tmp_path / "out"
    args = ["--input", str(data), "--output", str(out), "--num_shards=3", *flags]
    assert main.main([*args, *LOCAL]) == 0
    assert (out / F.SUCCESS_FILE).exists()
    return out


def _staged_files(output: Path) -> list[Path]:
    try:
        return [p for p in (output / F.STAGING_DIR).rglob("*") if p.is_file()]
    except OSError:  # a folder vanished while it was listed: Beam's temp files
        return []


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met in {timeout} s")
        time.sleep(0.01)


def _only_the_new_dataset(out: Path, stats: dict) -> None:
    """`out` holds the files stats.json lists, the three final files, nothing else."""
    on_disk = {str(p) for p in out.rglob("*") if p.is_file()}
    assert on_disk == set(stats["shards"]) | {str(out / n) for n in FINAL_FILES}
    assert not (out / F.STAGING_DIR).exists()


@pytest.mark.slow
def test_a_killed_run_leaves_the_old_dataset_and_the_next_run_cleans_up(
    tmp_path, caplog
):
    out = _old_dataset(tmp_path, "--analysis_fraction=0")
    before = _snapshot(out)
    big = _input(tmp_path / "big", ["circle", "square", "star", "zigzag"], 5000)
    log = tmp_path / "killed_run.log"
    with log.open("wb") as log_file:
        # The CLI as a user starts it: the default runner, all cores.
        run = subprocess.Popen(
            [sys.executable, "-m", "pipeline.main", "--input", str(big)]
            + ["--output", str(out), "--overwrite", "--analysis_fraction=0"],
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, workers included
        )
        try:
            _wait_for(lambda: run.poll() is not None or _staged_files(out), 300)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
            run.wait()

    assert run.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    assert _staged_files(out)  # killed while it was writing its files
    assert _snapshot(out) == before  # every old byte, _SUCCESS included

    new = _input(tmp_path / "new_in", ["star"], 30)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        args = ["--input", str(new), "--output", str(out), "--overwrite"]
        assert main.main([*args, *NO_TRANSFORM]) == 0
    assert "left by a run that did not finish" in caplog.text
    stats = json.loads((out / F.STATS_FILE).read_text())
    assert stats["lines_read"] == 30
    assert (out / F.CLASSES_FILE).read_text() == "star\n"
    _only_the_new_dataset(out, stats)


@pytest.mark.slow
def test_a_run_that_fails_leaves_the_old_dataset(tmp_path, monkeypatch):
    out = _old_dataset(tmp_path, "--analysis_fraction=0")
    before = _snapshot(out)

    def fail(stats):
        raise RuntimeError("injected failure in the last step")

    # The last check before the swap: every shard is staged by then.
    monkeypatch.setattr(accounting, "check_accounting", fail)
    new = _input(tmp_path / "new_in", ["star"], 30)
    args = ["--input", str(new), "--output", str(out), "--overwrite"]
    with pytest.raises(Exception, match="injected failure in the last step"):
        main.main([*args, *NO_TRANSFORM])

    assert _snapshot(out) == before
    assert [p for p in _staged_files(out) if p.name.startswith(F.TRAIN_PREFIX)]


@pytest.mark.slow
def test_overwrite_replaces_every_old_file(tmp_path):
    # The old dataset has three shards per split, tf.Transform's output and a
    # file of the user's; the new one, one shard per split and no transform.
    out = _old_dataset(tmp_path)
    assert (out / F.TRANSFORM_DIR / "transform_fn").is_dir()
    (out / "notes.txt").write_text("mine")
    new = _input(tmp_path / "new_in", ["star", "zigzag"], 30)

    args = ["--input", str(new), "--output", str(out), "--overwrite"]
    assert main.main([*args, "--num_shards=1", *NO_TRANSFORM]) == 0

    stats = json.loads((out / F.STATS_FILE).read_text())
    _only_the_new_dataset(out, stats)
    for prefix in (F.TRAIN_PREFIX, F.EVAL_PREFIX):
        assert [p.name for p in out.glob(f"{prefix}-*")] == [f"{prefix}-00000-of-00001"]
    assert not (out / F.TRANSFORM_DIR).exists()
    assert (out / F.CLASSES_FILE).read_text() == "star\nzigzag\n"
    assert sum(stats["written"].values()) == 60


@pytest.mark.slow
def test_a_run_that_writes_nothing_does_not_report_the_old_stats(
    tmp_path, monkeypatch, capsys
):
    """As a Dataflow dry run: the job is built, nothing runs, the old stays."""
    out = _old_dataset(tmp_path, "--analysis_fraction=0")
    before = _snapshot(out)
    monkeypatch.setattr(job, "build", lambda p, *_: p | beam.Create([np.int64(0)]))
    new = _input(tmp_path / "new_in", ["star"], 30)
    args = ["--input", str(new), "--output", str(out), "--overwrite"]

    assert main.main([*args, *NO_TRANSFORM]) == 0

    assert "Job built; nothing written to" in capsys.readouterr().out
    assert _snapshot(out) == before
