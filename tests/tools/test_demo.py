"""`make demo`'s steps end to end at a reduced size, with and without ../shared.

One test runs the demo twice into one folder (a re-run must work), the second
time on the real sample when ../shared holds it: each run costs about 1.5 min.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

from drawing import logs
from serving import site
from tools import sample

REPO = Path(__file__).resolve().parents[2]
# Each runs the whole product: pipeline, training, export, pictures.
pytestmark = pytest.mark.slow
PICTURES = (
    "predictions.png",
    "eval_records.png",
    "data_stats.png",
    "training_curves.png",
    "confusion.png",
    "recognition.png",
)


# What the demo may print on stderr: the product's log lines, and the picture
# tool's note about the bad line planted in the predictions' input.
PRODUCT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d [\d:,]+ (INFO|WARNING) (pipeline|trainer|serving|tools)[\w.]*: "
    r"|^\S+predict_me\.ndjson:\d+: skipped \(malformed_json"
)


def _demo(out: Path, *extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != logs.VERBOSE_ENV}
    result = subprocess.run(
        [sys.executable, "-m", "tools.demo", "--quick", f"--output={out}", *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Quiet by default: no library notices between the product's own lines.
    noise = [x for x in result.stderr.splitlines() if not PRODUCT_LINE.match(x)]
    assert not noise, "\n".join(noise[:20])
    return result.stdout


def _check(out: Path, stdout: str) -> None:
    assert "=== Done in" in stdout
    for step in range(1, 7):
        assert f"[{step}/6]" in stdout
    stats = json.loads((out / "data" / "stats.json").read_text())
    assert stats["written"]["train"] > 0 and "transform" in stats
    report = json.loads((out / "model" / "eval_report.json").read_text())
    assert report["num_examples"] == stats["written"]["eval"]
    threshold = report["recognition"]["threshold"]
    assert f"recognition threshold {threshold:.3f}" in stdout
    curve = report["recognition"]["while_drawing"]["curve"]
    assert f"by share of points: 10%:{curve['0.1']:.0%}" in stdout
    assert "median share of points needed" in stdout
    predictions = [
        json.loads(line)
        for line in (out / "predictions.jsonl").read_text().splitlines()
    ]
    assert sum("top_k" in p for p in predictions) >= 4
    assert [p for p in predictions if "error" in p]  # the planted bad line
    for name in PICTURES:
        image = matplotlib.image.imread(out / "pictures" / name)
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert image.std() > 0.01, f"{name} is blank"
    if site.runtime_files():  # the page as a static site, and how to open it
        assert '<html lang="en" data-site="static">' in (
            (out / "site" / "index.html").read_text()
        )
        assert (out / "site" / "ondevice" / "model.tflite").is_file()
        assert f"python3 -m http.server -d {out / 'site'} 8000" in stdout


def test_demo_runs_on_synthetic_drawings_then_again_in_the_same_folder(tmp_path):
    """Synthetic drawings, then a second run into the same folder: on the real
    sample when it is present (as `make demo` runs on a fresh machine with
    ../shared), else on synthetic drawings again."""
    out = tmp_path / "demo"
    stdout = _demo(out, "--synthetic")
    assert "synthetic drawings" in stdout
    _check(out, stdout)
    if sample.available():
        stdout = _demo(out)
        assert "real Quick, Draw! drawings" in stdout
    else:
        stdout = _demo(out, "--synthetic")
    _check(out, stdout)
