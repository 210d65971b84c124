"""The evaluation report on a model whose answers are known: top-1, top-3,
MAP@3, per-class accuracy, the most confused pairs, the recognition threshold
(its rule is tested in test_recognition.py)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tensorflow as tf

from drawing import features as F
from trainer import evaluate

CLASSES = ["cat", "dog", "eye", "map"]
LABELS = [0, 0, 1, 1, 2, 3]
GUESSES = [0, 1, 1, 1, 0, 3]  # the class each drawing is given 0.7 for


def known_model(features, training=False):
    """0.7 for the class written in the first row's dx, 0.1 for each other."""
    guess = tf.cast(tf.round(features[F.INK][:, 0, 0]), tf.int32)
    guess = tf.clip_by_value(guess, 0, len(CLASSES) - 1)
    return tf.one_hot(guess, len(CLASSES), on_value=0.7, off_value=0.1)


def dataset(guesses=GUESSES, labels=LABELS) -> tf.data.Dataset:
    ink = np.zeros((len(guesses), 5, F.INK_CHANNELS), np.float32)
    ink[:, 0, 0] = guesses
    ink[:, 1, 1] = 0.5  # every drawing has some extent
    ink[:, -1, 2] = 1.0  # one stroke, ended
    features = {F.INK: ink, F.LENGTHS: np.full(len(guesses), 5, np.int32)}
    return tf.data.Dataset.from_tensor_slices(
        (features, np.array(labels, np.int64))
    ).batch(4)


def test_the_report_of_a_model_whose_answers_are_known():
    report = evaluate.evaluation_report(
        known_model, dataset(), CLASSES, top_k=2, threshold_precision=0.6
    )
    assert report["num_examples"] == 6
    assert report["top1"] == pytest.approx(4 / 6)
    # Ties at 0.1 rank the lower class first: the label 0 of the drawing
    # guessed 1 comes second, the label 2 of the drawing guessed 0 third.
    assert report["top3"] == 1.0
    assert report["map3"] == pytest.approx((4 + 1 / 2 + 1 / 3) / 6)
    assert report["per_class"] == {
        "cat": {"count": 2, "top1": 0.5},
        "dog": {"count": 2, "top1": 1.0},
        "eye": {"count": 1, "top1": 0.0},
        "map": {"count": 1, "top1": 1.0},
    }
    confused = sorted(report["most_confused"], key=lambda p: p["true"])
    assert confused == [
        {"true": "cat", "predicted": "dog", "count": 1, "fraction_of_true": 0.5},
        {"true": "eye", "predicted": "cat", "count": 1, "fraction_of_true": 1.0},
    ]
    # At 0.7 four of six top guesses are right (0.67 >= 0.6); at 0.1, 5 of 12.
    recognition = report["recognition"]
    assert recognition["threshold"] == pytest.approx(0.7)
    assert recognition["recognized"] == pytest.approx(4 / 6)
    assert "while_drawing" not in recognition  # recognition_drawings=0


def test_a_class_without_eval_drawings_has_no_accuracy():
    report = evaluate.evaluation_report(
        known_model, dataset([0, 1], [0, 1]), CLASSES, top_k=3
    )
    assert report["per_class"]["map"] == {"count": 0, "top1": None}
    assert report["most_confused"] == []


def test_drawings_fed_while_drawing_are_reported_and_logged(caplog):
    with caplog.at_level(logging.INFO, logger="trainer"):
        report = evaluate.evaluation_report(
            known_model, dataset(), CLASSES, top_k=2, recognition_drawings=3
        )
        evaluate.log_report(report)
    while_drawing = report["recognition"]["while_drawing"]
    assert while_drawing["drawings"] == 3
    assert list(while_drawing["curve"]) == [f"{x / 10:.1f}" for x in range(1, 11)]
    assert "3 eval drawings fed point by point" in caplog.text
    assert "eval: top1 0.6667 top3 1.0000 map3 0.8056 on 6 drawings" in caplog.text


def test_an_empty_eval_set_gives_an_empty_report():
    empty = dataset().take(0)
    assert evaluate.evaluation_report(known_model, empty, CLASSES) == {
        "num_examples": 0
    }
