"""Quiet by default (drawing.logs): what is dropped, what must still show."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drawing import logs

REPO = Path(__file__).resolve().parents[2]

# Lines as TensorFlow 2.21 prints them on a machine without a GPU.
NOTICES = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written "
    b"to STDERR\n",
    b"I0000 00:00:1795315782.603482    3747 port.cc:153] oneDNN custom operations "
    b"are on. You may see slightly different numerical results.\n",
    b"I0000 00:00:1795315782.604159    3747 cudart_stub.cc:31] Could not find cuda "
    b"drivers on your machine, GPU will not be used.\n",
    b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, "
    b"rebuild TensorFlow with the appropriate compiler flags.\n",
    b"W0000 00:00:1795315782.710302    3747 some_op.cc:12] a library warning\n",
    b"\t [[{{node IteratorGetNext}}]]\n",
    b"E0000 00:00:1795315916.030852    7040 util.cc:131] oneDNN supports DT_BOOL "
    b"only on platforms with AVX-512. Falling back to the default Eigen-based "
    b"implementation if present.\n",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
]
CUINIT = (
    b"E0000 00:00:1795315785.990683    3747 cuda_platform.cc:52] failed call to "
    b"cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
REAL = [
    b"E0000 00:00:1795315785.990683    3747 bfc_allocator.cc:12] OOM when "
    b"allocating tensor\n",
    b"Traceback (most recent call last):\n",
    b'  File "x.py", line 1, in <module>\n',
    b"F0000 00:00:1795315785.990683    3747 check.cc:1] Check failed: x\n",
    b"2026-11-22 02:51:43,671 INFO trainer: training starts at epoch 0, step 0\n",
]


def _filtered(lines: list[bytes], gpu_driver: bool) -> list[bytes]:
    out = io.BytesIO()
    logs.filter_lines(lines, out, logs.noise_pattern(gpu_driver))
    return out.getvalue().splitlines(keepends=True)


def test_filter_drops_notices_and_keeps_real_errors() -> None:
    assert _filtered([*NOTICES, CUINIT, *REAL], gpu_driver=False) == REAL


def test_cuinit_failure_shows_where_there_is_a_gpu_driver() -> None:
    assert _filtered([CUINIT], gpu_driver=True) == [CUINIT]


def _record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, (), None)


@pytest.mark.parametrize(
    ("name", "level", "message", "shown"),
    [
        ("pipeline", logging.INFO, "progress: work unit 1/8 done", True),
        ("trainer.statistics", logging.INFO, "4 classes", True),
        ("tools", logging.WARNING, "a warning of ours", True),
        ("tensorflow", logging.INFO, "Assets added to graph.", False),
        ("absl", logging.WARNING, "Feature drawing_x has no shape.", False),
        ("py.warnings", logging.WARNING, "DeprecationWarning: ...", False),
        ("apache_beam.io", logging.ERROR, "Failed to write shard", True),
        ("tensorflow", logging.ERROR, "Issue encountered when serializing tft_", False),
        ("tensorflow", logging.ERROR, "Issue encountered when serializing x", True),
    ],
)
def test_records(name: str, level: int, message: str, shown: bool) -> None:
    assert logs.QuietFilter().filter(_record(name, level, message)) is shown


@pytest.mark.parametrize(
    ("argv", "env", "verbose"),
    [([], "", False), (["--verbose"], "", True), ([], "1", True), ([], "0", False)],
)
def test_verbose_from_flag_or_environment(monkeypatch, argv, env, verbose) -> None:
    monkeypatch.setenv(logs.VERBOSE_ENV, env)
    assert logs.verbose_requested(argv) is verbose


def _predict(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != logs.VERBOSE_ENV}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "serving.predict", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_command_line_is_quiet_unless_verbose(tmp_path: Path) -> None:
    """TensorFlow's import notices and cuInit error: gone; --verbose: back."""
    quiet = _predict("--help")
    assert quiet.returncode == 0, quiet.stderr
    assert "usage:" in quiet.stdout
    assert quiet.stderr == ""
    verbose = _predict("--help", "--verbose")
    assert "absl::InitializeLog" in verbose.stderr  # TensorFlow's own start-up
    from_env = _predict("--help", env={logs.VERBOSE_ENV: "1"})
    assert "absl::InitializeLog" in from_env.stderr


def test_a_real_failure_still_shows(tmp_path: Path) -> None:
    line = tmp_path / "one.ndjson"
    line.write_text('{"drawing": [[[0, 1], [0, 1]]]}\n')
    # Marked complete, but no SavedModel in it: TensorFlow's own failure.
    marker = tmp_path / "no_model" / "assets.extra" / "export_complete"
    marker.parent.mkdir(parents=True)
    marker.write_text("complete\n")
    failed = _predict("--model", str(tmp_path / "no_model"), str(line))
    assert failed.returncode != 0
    assert "Traceback" in failed.stderr
    assert "no_model" in failed.stderr
    assert "absl::InitializeLog" not in failed.stderr


@pytest.mark.slow
def test_the_pipeline_shows_its_own_lines_only(tmp_path: Path) -> None:
    """Beam, tf.Transform and TensorFlow notices gone; worker progress kept."""
    from tools import synth

    synth.write_dataset(tmp_path / "in", 2, 20, seed=1)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.main",
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "out"),
        ],  # fmt: skip
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != logs.VERBOSE_ENV},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "lines read" in run.stdout
    lines = run.stderr.splitlines()
    assert lines, "the pipeline's own progress is missing"
    assert all(" INFO pipeline: " in line for line in lines), run.stderr
    assert any("progress: work unit" in line for line in lines)
