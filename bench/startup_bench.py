"""A first run's wait: a 25-drawing `pipeline.main` run against its imports.

    .venv/bin/python bench/startup_bench.py [--rounds 5] [--input FILE]

A new user's first run converts a few drawings, and waits mostly for Python
to import Beam and tf.Transform, which every run must. So the baseline is
`python -c "import apache_beam, tensorflow_transform"`, and the figure is
the ratio of a whole `python -m pipeline.main` run (one 25-drawing class of
the real sample, default flags) to it: wall-clock seconds of each process,
the two run back to back in every round (which goes first alternates, as
this host's speed changes from minute to minute), and the median of the
rounds' ratios. The goal (issue 28) is at most 1.5x.

It also shows that the run stays quiet: it prints the last run's terminal
output (the summary, then only the product's own log lines) and counts any
other line.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drawing import logs
from tools import sample

REPO = Path(__file__).resolve().parents[1]
BASELINE = [sys.executable, "-c", "import apache_beam, tensorflow_transform"]
GOAL = 1.5
PRODUCT_LINE = re.compile(r"\S+ \S+ [A-Z]+ pipeline: ")


def first_small_class(drawings: int = 25) -> Path:
    """The first class file of the sample with exactly `drawings` drawings."""
    for path in sorted(sample.SAMPLE.glob("*.ndjson")):
        if len(sample.file_lines(path)) == drawings:
            return path
    raise SystemExit(f"no class of {drawings} drawings in {sample.SAMPLE}")


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    """Wall-clock seconds of one process, from this checkout, and its output."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(logs.VERBOSE_ENV, None)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{command} failed:\n{done.stderr[-3000:]}")
    return seconds, done


def run_command(input_file: Path, output: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline.main",
        "--input",
        str(input_file),
        "--output",
        str(output),
    ]


def measure(input_file: Path, rounds: int) -> tuple[list, list, tuple[str, str]]:
    """Seconds of the baseline and of the run in each round; the last run's
    stdout and stderr."""
    imports, runs, shown = [], [], ("", "")
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as folder:
        for r in range(rounds):
            command = run_command(input_file, Path(folder) / f"out{r}")
            for side in ("import", "run") if r % 2 == 0 else ("run", "import"):
                if side == "import":
                    imports.append(timed(BASELINE)[0])
                else:
                    seconds, done = timed(command)
                    runs.append(seconds)
                    shown = (done.stdout, done.stderr)
            print(
                f"round {r + 1}: import {imports[-1]:.1f} s, run {runs[-1]:.1f} s, "
                f"ratio {runs[-1] / imports[-1]:.2f}",
                flush=True,
            )
    return imports, runs, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--input", type=Path, help="default: a 25-drawing class of the sample"
    )
    args = parser.parse_args()
    if args.input is None and not sample.available():
        raise SystemExit(f"the real sample is needed: {sample.SAMPLE}")
    input_file = args.input or first_small_class()
    load = os.getloadavg()
    imports, runs, shown = measure(input_file, args.rounds)
    ratio = statistics.median(r / i for r, i in zip(runs, imports, strict=True))
    stdout, stderr = shown
    print(f"\nthe last run's terminal output:\n{stdout}{stderr}")
    others = [x for x in stderr.splitlines() if not PRODUCT_LINE.match(x)]
    print(f"log lines that are not the product's own: {len(others)}")
    print(f"input: {input_file.name}; {args.rounds} rounds, interleaved")
    end = os.getloadavg()
    print(f"load average (1 min): {load[0]:.2f} at the start, {end[0]:.2f} at the end")
    print(
        f"median import {statistics.median(imports):.1f} s, "
        f"median run {statistics.median(runs):.1f} s"
    )
    print(f"ratio (median of the rounds'): {ratio:.2f}x (goal: at most {GOAL}x)")


if __name__ == "__main__":
    main()
