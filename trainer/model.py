"""The tutorial's classifier as a Keras 3 functional model.

conv1d stack -> bidirectional LSTM stack -> sum of outputs over valid steps ->
softmax, exactly the tutorial's shape, with three changes that matter in
production:

* The LSTM mask is built from the sequence lengths, not from zero rows: a real
  delta can be (0, 0, 0) (a repeated point), and Conv1D drops Keras masks
  anyway. Lengths are clamped to [1, T], because cuDNN rejects a row with no
  valid step; a length-0 row then reads one padding step and stays finite.
* The LSTM layers keep Keras' defaults (tanh / sigmoid, bias, no recurrent
  dropout, not unrolled) and the mask is right-padded, which are the
  conditions under which Keras runs the cuDNN kernel on a GPU.
* Under mixed precision the sum and the softmax are computed in float32.

Import `keras` (Keras 3) here, never `tf.keras`: once tensorflow_transform is
imported `tf.keras` is the legacy Keras 2.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from drawing import features as F
from trainer.config import ModelConfig, TrainConfig

PACKAGE = "quickdraw"


@keras.saving.register_keras_serializable(package=PACKAGE)
class LengthMask(layers.Layer):
    """Right-padded boolean mask [B, T] from lengths, clamped to [1, T]."""

    def call(self, sequences, lengths):
        steps = ops.shape(sequences)[1]
        lengths = ops.clip(ops.cast(lengths, "int32"), 1, steps)
        return ops.expand_dims(ops.arange(steps), 0) < ops.expand_dims(lengths, 1)

    def compute_output_spec(self, sequences, lengths):
        return keras.KerasTensor(sequences.shape[:2], dtype="bool")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZeroPadding(layers.Layer):
    """Zeroes the padding steps of a sequence.

    Stacked "same" convolutions would otherwise carry bias and edge values
    from the padding into the last valid steps, so a drawing's prediction
    would depend on how much its batch was padded.
    """

    def call(self, sequences, mask):
        return sequences * ops.cast(ops.expand_dims(mask, -1), sequences.dtype)

    def compute_output_spec(self, sequences, mask):
        return keras.KerasTensor(sequences.shape, sequences.dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class WithPositions(layers.Layer):
    """Appends each point's position relative to the first, x and y, to the ink.

    The ink holds deltas, so a convolution sees the shape of a few strokes but
    not where on the canvas they are; the LSTMs would have to integrate that
    themselves. The running sum of the deltas gives it to every layer (the
    tutorial's input left it out). Padding steps stay zero.
    """

    def call(self, ink, mask):
        valid = ops.cast(ops.expand_dims(mask, -1), ink.dtype)
        positions = ops.cumsum(ink[:, :, :2] * valid, axis=1) * valid
        return ops.concatenate([ink, positions], axis=-1)

    def compute_output_spec(self, ink, mask):
        return keras.KerasTensor((*ink.shape[:2], ink.shape[2] + 2), ink.dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Standardize(layers.Layer):
    """(dx, dy) -> (dx - mean) / std with the training split's statistics.

    The deltas of size-normalised ink have a standard deviation near 0.16, so
    the first layers would start with inputs far smaller than their
    initialisation assumes. Constants from tf.Transform's full pass, kept in
    the model, so serving scales exactly as training did. Padding stays zero.
    """

    def __init__(self, mean=(0.0, 0.0), std=(1.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]

    def call(self, ink, mask):
        valid = ops.cast(ops.expand_dims(mask, -1), ink.dtype)
        mean = ops.convert_to_tensor(self.mean, ink.dtype)
        std = ops.convert_to_tensor(self.std, ink.dtype)
        deltas = (ink[:, :, :2] - mean) / std * valid
        return ops.concatenate([deltas, ink[:, :, 2:]], axis=-1)

    def compute_output_spec(self, ink, mask):
        return keras.KerasTensor(ink.shape, ink.dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedSum(layers.Layer):
    """Sum over the valid time steps, in float32 (the tutorial's embedding)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the mask is passed explicitly

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def call(self, sequences, mask):
        sequences = ops.cast(sequences, "float32")
        weights = ops.cast(ops.expand_dims(mask, -1), "float32")
        return ops.sum(sequences * weights, axis=1)

    def compute_output_spec(self, sequences, mask):
        return keras.KerasTensor((sequences.shape[0], sequences.shape[2]), "float32")


def build_model(config: ModelConfig) -> keras.Model:
    """The classifier: inputs {"ink": [B, T, 3], "lengths": [B]} -> probabilities.

    The ink must be right-padded (valid steps first), which is what
    `trainer.data` and the serving functions produce.
    """
    ink = keras.Input(shape=(None, F.INK_CHANNELS), name=F.INK, dtype="float32")
    lengths = keras.Input(shape=(), name=F.LENGTHS, dtype="int32")
    mask = LengthMask(name="length_mask")(ink, lengths)
    x = WithPositions(name="with_positions")(ink, mask) if config.positions else ink
    x = Standardize(config.delta_mean, config.delta_std, name="standardize")(x, mask)
    for i, (filters, width) in enumerate(
        zip(config.num_conv, config.conv_len, strict=True)
    ):
        if config.batch_norm:
            x = layers.BatchNormalization(name=f"conv_bn_{i}")(x)
        # As in the tutorial: dropout before every conv layer but the first.
        if i > 0 and config.dropout:
            x = layers.Dropout(config.dropout, name=f"conv_dropout_{i}")(x)
        x = ZeroPadding(name=f"conv_pad_{i}")(x, mask)
        x = layers.Conv1D(filters, width, padding="same", name=f"conv1d_{i}")(x)
    for i in range(config.num_layers):
        if i > 0 and config.dropout:
            x = layers.Dropout(config.dropout, name=f"rnn_dropout_{i}")(x)
        # Defaults on purpose: they are what lets Keras use the cuDNN kernel.
        lstm = layers.LSTM(config.num_nodes, return_sequences=True, name=f"lstm_{i}")
        x = layers.Bidirectional(lstm, name=f"bilstm_{i}")(x, mask=mask)
    x = MaskedSum(name="masked_sum")(x, mask)
    if config.dropout:
        x = layers.Dropout(config.dropout, name="fc_dropout")(x)
    logits = layers.Dense(config.num_classes, name="logits", dtype="float32")(x)
    probabilities = layers.Activation("softmax", name="probabilities", dtype="float32")(
        logits
    )
    return keras.Model(
        {F.INK: ink, F.LENGTHS: lengths}, probabilities, name="quickdraw"
    )


@keras.saving.register_keras_serializable(package=PACKAGE)
def map_at_3(y_true, y_pred):
    """Mean average precision at 3 per example: 1, 1/2 or 1/3 by the rank of
    the true class among the top 3, else 0 (the Kaggle Quick, Draw! metric)."""
    _, top = ops.top_k(y_pred, k=min(3, y_pred.shape[-1]))
    y_true = ops.cast(ops.reshape(y_true, (-1, 1)), top.dtype)
    hits = ops.cast(ops.equal(top, y_true), "float32")
    ranks = 1.0 / ops.arange(1, ops.shape(top)[1] + 1, dtype="float32")
    return ops.sum(hits * ranks, axis=1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing (Keras' sparse loss
    has no smoothing)."""

    def __init__(self, num_classes: int, label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        one_hot = ops.one_hot(
            ops.reshape(ops.cast(y_true, "int32"), (-1,)), self.num_classes
        )
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "label_smoothing": self.label_smoothing,
        }


def metrics() -> list[keras.metrics.Metric]:
    """Top-1, top-3 and MAP@3, the figures the evaluation report gives."""
    return [
        keras.metrics.SparseCategoricalAccuracy(name="top1"),
        keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3"),
        keras.metrics.MeanMetricWrapper(map_at_3, name="map3"),
    ]


def learning_rate_schedule(
    peak: float, total_steps: int, warmup_steps: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warmup to `peak`, then cosine decay to 0 at `total_steps`.

    Warmup keeps Adam's first, badly estimated steps from wrecking the LSTM
    weights at a peak learning rate well above the tutorial's (bench/TRAINER.md
    says why); cosine decay to zero gives the last few points of accuracy
    without a hand-tuned step schedule.
    """
    warmup_steps = max(0, min(warmup_steps, total_steps // 2))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else peak,
        decay_steps=max(1, total_steps - warmup_steps),
        warmup_target=peak if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def compile_model(
    model: keras.Model,
    num_classes: int,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    gradient_clipping_norm: float = TrainConfig.gradient_clipping_norm,
    weight_decay: float = 0.0,
    label_smoothing: float = 0.0,
) -> None:
    """AdamW with clipping by global norm, like the tutorial's `optimize_loss`
    (its `clip_gradients` clips the global norm, hence `global_clipnorm`)."""
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        global_clipnorm=gradient_clipping_norm or None,
    )
    model.compile(
        optimizer=optimizer,
        loss=SparseSmoothedCrossentropy(num_classes, label_smoothing),
        metrics=metrics(),
        # XLA would recompile for every padded length bucketing produces, and
        # cannot compile the cuDNN LSTM op anyway.
        jit_compile=False,
    )
