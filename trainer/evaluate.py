"""The evaluation report: top-1, top-3, MAP@3, per-class accuracy, confusions,
and the game's recognition threshold and "recognized while drawing".

Computed once at the end of training, over the whole eval set, with the
float32 serving copy of the model, so the figures are those of the export.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from drawing import features as F
from trainer import recognition as R

log = logging.getLogger("trainer")
NUM_CONFUSED_PAIRS = 20


def _most_confused(confusion: np.ndarray, classes: Sequence[str]) -> list[dict]:
    """The largest off-diagonal cells of the confusion matrix, largest first."""
    per_class_count = confusion.sum(axis=1)
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:NUM_CONFUSED_PAIRS]
    confused = []
    for flat in order:
        i, j = divmod(int(flat), len(classes))
        if off[i, j] == 0:
            break
        confused.append(
            {
                "true": classes[i],
                "predicted": classes[j],
                "count": int(off[i, j]),
                "fraction_of_true": float(off[i, j] / per_class_count[i]),
            }
        )
    return confused


def _scores(model: keras.Model, dataset: tf.data.Dataset, k: int, keep: int):
    """Labels, top-k values and indices over the dataset, and the first `keep`
    drawings' ink (unpadded), in one pass with the model in inference mode."""

    @tf.function(reduce_retracing=True, autograph=False)
    def top(features):
        return tf.math.top_k(model(features, training=False), k=k)

    labels, values, indices, inks = [], [], [], []
    for features, y in dataset:
        labels.append(y.numpy())
        best = top(features)
        values.append(best.values.numpy())
        indices.append(best.indices.numpy())
        if len(inks) < keep:
            ink, lengths = features[F.INK].numpy(), features[F.LENGTHS].numpy()
            inks += [ink[i, :n] for i, n in enumerate(lengths[: keep - len(inks)])]
    if not labels:
        return None
    return (
        np.concatenate(labels).astype(np.int64),
        np.concatenate(values),
        np.concatenate(indices).astype(np.int64),
        inks,
    )


def evaluation_report(
    model: keras.Model,
    dataset: tf.data.Dataset,
    classes: Sequence[str],
    top_k: int = 3,
    threshold_precision: float = 0.95,
    recognition_drawings: int = 0,
) -> dict:
    """Top-1/top-3/MAP@3, per-class accuracy, the most confused pairs, and the
    recognition threshold (`trainer.recognition`) for the export's `top_k`.

    One pass over the (finite) eval dataset, then the first
    `recognition_drawings` drawings fed point by point.
    """
    num_classes = len(classes)
    k = min(3, num_classes)
    top_k = max(1, min(top_k, num_classes))
    scores = _scores(model, dataset, max(k, top_k), recognition_drawings)
    if scores is None:
        return {"num_examples": 0}
    y, values, t, inks = scores
    hits = t[:, :k] == y[:, None]
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (y, t[:, 0]), 1)
    per_class_count = confusion.sum(axis=1)
    per_class = {
        name: {
            "count": int(per_class_count[i]),
            "top1": float(confusion[i, i] / per_class_count[i])
            if per_class_count[i]
            else None,
        }
        for i, name in enumerate(classes)
    }
    ranks = 1.0 / np.arange(1, k + 1)
    recognition = R.choose_threshold(
        values[:, :top_k], t[:, :top_k], y, threshold_precision
    )
    if inks:
        labels = y[: len(inks)]
        started = time.monotonic()
        needed = R.points_needed(model, inks, labels, recognition["threshold"], top_k)
        log.info(
            "recognized while drawing: %d eval drawings fed point by point in %.1f s",
            len(inks),
            time.monotonic() - started,
        )
        recognition["while_drawing"] = R.while_drawing_report(needed, labels, classes)
    return {
        "num_examples": int(len(y)),
        "top1": float(hits[:, 0].mean()),
        "top3": float(hits.any(axis=1).mean()),
        "map3": float((hits * ranks).sum(axis=1).mean()),
        "per_class": per_class,
        "most_confused": _most_confused(confusion, classes),
        "recognition": recognition,
    }


def log_report(report: dict) -> None:
    """The report's headline figures, in the log."""
    log.info(
        "eval: top1 %.4f top3 %.4f map3 %.4f on %d drawings",
        report.get("top1", float("nan")),
        report.get("top3", float("nan")),
        report.get("map3", float("nan")),
        report.get("num_examples", 0),
    )
    recognition = report.get("recognition")
    if recognition:
        curve = recognition.get("while_drawing", {}).get("curve", {})
        log.info(
            "recognition threshold %.4f (precision %.3f): recognizes %.3f of the "
            "eval drawings, %.3f by half of their points",
            recognition["threshold"],
            recognition["precision"],
            recognition["recognized"],
            curve.get("0.5", float("nan")),
        )
