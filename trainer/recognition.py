"""The game's recognition threshold, and how early drawings are recognized.

The Quick, Draw! game accepts a drawing while it is drawn, as soon as the
asked class shows up with a score above a fixed threshold. The threshold is
chosen here on the eval set: the lowest probability `t` at which at least
`--threshold_precision` of the acceptances are right, an acceptance being any
class that the export's top k shows at `p >= t` (the page sees nothing else).
"Recognized while drawing" feeds each eval drawing's prefixes (its points in
order, every 5% of them and at each stroke end) to the model, batched by
length, and records the first prefix at which the true class passes `t`.
docs/training.md gives the reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from drawing import features as F

log = logging.getLogger("trainer")

CURVE = [round(0.1 * i, 1) for i in range(1, 11)]  # shares of the points
GRID = 20  # prefixes at every 1/GRID of the points, plus the stroke ends
PREFIX_BATCH = 1024
LATEST_CLASSES = 5


def choose_threshold(
    values: np.ndarray, indices: np.ndarray, labels: np.ndarray, target: float
) -> dict:
    """The lowest top-k probability at which the acceptances are right often enough.

    Args:
      values, indices: [N, k] top-k probabilities and class indices per drawing.
      labels: [N] true class indices.
      target: the share of acceptances that must be right.

    Returns:
      threshold, its precision, whether the target was met, and the share of
      drawings whose true class it accepts. When no threshold meets the target,
      the one of highest precision (the lowest among equals).
    """
    scores = values.ravel().astype(np.float64)
    right = (indices == labels[:, None]).ravel()
    order = np.argsort(-scores, kind="stable")
    scores, right = scores[order], right[order]
    precision = np.cumsum(right) / np.arange(1, len(scores) + 1)
    # A threshold accepts every pair at or above it: the last of equal scores.
    last = np.r_[scores[1:] != scores[:-1], True]
    candidates = np.flatnonzero(last)
    met = candidates[precision[candidates] >= target]
    if met.size:
        pick = int(met[-1])
    else:
        best = precision[candidates].max()
        pick = int(candidates[precision[candidates] == best][-1])
        log.warning(
            "no threshold reaches precision %.3f on the eval set; using %.4f "
            "(precision %.3f)",
            target,
            scores[pick],
            best,
        )
    threshold = float(scores[pick])
    accepted = (values >= threshold) & (indices == labels[:, None])
    return {
        "threshold": threshold,
        "precision_target": float(target),
        "precision": float(precision[pick]),
        "target_met": bool(met.size),
        "recognized": float(accepted.any(axis=1).mean()),
    }


def prefix_points(ink: np.ndarray) -> np.ndarray:
    """Prefix sizes (points) of one drawing: every 1/GRID of it and each stroke
    end, at least 2 points (one ink row), ascending."""
    points = len(ink) + 1
    grid = np.floor(np.arange(1, GRID + 1) * points / GRID).astype(np.int64)
    ends = np.flatnonzero(ink[:, 2] > 0.5) + 2  # row i ends at point i + 1
    sizes = np.unique(np.r_[grid, ends, points])
    return sizes[sizes >= 2]


def prefix_ink(ink: np.ndarray, points: int) -> np.ndarray:
    """The ink of a drawing's first `points` points, as if drawn alone.

    The ink is size-normalised over the whole drawing; the prefix is scaled
    to its own bounding box (each axis, as `drawing.ink` does), and its last
    point ends a stroke, as the page's unfinished stroke does.
    """
    rows = np.array(ink[: points - 1], dtype=np.float32)
    positions = np.concatenate([np.zeros((1, 2)), np.cumsum(rows[:, :2], axis=0)])
    extent = positions.max(axis=0) - positions.min(axis=0)
    extent[extent <= 0] = 1.0
    rows[:, :2] /= extent.astype(np.float32)
    rows[-1, 2] = 1.0
    return rows


def _true_class_scores(
    model: keras.Model, inks: Sequence[np.ndarray], labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each ink's probability of its label, and the label's rank (0 = top)."""

    @tf.function(reduce_retracing=True, autograph=False)
    def score(ink, lengths, y):
        probabilities = model({F.INK: ink, F.LENGTHS: lengths}, training=False)
        true = tf.gather(probabilities, y, axis=1, batch_dims=1)
        rank = tf.reduce_sum(tf.cast(probabilities > true[:, None], tf.int32), 1)
        return true, rank

    order = np.argsort([len(x) for x in inks], kind="stable")  # little padding
    true = np.zeros(len(inks), np.float32)
    rank = np.zeros(len(inks), np.int32)
    for start in range(0, len(order), PREFIX_BATCH):
        chosen = order[start : start + PREFIX_BATCH]
        width = max(len(inks[i]) for i in chosen)
        batch = np.zeros((len(chosen), width, F.INK_CHANNELS), np.float32)
        for row, i in enumerate(chosen):
            batch[row, : len(inks[i])] = inks[i]
        lengths = np.array([len(inks[i]) for i in chosen], np.int32)
        t, r = score(batch, lengths, labels[chosen].astype(np.int32))
        true[chosen], rank[chosen] = t.numpy(), r.numpy()
    return true, rank


def points_needed(
    model: keras.Model,
    inks: Sequence[np.ndarray],
    labels: np.ndarray,
    threshold: float,
    top_k: int,
) -> np.ndarray:
    """Per drawing, the share of its points at its first recognized prefix
    (the true class in the top k at `>= threshold`); inf if never."""
    owners, sizes, prefixes = [], [], []
    for i, ink in enumerate(inks):
        for points in prefix_points(ink):
            owners.append(i)
            sizes.append(points / (len(ink) + 1))
            prefixes.append(prefix_ink(ink, int(points)))
    owners_a, sizes_a = np.array(owners, np.int64), np.array(sizes)
    true, rank = _true_class_scores(model, prefixes, labels[owners_a])
    passed = (true >= threshold) & (rank < top_k)
    needed = np.full(len(inks), np.inf)
    np.minimum.at(needed, owners_a[passed], sizes_a[passed])
    return needed


def while_drawing_report(needed: np.ndarray, labels: np.ndarray, classes) -> dict:
    """The curve, the median share of points needed and the latest classes."""
    recognized = np.isfinite(needed)
    curve = {f"{x:.1f}": float((needed <= x + 1e-9).mean()) for x in CURVE}
    ranked = []
    for c, name in enumerate(classes):
        mine = needed[labels == c]
        if not mine.size:
            continue
        median, share = float(np.median(mine)), float(np.isfinite(mine).mean())
        item = {
            "class": name,
            "median_points_needed": median if np.isfinite(median) else None,
            "recognized": share,
        }
        ranked.append(((median, -share), item))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    per_class = [item for _, item in ranked]
    return {
        "drawings": int(len(needed)),
        "curve": curve,
        "median_points_needed": float(np.median(needed[recognized]))
        if recognized.any()
        else None,
        "latest_classes": per_class[:LATEST_CLASSES],
    }
