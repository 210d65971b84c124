"""Training settings as one frozen dataclass, filled from flags in `trainer.task`.

Defaults follow the tutorial's `train_model.py` where that trains as well as
anything we tried, and differ where it does not (measurements in
bench/TRAINER.md):

* batch_size 128 (tutorial 8): 8 leaves a GPU idle and is slow on CPU too.
* learning_rate 0.002 peak (tutorial 0.0001 constant): scaled with the batch,
  with linear warmup and cosine decay to 0 instead of a constant rate.
* Batches are bucketed by length (tutorial: padded to the longest drawing of
  the batch): most drawings are short, bucketing cuts padded LSTM steps
  several-fold (2.5x examples/s on CPU).
* mixed_float16 on GPU (tutorial float32): tensor cores; softmax stays float32.
* Augmentation on (tutorial none): random left-right flip, rotation, scale and
  shear of the ink, and 10% of the points dropped (stroke ends stay); the
  tutorial-size model overfits small data, and this is nearly free.
* The model also sees each point's position (the running sum of the deltas)
  and standardises the deltas with tf.Transform's mean and std (tutorial:
  raw deltas only); `--positions false` feeds the deltas alone.
* AdamW weight decay 1e-4 and label smoothing 0.1 (tutorial none): more
  regularisation, and calmer probabilities for the top-k the service returns.
* dropout 0.2 (tutorial 0.3), also between LSTM layers and before the softmax
  (tutorial: conv layers only); with the augmentation doing most of the
  regularising, 0.2 scored a little higher; `--dropout 0` turns it all off.
* cell_type lstm / cudnn_lstm / block_lstm are all one keras.layers.LSTM,
  which runs the cuDNN kernel on GPU by itself.
"""

from __future__ import annotations

import dataclasses

# The tutorial's cell types; all map to keras.layers.LSTM, which runs the cuDNN
# kernel on a GPU (the tutorial needed a separate CudnnLSTM op for that).
CELL_TYPES = ("lstm", "cudnn_lstm", "block_lstm")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """What `trainer.model.build_model` needs; saved with the model for export."""

    num_classes: int
    num_layers: int = 3
    num_nodes: int = 128
    num_conv: tuple[int, ...] = (48, 64, 96)
    conv_len: tuple[int, ...] = (5, 5, 3)
    cell_type: str = "lstm"
    batch_norm: bool = False
    dropout: float = 0.2
    positions: bool = True
    # The training deltas' statistics (tf.Transform's), which the model uses to
    # standardise its input; the defaults leave the input as it is.
    delta_mean: tuple[float, float] = (0.0, 0.0)
    delta_std: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        if len(self.num_conv) != len(self.conv_len):
            raise ValueError(
                f"num_conv {list(self.num_conv)} and conv_len "
                f"{list(self.conv_len)} must have the same length"
            )
        if self.cell_type not in CELL_TYPES:
            raise ValueError(f"cell_type must be one of {CELL_TYPES}")
        if self.num_classes < 1 or self.num_layers < 0 or self.num_nodes < 1:
            raise ValueError("num_classes, num_nodes must be >= 1, num_layers >= 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        if len(self.delta_mean) != 2 or len(self.delta_std) != 2:
            raise ValueError("delta_mean and delta_std need one value per axis")
        if min(self.delta_std) <= 0:
            raise ValueError("delta_std must be positive")


# The model's hyperparameters and their defaults, defined once in ModelConfig;
# TrainConfig carries them flat, as the command line does.
_MODEL_DEFAULTS = {
    f.name: f.default
    for f in dataclasses.fields(ModelConfig)
    if f.name not in ("num_classes", "delta_mean", "delta_std")
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs. Paths may be local or gs://.

    Attributes:
      training_data: Glob of training TFRecord shards.
      eval_data: Glob of eval shards; empty skips evaluation.
      classes_file: One class name per line; line number = class_index.
      model_dir: Checkpoints, preemption backups, reports and history.
      export_dir: Where the serving SavedModel goes.
      tensorboard_dir: TensorBoard logs.
      transform_dir: The pipeline's tf.Transform output, for length statistics.
      steps: Total optimizer steps (ignored when `epochs` is set).
      epochs: Passes over the training data; converted to steps by counting.
      eval_every: Steps between evaluations (one Keras "epoch").
      eval_steps: Eval batches per evaluation; 0 = the whole eval set.
      point_drop: With `augment`, the share of points dropped at random.
      mixed_precision: "auto" (on with a GPU), "on" or "off".
    """

    training_data: str
    eval_data: str
    classes_file: str
    model_dir: str
    export_dir: str
    tensorboard_dir: str
    num_layers: int = _MODEL_DEFAULTS["num_layers"]
    num_nodes: int = _MODEL_DEFAULTS["num_nodes"]
    num_conv: tuple[int, ...] = _MODEL_DEFAULTS["num_conv"]
    conv_len: tuple[int, ...] = _MODEL_DEFAULTS["conv_len"]
    cell_type: str = _MODEL_DEFAULTS["cell_type"]
    batch_norm: bool = _MODEL_DEFAULTS["batch_norm"]
    dropout: float = _MODEL_DEFAULTS["dropout"]
    positions: bool = _MODEL_DEFAULTS["positions"]
    batch_size: int = 128
    learning_rate: float = 0.002
    warmup_steps: int = 1000
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    gradient_clipping_norm: float = 9.0
    steps: int = 100_000
    epochs: float = 0.0
    eval_every: int = 1000
    eval_steps: int = 0
    augment: bool = True
    point_drop: float = 0.1
    shuffle_buffer: int = 10_000
    transform_dir: str = ""
    mixed_precision: str = "auto"
    export_top_k: int = 10
    seed: int = 0

    def model_config(self, num_classes: int, **data_statistics) -> ModelConfig:
        """The model's settings; `data_statistics` are `delta_mean` and
        `delta_std`, which come from the data, not from flags."""
        return ModelConfig(
            num_classes=num_classes,
            **{name: getattr(self, name) for name in _MODEL_DEFAULTS},
            **data_statistics,
        )
