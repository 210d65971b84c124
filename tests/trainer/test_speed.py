"""Speed in the log: examples/s and the input-wait share on each period's line,
and the start-up line about cuDNN and mixed precision."""

from __future__ import annotations

import logging
import re

import keras
import tensorflow as tf

from trainer import speed
from trainer.callbacks import HistoryWriter
from trainer.config import ModelConfig
from trainer.model import build_model

LINE = re.compile(
    r"epoch (\d), step \d+, \d+ s: loss [\d.]+  \| ([\d.]+) examples/s "
    r"\((\d+) per replica\), input wait (\d+)% of step time"
)


def _fit(ds: tf.data.Dataset, tmp_path, caplog, work: int = 0) -> list[re.Match]:
    """Two epochs of 20 steps, each step costing `work` matrix products."""
    wait = speed.InputWait()
    heavy = keras.layers.Lambda(lambda x: x + 0 * tf.reduce_mean(_products(work, x)))
    model = keras.Sequential([keras.Input((8,)), heavy, keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    callbacks = [
        speed.SpeedMeter(batch_size=4, replicas=2, wait=wait),
        HistoryWriter(str(tmp_path / "history.json"), write=False),
    ]
    with caplog.at_level(logging.INFO, logger="trainer"):
        model.fit(
            wait.wrap(ds),
            epochs=2,
            steps_per_epoch=20,
            callbacks=callbacks,
            shuffle=False,
            verbose=0,
        )
    return [m for line in caplog.messages if (m := LINE.fullmatch(line))]


def _products(work: int, x: tf.Tensor | float = 0.0) -> tf.Tensor:
    """`work` matrix products; on `x`, so that the graph cannot fold them."""
    m = tf.random.stateless_normal([256, 256], seed=[1, 2]) + tf.reduce_mean(x)
    for _ in range(work):
        m = tf.linalg.normalize(m @ m)[0]
    return m


def _batches(work: int) -> tf.data.Dataset:
    """Batches of 4 whose making costs `work` matrix products."""

    def make(i):
        m = _products(work, tf.cast(i, tf.float32))
        return tf.fill([4, 8], tf.reduce_mean(m)), tf.zeros([4, 1])

    return tf.data.Dataset.range(1000).map(make)


def test_the_period_line_gives_examples_per_second_and_the_input_wait(tmp_path, caplog):
    slow = _fit(_batches(work=40), tmp_path, caplog)
    assert [m[1] for m in slow] == ["0", "1"], caplog.text
    for m in slow:
        assert float(m[2]) > 0 and abs(int(m[3]) - float(m[2]) / 2) <= 1
    # Batches made on demand, each costing much more than its step: training
    # waits for the input much of the time (tf.distribute prefetches a little).
    assert 30 <= int(slow[1][4]) <= 100, caplog.text
    caplog.clear()
    # The other way round: batches made ahead, steps that cost the products.
    ready = _batches(work=0).take(4).cache().repeat().prefetch(4)
    ready = _fit(ready, tmp_path, caplog, work=40)
    assert int(ready[1][4]) < 30, caplog.text


def test_the_start_up_line_says_why_not_cudnn_and_why_not_mixed_precision():
    model = build_model(ModelConfig(num_classes=3, num_layers=1, num_nodes=4))
    line = speed.kernels(model, mixed=False, setting="auto")
    gpu = bool(tf.config.list_physical_devices("GPU"))
    if not gpu:
        assert line == (
            "LSTMs: generic kernel, not cuDNN (no GPU); "
            "mixed precision off (no GPU; --mixed_precision=auto)"
        )
    lstm = model.get_layer("bilstm_0").forward_layer
    lstm.cell.recurrent_dropout = 0.1
    assert "recurrent_dropout=0.1" in speed.kernels(model, False, "off")
    assert speed.kernels(model, False, "off").endswith("(--mixed_precision=off)")
