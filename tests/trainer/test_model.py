"""The model, its metric and schedule (the trainer's flags: test_config.py)."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer.config import ModelConfig
from trainer.model import (
    build_model,
    compile_model,
    learning_rate_schedule,
    map_at_3,
)

SMALL = ModelConfig(
    num_classes=5, num_layers=2, num_nodes=8, num_conv=(8, 8), conv_len=(5, 3)
)


def inputs(lengths: list[int], steps: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ink = np.zeros((len(lengths), steps, 3), np.float32)
    for i, n in enumerate(lengths):
        ink[i, :n] = rng.normal(0, 0.2, (n, 3))
        ink[i, :n, 2] = rng.random(n) < 0.2
    return {"ink": ink, "lengths": np.array(lengths, np.int32)}


@pytest.mark.parametrize("batch_norm", [False, True])
def test_length_one_and_empty_sequences_give_finite_outputs_and_gradients(batch_norm):
    config = ModelConfig(**{**SMALL.__dict__, "batch_norm": batch_norm})
    model = build_model(config)
    x = inputs([1, 1, 0], steps=1)
    probabilities = model(x, training=False).numpy()
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(
                np.array([0, 1, 2]), model(x, training=True)
            )
        )
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(np.isfinite(g.numpy()).all() for g in grads)


def test_prediction_does_not_depend_on_padding_or_zero_deltas():
    model = build_model(SMALL)
    x = inputs([4, 9, 2], steps=9)
    x["ink"][1, 3] = 0  # a real (0, 0, 0) delta inside a drawing: not padding
    short = model(x, training=False).numpy()
    longer = {
        "ink": np.concatenate([x["ink"], np.zeros((3, 30, 3), np.float32)], axis=1),
        "lengths": x["lengths"],
    }
    np.testing.assert_allclose(model(longer, training=False).numpy(), short, atol=1e-6)
    # Garbage beyond a drawing's length is ignored as well.
    noisy = {
        **x,
        "ink": x["ink"] + np.where(np.arange(9)[None, :, None] >= 4, 5.0, 0.0),
    }
    noisy["ink"][1] = x["ink"][1]
    np.testing.assert_allclose(
        model(noisy, training=False).numpy()[[0, 1]], short[[0, 1]], atol=1e-6
    )
    # The zero delta matters: the model sees it as a step.
    cut = {**x, "lengths": np.array([4, 3, 2], np.int32)}
    assert not np.allclose(model(cut, training=False).numpy()[1], short[1])


def test_lstm_layers_qualify_for_the_cudnn_kernel():
    from keras.src.backend.tensorflow.rnn import _do_lstm_arguments_support_cudnn

    model = build_model(ModelConfig(num_classes=3))
    lstms = [
        layer
        for bi in model.layers
        if isinstance(bi, keras.layers.Bidirectional)
        for layer in (bi.forward_layer, bi.backward_layer)
    ]
    assert len(lstms) == 6  # the tutorial's 3 bidirectional layers
    for lstm in lstms:
        assert isinstance(lstm, keras.layers.LSTM)
        assert lstm.use_cudnn == "auto" and lstm.recurrent_dropout == 0
        assert _do_lstm_arguments_support_cudnn(
            lstm.cell.activation,
            lstm.cell.recurrent_activation,
            lstm.unroll,
            lstm.cell.use_bias,
        )


def test_input_is_standardised_with_the_training_statistics_and_padding_stays_zero():
    mean, std = (0.01, -0.02), (0.2, 0.1)
    config = dataclasses.replace(SMALL, delta_mean=mean, delta_std=std)
    model = build_model(config)
    x = inputs([3, 1], steps=4)
    standardised = keras.Model(model.inputs, model.get_layer("standardize").output)(x)
    got = keras.ops.convert_to_numpy(standardised)
    # dx, dy, pen, then the positions (running sums of the raw deltas).
    ink = x["ink"]
    for i, n in enumerate(x["lengths"]):
        np.testing.assert_allclose(got[i, :n, :2], (ink[i, :n, :2] - mean) / std)
        np.testing.assert_allclose(got[i, :n, 2], ink[i, :n, 2])
        np.testing.assert_allclose(
            got[i, :n, 3:], np.cumsum(ink[i, :n, :2], axis=0), rtol=1e-6
        )
        assert not got[i, n:].any()


def test_mixed_precision_keeps_the_softmax_in_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(SMALL)
        out = model(inputs([3, 1], steps=3), training=False)
        assert out.dtype == tf.float32
        assert model.get_layer("bilstm_0").compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_map_at_3():
    y_pred = np.array(
        [
            [0.5, 0.3, 0.2, 0.0],
            [0.5, 0.3, 0.2, 0.0],
            [0.1, 0.2, 0.3, 0.4],
            [0.4, 0.3, 0.2, 0.1],
        ]
    )
    got = map_at_3(np.array([0, 1, 2, 3]), y_pred).numpy()
    np.testing.assert_allclose(got, [1.0, 0.5, 0.5, 0.0])


def test_learning_rate_warms_up_then_decays_to_zero():
    schedule = learning_rate_schedule(1e-3, total_steps=1000, warmup_steps=100)
    rates = [float(schedule(s)) for s in (0, 50, 100, 550, 1000)]
    assert rates[0] == 0 and rates[1] == pytest.approx(5e-4)
    assert rates[2] == pytest.approx(1e-3)
    assert rates[3] == pytest.approx(5e-4, rel=1e-3)
    assert rates[4] == pytest.approx(0, abs=1e-9)


def test_compiled_model_trains_one_step():
    model = build_model(SMALL)
    compile_model(model, 5, 1e-3, label_smoothing=0.1, weight_decay=1e-4)
    x = inputs([3, 5, 1, 2], steps=5)
    logs = model.train_on_batch(x, np.array([0, 1, 2, 3]), return_dict=True)
    assert {"loss", "top1", "top3", "map3"} <= set(logs)
    assert np.isfinite(logs["loss"])
