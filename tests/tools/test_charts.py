"""The demo's charts: stats.json, training curves and confused pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.tools.pictures import assert_picture
from tools import charts, synth


def _stats(num_classes: int) -> dict:
    rng = np.random.default_rng(0)
    names = [f"class {i}" for i in range(num_classes)]
    return {
        "lines_read": 12345,
        "written": {"train": 9000, "eval": 1000},
        "dropped_by_cap": {"train": 10, "eval": 0},
        "filtered": 300,
        "rejected": {"malformed_json": 3, "single_point": 7},
        "per_class": {
            n: {"train": int(rng.integers(50, 500)), "eval": int(rng.integers(5, 50))}
            for n in names
        },
        "point_length_histogram": {
            "bin_edges": [0, 10, 20, 40, 80, 160, 320],
            "counts": [5, 120, 400, 300, 90, 12],
        },
    }


@pytest.mark.parametrize("num_classes", [5, 345])
def test_plot_stats(tmp_path: Path, num_classes: int) -> None:
    out = charts.plot_stats(_stats(num_classes), tmp_path / "stats.png")
    assert_picture(out, 500, 300)


def test_plot_stats_tolerates_missing_keys(tmp_path: Path) -> None:
    assert_picture(charts.plot_stats({}, tmp_path / "empty.png"), 500, 300)
    partial = {"per_class": {"cat": {"train": 3}}, "point_length_histogram": {}}
    assert_picture(charts.plot_stats(partial, tmp_path / "partial.png"), 500, 300)


def test_plot_history(tmp_path: Path) -> None:
    history = {
        "loss": [2.3, 1.5, 1.1, 0.9],
        "val_loss": [2.0, 1.6, 1.3, 1.2],
        "accuracy": [0.2, 0.5, 0.65, 0.7],
        "val_accuracy": [0.3, 0.5, 0.6, 0.62],
        "top_3_accuracy": [0.4, 0.7, 0.85, 0.9],
        "val_top_3_accuracy": [0.5, 0.7, 0.8, 0.82],
        "learning_rate": [1e-3, 1e-3, 5e-4, 2.5e-4],
    }
    assert_picture(charts.plot_history(history, tmp_path / "history.png"), 400, 300)
    assert_picture(charts.plot_history({}, tmp_path / "no_history.png"), 200, 150)


def test_plot_confusion(tmp_path: Path) -> None:
    def strokes(word: str) -> list[np.ndarray]:
        record = next(synth.generate(word, 1))
        return [np.array(s).T for s in record["drawing"]]

    report = {
        "confused_pairs": [
            {"true": "circle", "predicted": "hexagon", "count": 12},
            {"true": "house", "predicted": "square", "count": 5},
            {"true": "smiley face", "predicted": "circle", "count": 3},
            {"true": "zigzag", "predicted": "lightning", "count": 2},
            {"true": "mystery", "predicted": "circle", "count": 1},
        ]
    }
    words = ["circle", "hexagon", "house", "square", "smiley face", "zigzag"]
    examples: dict[str, object] = {w: strokes(w) for w in words}
    examples["lightning"] = [strokes("lightning"), strokes("lightning")]  # several
    out = charts.plot_confusion(report, examples, tmp_path / "confusion.png")
    assert_picture(out, 400, 300)
    assert_picture(charts.plot_confusion({}, {}, tmp_path / "none.png"), 200, 100)
