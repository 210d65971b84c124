"""The recognition threshold's rule and the prefixes fed "while drawing"."""

from __future__ import annotations

import numpy as np
import pytest

from drawing import ink
from trainer import recognition as R


def _drawing(seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    lengths = [int(n) for n in rng.integers(2, 9, size=4)]
    points = rng.uniform(0, 255, size=(sum(lengths), 2)).astype(np.float32)
    return points, lengths


@pytest.mark.parametrize("seed", range(5))
def test_a_prefix_is_the_ink_of_its_points_drawn_alone(seed):
    points, lengths = _drawing(seed)
    full = ink.normalize_and_delta(points, ink.pen_up_bits(lengths))
    for size in R.prefix_points(full):
        size = int(size)
        pen = ink.pen_up_bits(lengths)[:size].copy()
        pen[-1] = 1.0  # the unfinished stroke ends where the prefix does
        alone = ink.normalize_and_delta(points[:size], pen)
        np.testing.assert_allclose(R.prefix_ink(full, size), alone, atol=1e-5)


def test_prefixes_include_every_stroke_end_and_the_whole_drawing():
    points, lengths = _drawing(7)
    full = ink.normalize_and_delta(points, ink.pen_up_bits(lengths))
    sizes = R.prefix_points(full).tolist()
    assert set(np.cumsum(lengths).tolist()) <= set(sizes)
    assert sizes == sorted(set(sizes)) and sizes[0] >= 2 and sizes[-1] == len(points)


def test_threshold_is_the_lowest_score_meeting_the_precision_target():
    # Top-2 of four drawings: true labels 0, 1, 0, 1.
    values = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.5, 0.45]])
    indices = np.array([[0, 1], [1, 0], [1, 0], [1, 0]])
    labels = np.array([0, 1, 0, 1])
    # Acceptances from the top: 0.9 R, 0.8 R, 0.6 W, 0.5 R, 0.45 W, 0.4 R, ...
    found = R.choose_threshold(values, indices, labels, target=0.75)
    assert found["threshold"] == 0.5 and found["precision"] == 0.75
    assert found["target_met"] and found["recognized"] == 0.75
    strict = R.choose_threshold(values, indices, labels, target=1.0)
    assert strict["threshold"] == 0.8 and strict["recognized"] == 0.5


def test_an_unreachable_target_keeps_the_most_precise_threshold():
    values = np.array([[0.9], [0.8]])
    found = R.choose_threshold(values, np.array([[1], [0]]), np.array([0, 0]), 0.9)
    assert not found["target_met"]
    assert found["threshold"] == 0.8 and found["precision"] == 0.5


def test_while_drawing_report_curve_median_and_latest_classes():
    needed = np.array([0.2, 0.4, 0.9, np.inf, 0.5, 1.0])
    labels = np.array([0, 0, 1, 1, 2, 2])
    report = R.while_drawing_report(needed, labels, ["a", "b", "c"])
    assert report["curve"]["0.1"] == 0.0
    assert report["curve"]["0.5"] == pytest.approx(3 / 6)
    assert report["curve"]["1.0"] == pytest.approx(5 / 6)
    assert report["median_points_needed"] == 0.5
    latest = [c["class"] for c in report["latest_classes"]]
    assert latest == ["b", "c", "a"]
    assert report["latest_classes"][0]["median_points_needed"] is None
