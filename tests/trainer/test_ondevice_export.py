"""The on-device model's conversion: its in-model ink equals `drawing.ink_tf`'s
to the bit, and the export refuses a converted model that differs from the
Keras model it came from."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from drawing import ink_tf
from trainer import ondevice_export as O
from trainer.config import ModelConfig
from trainer.model import build_model


def _drawings(rng: np.random.Generator):
    """(xs, ys, stroke lengths): canvas ints, floats, one spot, a flat axis."""
    for i in range(60):
        n = int(rng.integers(2, 50))
        xs = rng.integers(0, 256, n).astype(np.float32)
        ys = rng.integers(0, 256, n).astype(np.float32)
        if i % 4 == 1:
            xs = rng.normal(0, 300, n).astype(np.float32)
        if i % 4 == 2:
            ys[:] = 7.0  # no extent: scale 1
        if i % 4 == 3:
            xs[1:3] = xs[0]  # repeated points: (0, 0) deltas
        cuts = np.sort(rng.choice(np.arange(1, n), min(3, n - 1), replace=False))
        yield xs, ys, np.diff(np.concatenate([[0], cuts, [n]]))


def test_the_in_model_ink_is_ink_tf_s_bit_for_bit():
    rng = np.random.default_rng(0)
    length = O.LENGTHS[0]
    for xs, ys, strokes in _drawings(rng):
        n = len(xs)
        points = np.zeros((1, length, 3), np.float32)
        points[0, :n, 0], points[0, :n, 1] = xs, ys
        points[0, np.cumsum(strokes) - 1, 2] = 1.0
        ink, lengths = O.points_to_ink(tf.constant(points), tf.constant([n]))

        def ragged(values, strokes=strokes):
            by_stroke = tf.RaggedTensor.from_row_lengths(values, strokes)
            return tf.RaggedTensor.from_row_lengths(by_stroke, [len(strokes)])

        want = ink_tf.strokes_to_ink(ragged(xs), ragged(ys))[0].numpy()
        assert int(lengths[0]) == n - 1
        np.testing.assert_array_equal(ink[0, : n - 1].numpy(), want)
        assert not ink[0, n - 1 :].numpy().any()  # zero after the drawing


@pytest.mark.slow  # converts a model
def test_a_converted_model_that_differs_from_keras_is_refused():
    config = ModelConfig(
        num_classes=3, num_layers=1, num_nodes=8, num_conv=(8,), conv_len=(3,)
    )
    keras.utils.set_random_seed(1)
    model, other = build_model(config), build_model(config)
    flat = O.convert(model)
    O.check(flat, model)  # its own Keras model: within the tolerance
    with pytest.raises(RuntimeError, match="differs from the Keras model by"):
        O.check(flat, other)
    meta = O.metadata(["a", "b", "c"], top_k=5, threshold=None, int8=False)
    assert meta["k"] == 3 and meta["threshold"] is None
    assert meta["models"] == {"float32": O.FLOAT_FILE}
    assert meta["lengths"] == list(O.LENGTHS)
