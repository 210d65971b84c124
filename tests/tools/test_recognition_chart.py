"""The demo's "recognized while drawing" chart and summary lines."""

from __future__ import annotations

from pathlib import Path

from tests.tools.pictures import assert_picture
from tools import recognition_chart


def _report() -> dict:
    curve = {f"{x / 10:.1f}": min(1.0, x / 12) for x in range(1, 11)}
    latest = [
        {"class": "bat", "median_points_needed": None, "recognized": 0.3},
        {"class": "cat", "median_points_needed": 0.8, "recognized": 0.7},
    ]
    return {
        "recognition": {
            "threshold": 0.61,
            "precision": 0.95,
            "precision_target": 0.95,
            "recognized": 0.5543,
            "while_drawing": {
                "drawings": 750,
                "curve": curve,
                "median_points_needed": 0.55,
                "latest_classes": latest,
            },
        }
    }


def test_plot_recognition(tmp_path: Path) -> None:
    report = _report()
    out = recognition_chart.plot_recognition(report, tmp_path / "recognition.png")
    assert_picture(out, 500, 300)
    empty = recognition_chart.plot_recognition({}, tmp_path / "empty.png")
    assert_picture(empty, 500, 300)


def test_summary_says_the_threshold_curve_median_and_latest_classes() -> None:
    lines = recognition_chart.summary(_report()).splitlines()
    assert lines[0] == (
        "recognition threshold 0.610: precision 0.950 (target 0.95), recognizes "
        "55.4% of the eval drawings"
    )
    assert lines[1].startswith(
        "recognized while drawing (750 drawings), by share of points: 10%:8% 20%:17%"
    )
    assert lines[1].endswith("100%:83%")
    assert lines[2] == "median share of points needed: 55%"
    assert lines[3] == (
        "recognized latest (share of points): bat (only 30% ever), cat (median 80%)"
    )
    assert recognition_chart.summary({}) == (
        "recognition threshold: none (no eval drawings)"
    )
