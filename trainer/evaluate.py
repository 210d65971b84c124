"""The evaluation report: top-1, top-3, MAP@3, per-class accuracy, confusions.

Computed once at the end of training, over the whole eval set, with the
float32 serving copy of the model, so the figures are those of the export.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

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


def evaluation_report(
    model: keras.Model, dataset: tf.data.Dataset, classes: Sequence[str]
) -> dict:
    """Top-1/top-3/MAP@3, per-class accuracy and the most confused pairs.

    One pass over the (finite) eval dataset with the model in inference mode.
    """
    num_classes = len(classes)
    k = min(3, num_classes)

    @tf.function(reduce_retracing=True, autograph=False)
    def top(features):
        return tf.math.top_k(model(features, training=False), k=k).indices

    labels, tops = [], []
    for features, y in dataset:
        labels.append(y.numpy())
        tops.append(top(features).numpy())
    if not labels:
        return {"num_examples": 0}
    y = np.concatenate(labels).astype(np.int64)
    t = np.concatenate(tops).astype(np.int64)
    hits = t == y[:, None]
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
    confused = _most_confused(confusion, classes)
    ranks = 1.0 / np.arange(1, k + 1)
    return {
        "num_examples": int(len(y)),
        "top1": float(hits[:, 0].mean()),
        "top3": float(hits.any(axis=1).mean()),
        "map3": float((hits * ranks).sum(axis=1).mean()),
        "per_class": per_class,
        "most_confused": confused,
    }
