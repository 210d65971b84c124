"""The settings of one pipeline run: the one home of every default.

`PipelineConfig` is frozen and validates itself; its fields are the flags
(`drawing.flags`), so `--help` prints each default from here. Flags the parser
does not know are left for Beam's `PipelineOptions`. Nothing here imports Beam.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from drawing import flags, ndjson
from drawing.flags import flag

# With no --analysis_fraction, tf.Transform analyses a deterministic sample of
# about this many training drawings (~1M deltas): that pins the mean and std to
# ~1e-3 and the length quantiles to ~1% in rank, where analysing every drawing
# cost more than the rest of the pipeline (see bench/README.md).
ANALYSIS_TARGET = 20_000
# Input bytes per work unit ("stripe"): bounds what one worker holds at a time.
DEFAULT_STRIPE_MB = 64


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything one run needs besides Beam's own options. Paths may be gs://."""

    inputs: tuple[str, ...] = flag(
        help="ndjson or .bin file, directory or glob, local or gs://; .gz works; "
        "repeatable",
        names=["--input"],
        action="append",
        required=True,
    )
    output: str = flag(help="output directory", required=True)
    classes_file: str | None = flag(
        None, "one class per line; default: the input file names (<class>.ndjson)"
    )
    train_per_class: int = flag(10_000, "cap; 0 keeps all", type=int)
    eval_per_class: int = flag(1_000, "cap; 0 keeps all", type=int)
    eval_fraction: float = flag(
        0.1, "share of drawings that go to eval, by a stable hash of key_id", type=float
    )
    num_shards: int = flag(
        0,
        "shards per split; 0 = one per work unit, written by the encoder (no "
        "extra shuffle); a fixed count adds a shuffle that the local runner "
        "holds in memory",
        type=int,
    )
    recognized_only: bool = flag(
        False, "keep only the drawings the game recognised", action="store_true"
    )
    max_points: int = flag(
        ndjson.DEFAULT_MAX_POINTS,
        "longer drawings are rejected instead of exhausting memory",
        type=int,
    )
    simplify: bool = flag(
        False,
        "for raw-format input (e.g. gs://quickdraw_dataset/full/raw/): simplify "
        "each drawing as Google made the simplified files (0-255 box, 1 px "
        "resampling, RDP epsilon 2), the format the model expects; simplified "
        "input does not need it",
        action="store_true",
    )
    overwrite: bool = flag(False, "replace a non-empty --output", action="store_true")
    analysis_fraction: float | None = flag(
        None,
        "share of training drawings (by key_id hash) that tf.Transform analyses; "
        f"default: about {ANALYSIS_TARGET:,} drawings; 0 skips tf.Transform",
        type=float,
    )
    stripe_mb: int = flag(
        DEFAULT_STRIPE_MB,
        "input bytes per work unit; bounds a worker's memory",
        type=int,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "output", self.output.rstrip("/") or self.output)
        if not 0.0 <= self.eval_fraction <= 1.0:
            raise ValueError("--eval_fraction must be within [0, 1]")
        if self.analysis_fraction is not None and not 0 <= self.analysis_fraction <= 1:
            raise ValueError("--analysis_fraction must be within [0, 1]")
        if min(self.train_per_class, self.eval_per_class, self.num_shards) < 0:
            raise ValueError("caps and --num_shards must be >= 0")
        if self.stripe_mb < 1:
            raise ValueError("--stripe_mb must be >= 1")


def parse_args(
    argv: Sequence[str] | None, description: str = ""
) -> tuple[PipelineConfig, list[str]]:
    """Flags -> (config, the flags left for Beam's PipelineOptions)."""
    return flags.parse_known(
        PipelineConfig, argv, "python -m pipeline.main", description
    )
