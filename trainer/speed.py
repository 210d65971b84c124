"""How fast training runs, and why: figures for the log and TensorBoard.

Each period's line gets examples per second (global, and per replica when
there are several) and the share of the period's training time spent waiting
for the input pipeline (`InputWait`); the same values go into the epoch's
logs, so history.json and TensorBoard get them too. `kernels` is the start-up
line that says whether the LSTMs run cuDNN's kernel and whether mixed
precision is on, and why not. The first period includes tracing the step
function, so its speed is lower than the others'.
"""

from __future__ import annotations

import logging
import time

import keras
import tensorflow as tf

log = logging.getLogger("trainer")

EXAMPLES_PER_SECOND = "examples_per_second"
PER_REPLICA = "examples_per_second_per_replica"
INPUT_WAIT = "input_wait_share"
SPEED_KEYS = (EXAMPLES_PER_SECOND, PER_REPLICA, INPUT_WAIT)


class InputWait:
    """Seconds the consumer of a dataset waited for its elements.

    `wrap` zips the dataset with a stamp taken when the next element is asked
    for (zip asks its inputs in order) and adds up, once the element is
    there, how long that took. With the input ahead of training, the element
    waits in the prefetch buffer and the wait is about zero.
    """

    def __init__(self) -> None:
        with tf.device("/cpu:0"):
            self.total = tf.Variable(0.0, dtype=tf.float64, trainable=False)

    def wrap(self, ds: tf.data.Dataset) -> tf.data.Dataset:
        asked = tf.data.Dataset.from_tensors(0).repeat().map(lambda _: tf.timestamp())

        def arrived(asked_at: tf.Tensor, element):
            waited = self.total.assign_add(tf.timestamp() - asked_at)
            with tf.control_dependencies([waited]):
                return tf.nest.map_structure(tf.identity, element)

        return tf.data.Dataset.zip(asked, ds).map(arrived)

    def seconds(self) -> float:
        return float(self.total.numpy())


class SpeedMeter(keras.callbacks.Callback):
    """Puts each period's speed into its logs; before HistoryWriter, which
    prints them, and TensorBoard, which writes them."""

    def __init__(self, batch_size: int, replicas: int, wait: InputWait | None):
        super().__init__()
        self.batch_size = batch_size
        self.replicas = replicas
        self.wait = wait

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.monotonic()
        self.trained: float | None = None
        self.step = int(self.model.optimizer.iterations.numpy())
        self.waited = self.wait.seconds() if self.wait else 0.0

    def on_test_begin(self, logs=None):
        if getattr(self, "trained", 0) is None:  # validation ends the training
            self.trained = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        seconds = (self.trained or time.monotonic()) - self.started
        steps = int(self.model.optimizer.iterations.numpy()) - self.step
        rate = steps * self.batch_size / max(seconds, 1e-9)
        logs[EXAMPLES_PER_SECOND] = rate
        if self.replicas > 1:
            logs[PER_REPLICA] = rate / self.replicas
        if self.wait is not None:
            # tf.distribute prefetches the wrapped dataset, so an input-bound
            # period also counts the elements made ahead for the next one.
            waited = (self.wait.seconds() - self.waited) / max(seconds, 1e-9)
            logs[INPUT_WAIT] = min(waited, 1.0)


def describe(entry: dict) -> str:
    """The speed part of a period's line, from its logs."""
    if EXAMPLES_PER_SECOND not in entry:
        return ""
    text = f"{entry[EXAMPLES_PER_SECOND]:.0f} examples/s"
    if PER_REPLICA in entry:
        text += f" ({entry[PER_REPLICA]:.0f} per replica)"
    if INPUT_WAIT in entry:
        text += f", input wait {entry[INPUT_WAIT]:.0%} of step time"
    return text


def _lstms(model: keras.Model) -> list:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, keras.layers.LSTM):
            found.append(layer)
    return found


def _not_cudnn(lstm) -> list[str]:
    """Settings of one LSTM that rule cuDNN's kernel out (Keras' conditions)."""
    checks = {
        "use_cudnn=False": getattr(lstm, "use_cudnn", "auto") is False,
        f"recurrent_dropout={lstm.recurrent_dropout}": lstm.recurrent_dropout > 0,
        "unroll=True": lstm.unroll,
        "use_bias=False": not lstm.use_bias,
        "activation is not tanh": lstm.activation is not keras.activations.tanh,
        "recurrent_activation is not sigmoid": (
            lstm.recurrent_activation is not keras.activations.sigmoid
        ),
    }
    return [name for name, bad in checks.items() if bad]


def kernels(model: keras.Model, mixed: bool, setting: str) -> str:
    """The start-up line: the LSTMs' kernel and mixed precision, and why."""
    gpu = bool(tf.config.list_physical_devices("GPU"))
    lstms = _lstms(model)
    reasons = sorted({r for lstm in lstms for r in _not_cudnn(lstm)})
    if not gpu:
        reasons.insert(0, "no GPU")
    if not lstms:
        cudnn = "no LSTM layers"
    elif reasons:
        cudnn = f"LSTMs: generic kernel, not cuDNN ({'; '.join(reasons)})"
    else:
        cudnn = f"LSTMs: cuDNN kernel ({len(lstms)} LSTM layers, GPU found)"
    if mixed:
        why = "GPU found" if setting == "auto" else "--mixed_precision=on"
        precision = f"mixed precision on (mixed_float16, {why})"
    elif setting == "off":
        precision = "mixed precision off (--mixed_precision=off)"
    else:
        precision = "mixed precision off (no GPU; --mixed_precision=auto)"
    return f"{cudnn}; {precision}"


def measured(
    train_ds: tf.data.Dataset, batch_size: int, replicas: int, num_workers: int
) -> tuple[tf.data.Dataset, SpeedMeter]:
    """The training input, timed for the period lines' input wait, and the
    callback that puts the speed in them. The wait is measured on one worker:
    several rewrite the dataset to shard it."""
    wait = InputWait() if num_workers == 1 else None
    meter = SpeedMeter(batch_size, replicas, wait)
    return (wait.wrap(train_ds) if wait else train_ds), meter
