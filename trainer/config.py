"""Training settings: frozen dataclasses, the one home of every default.

`TrainConfig`'s fields are the flags (`drawing.flags`), so `--help` prints
each default from here; `ModelConfig` is what the model is built from and is
saved with it. The tutorial's flags keep their meanings. Where a default
differs from the tutorial's `train_model.py` (batch 128, warmup and cosine
decay, AdamW, length bucketing, augmentation, positions and standardised
input, label smoothing, dropout 0.2), bench/TRAINER.md gives the reason and
the measurement.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import posixpath
from collections.abc import Sequence

from drawing import features as F
from drawing import flags
from drawing.flags import flag, switch

# What a run writes in --model_dir, besides checkpoints/, backup/ and logs/.
HISTORY_FILE = "history.json"  # per-period metrics, across restarts
# top-1/top-3/MAP@3, per class, confused pairs, recognition threshold and curve
REPORT_FILE = "eval_report.json"
MODEL_CONFIG_FILE = "model_config.json"
WEIGHTS_FILE = "model.weights.h5"
# Written once training is done, removed once the export is complete: what a
# re-run needs to finish an interrupted export without training again.
EXPORT_PENDING_FILE = "export_pending.json"

# Without length quantiles (tf.Transform, stats.json): about Quick, Draw!'s deciles.
DEFAULT_BUCKET_BOUNDARIES = (12, 18, 24, 30, 36, 43, 50, 60, 72, 90, 120, 170, 250)

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
class InputConfig:
    """How `trainer.data.make_dataset` reads, batches and augments (the
    trainer's defaults; augmentation applies in training only).

    boundaries: length buckets (the last split in 10% steps); bucket=False:
    batches in read order, padded to their longest. shuffle_buffer: records
    shuffled in blocks before the windows (0, 1: file order). window: records
    sorted by length together, then cut into batches. cache: parsed records
    kept in memory after one pass. num_classes: labels checked when given.
    """

    boundaries: tuple[int, ...] = DEFAULT_BUCKET_BOUNDARIES
    bucket: bool = True
    augment: bool = True
    point_drop: float = 0.1
    shuffle_buffer: int = 10_000
    window: int = 65_536
    cache: bool = False
    num_classes: int | None = None
    skip_damaged: bool = False
    num_workers: int = 1
    worker_index: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "boundaries", tuple(int(b) for b in self.boundaries))
        if list(self.boundaries) != sorted(set(self.boundaries)):
            raise ValueError("bucket boundaries must be strictly increasing")
        if not 0 <= self.point_drop < 1:
            raise ValueError("--point_drop must be in [0, 1)")
        if self.window < 1 or self.shuffle_buffer < 0:
            raise ValueError("--input_window must be >= 1, --shuffle_buffer >= 0")
        if not 0 <= self.worker_index < self.num_workers:
            raise ValueError("worker_index must be in [0, num_workers)")


def _int_list(text: str) -> tuple[int, ...]:
    """The tutorial's list flags, e.g. "[48, 64, 96]" (or "48,64,96")."""
    try:
        value = ast.literal_eval(
            text.strip() if text.strip().startswith("[") else f"[{text}]"
        )
    except (ValueError, SyntaxError) as err:
        raise argparse.ArgumentTypeError(f"not a list of ints: {text!r}") from err
    if not isinstance(value, list) or not all(
        isinstance(v, int) and v > 0 for v in value
    ):
        raise argparse.ArgumentTypeError(f"not a list of positive ints: {text!r}")
    return tuple(value)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs. Paths may be local or gs://."""

    training_data: str = flag(help="glob of training TFRecord shards", required=True)
    eval_data: str = flag("", "glob of eval shards; empty: no evaluation")
    classes_file: str = flag(
        "", f"default: {F.CLASSES_FILE} beside the training shards"
    )
    model_dir: str = flag(
        "",
        "checkpoints, preemption backups, reports and history "
        "(default $AIP_CHECKPOINT_DIR)",
        env="AIP_CHECKPOINT_DIR",
    )
    export_dir: str = flag(
        "",
        "serving SavedModel (default $AIP_MODEL_DIR, else MODEL_DIR/export)",
        env="AIP_MODEL_DIR",
    )
    tensorboard_dir: str = flag(
        "",
        "TensorBoard logs (default $AIP_TENSORBOARD_LOG_DIR, else MODEL_DIR/logs)",
        env="AIP_TENSORBOARD_LOG_DIR",
    )
    transform_dir: str = flag(
        "",
        "the pipeline's tf.Transform output: length buckets and input statistics",
    )
    num_layers: int = flag(_MODEL_DEFAULTS["num_layers"], "BiLSTM layers", type=int)
    num_nodes: int = flag(
        _MODEL_DEFAULTS["num_nodes"], "LSTM units per direction", type=int
    )
    num_conv: tuple[int, ...] = flag(
        _MODEL_DEFAULTS["num_conv"], "conv filters per layer", type=_int_list
    )
    conv_len: tuple[int, ...] = flag(
        _MODEL_DEFAULTS["conv_len"], "conv widths", type=_int_list
    )
    cell_type: str = flag(
        _MODEL_DEFAULTS["cell_type"],
        "all are keras.layers.LSTM, which uses cuDNN on GPU by itself",
        choices=CELL_TYPES,
    )
    batch_norm: bool = switch(_MODEL_DEFAULTS["batch_norm"])
    dropout: float = flag(_MODEL_DEFAULTS["dropout"], type=float)
    positions: bool = switch(
        _MODEL_DEFAULTS["positions"],
        "also feed each point's position (running sum of the deltas)",
    )
    batch_size: int = flag(128, "global batch size", type=int)
    learning_rate: float = flag(0.002, "peak rate", type=float)
    warmup_steps: int = flag(1000, type=int)
    weight_decay: float = flag(1e-4, type=float)
    label_smoothing: float = flag(0.1, type=float)
    gradient_clipping_norm: float = flag(9.0, type=float)
    steps: int = flag(100_000, "total training steps", type=int)
    epochs: float = flag(
        0.0, "passes over the training data; overrides --steps when > 0", type=float
    )
    eval_every: int = flag(1000, "steps between evaluations and backups", type=int)
    eval_steps: int = flag(
        0, "eval batches per evaluation; 0: the whole eval set", type=int
    )
    augment: bool = switch(InputConfig.augment)
    point_drop: float = flag(InputConfig.point_drop, "share of points", type=float)
    shuffle_buffer: int = flag(InputConfig.shuffle_buffer, "0, 1: none", type=int)
    input_window: int = flag(InputConfig.window, "records sorted together", type=int)
    cache_input: bool = switch(InputConfig.cache, "parsed records kept in memory")
    mixed_precision: str = flag(
        "auto",
        "auto: mixed_float16 when a GPU is present",
        choices=("auto", "on", "off"),
    )
    skip_damaged_records: bool = switch(
        False,
        "skip the rest of a shard at a damaged record, counted and reported, "
        "instead of stopping",
    )
    profile_steps: str = flag(
        "", "A,B: write a TensorBoard profile of steps A to B (from 1)"
    )
    export_top_k: int = flag(10, type=int)
    threshold_precision: float = flag(
        0.95,
        "the recognition threshold is the lowest probability at which this "
        "share of the eval set's acceptances are right",
        type=float,
    )
    recognition_drawings: int = flag(
        5000,
        "eval drawings fed point by point for 'recognized while drawing'; 0: none",
        type=int,
    )
    seed: int = flag(0, type=int)

    def __post_init__(self) -> None:
        if not self.model_dir:
            raise ValueError("--model_dir is required (or set AIP_CHECKPOINT_DIR)")
        beside_data = posixpath.join(
            posixpath.dirname(self.training_data), F.CLASSES_FILE
        )
        derived = {
            "classes_file": self.classes_file or beside_data,
            "export_dir": self.export_dir or posixpath.join(self.model_dir, "export"),
            "tensorboard_dir": self.tensorboard_dir
            or posixpath.join(self.model_dir, "logs"),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        for name in ("batch_size", "eval_every", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1")
        if not 0 < self.threshold_precision <= 1:
            raise ValueError("--threshold_precision must be in (0, 1]")
        if self.recognition_drawings < 0:
            raise ValueError("--recognition_drawings must be >= 0")
        self.input_config()  # checks the input's flags
        if len(self.num_conv) != len(self.conv_len):
            raise ValueError("--num_conv and --conv_len must have the same length")
        if self.profile_steps:
            self.profile_range()

    def profile_range(self) -> tuple[int, int] | None:
        """--profile_steps as (first, last) step, or None."""
        if not self.profile_steps:
            return None
        try:
            first, last = (int(v) for v in self.profile_steps.split(","))
        except ValueError:
            first, last = 0, -1
        if not 1 <= first <= last:
            raise ValueError("--profile_steps must be A,B with 1 <= A <= B")
        return first, last

    def input_config(self, **runtime) -> InputConfig:
        """The input's settings; `runtime`: boundaries, num_classes, workers."""
        return InputConfig(
            augment=self.augment,
            point_drop=self.point_drop,
            shuffle_buffer=self.shuffle_buffer,
            window=self.input_window,
            cache=self.cache_input,
            skip_damaged=self.skip_damaged_records,
            seed=self.seed,
            **runtime,
        )

    def model_config(self, num_classes: int, **data_statistics) -> ModelConfig:
        """The model's settings; `data_statistics` are `delta_mean` and
        `delta_std`, which come from the data, not from flags."""
        return ModelConfig(
            num_classes=num_classes,
            **{name: getattr(self, name) for name in _MODEL_DEFAULTS},
            **data_statistics,
        )


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """Flags to a frozen `TrainConfig`, with the path defaults filled in."""
    description = "Train the Quick, Draw! RNN classifier."
    return flags.parse(TrainConfig, argv, "python -m trainer.task", description)
