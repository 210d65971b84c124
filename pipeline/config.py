"""The settings of one pipeline run: the one home of every default.

`PipelineConfig` is frozen and validates itself; its fields carry their flag's
help, so the command line is built from it (`build_parser`) and `--help`
prints each default from here. Flags the parser does not know are left for
Beam's `PipelineOptions`. Nothing here imports Beam.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from pipeline import ink, logs, sources

# With no --analysis_fraction, tf.Transform analyses a deterministic sample of
# about this many training drawings (~1M deltas): that pins the mean and std to
# ~1e-3 and the length quantiles to ~1% in rank, where analysing every drawing
# cost more than the rest of the pipeline (see bench/README.md).
ANALYSIS_TARGET = 20_000


def _flag(default: object = dataclasses.MISSING, help: str = "", **argparse_kwargs):
    """A field whose metadata holds its flag: argparse arguments besides default."""
    return dataclasses.field(
        default=default, metadata={"help": help, **argparse_kwargs}
    )


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything one run needs besides Beam's own options. Paths may be gs://."""

    inputs: tuple[str, ...] = _flag(
        help="ndjson file, directory or glob, local or gs://; .gz works; repeatable",
        flag="--input",
        action="append",
        required=True,
    )
    output: str = _flag(help="output directory", required=True)
    classes_file: str | None = _flag(
        None, "one class per line; default: the input file names (<class>.ndjson)"
    )
    train_per_class: int = _flag(10_000, "cap; 0 keeps all", type=int)
    eval_per_class: int = _flag(1_000, "cap; 0 keeps all", type=int)
    eval_fraction: float = _flag(
        0.1, "share of drawings that go to eval, by a stable hash of key_id", type=float
    )
    num_shards: int = _flag(
        0,
        "shards per split; 0 = automatic (one per work bundle, no extra shuffle; "
        "a fixed count adds a shuffle that the local runner holds in memory)",
        type=int,
    )
    recognized_only: bool = _flag(
        False, "keep only the drawings the game recognised", action="store_true"
    )
    max_points: int = _flag(
        ink.DEFAULT_MAX_POINTS,
        "longer drawings are rejected instead of exhausting memory",
        type=int,
    )
    simplify: bool = _flag(
        False,
        "for raw-format input (e.g. gs://quickdraw_dataset/full/raw/): simplify "
        "each drawing as Google made the simplified files (0-255 box, 1 px "
        "resampling, RDP epsilon 2), the format the model expects; simplified "
        "input does not need it",
        action="store_true",
    )
    overwrite: bool = _flag(False, "replace a non-empty --output", action="store_true")
    analysis_fraction: float | None = _flag(
        None,
        "share of training drawings (by key_id hash) that tf.Transform analyses; "
        f"default: about {ANALYSIS_TARGET:,} drawings; 0 skips tf.Transform",
        type=float,
    )
    stripe_mb: int = _flag(
        sources.DEFAULT_STRIPE_BYTES >> 20,
        "input bytes per work unit; bounds a worker's memory",
        type=int,
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.eval_fraction <= 1.0:
            raise ValueError("--eval_fraction must be within [0, 1]")
        if self.analysis_fraction is not None and not 0 <= self.analysis_fraction <= 1:
            raise ValueError("--analysis_fraction must be within [0, 1]")
        if min(self.train_per_class, self.eval_per_class, self.num_shards) < 0:
            raise ValueError("caps and --num_shards must be >= 0")


class _HelpFormatter(
    argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter
):
    """Keeps the description's layout and prints every default."""


def build_parser(description: str = "") -> argparse.ArgumentParser:
    """One flag per `PipelineConfig` field, with the field's default."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.main",
        description=description,
        formatter_class=_HelpFormatter,
    )
    for field in dataclasses.fields(PipelineConfig):
        kwargs = dict(field.metadata)
        flag = kwargs.pop("flag", f"--{field.name}")
        if field.default is not dataclasses.MISSING:
            kwargs["default"] = field.default
        parser.add_argument(flag, dest=field.name, **kwargs)
    parser.add_argument(logs.VERBOSE_FLAG, action="store_true", help=logs.VERBOSE_HELP)
    return parser


def parse_args(
    argv: Sequence[str] | None, description: str = ""
) -> tuple[PipelineConfig, list[str]]:
    """Flags -> (config, the flags left for Beam's PipelineOptions)."""
    parser = build_parser(description)
    args, beam_args = parser.parse_known_args(argv)
    values = vars(args)
    del values["verbose"]  # read by pipeline.logs, not a pipeline setting
    values["inputs"] = tuple(args.inputs)
    values["output"] = args.output.rstrip("/") or args.output
    try:
        return PipelineConfig(**values), beam_args
    except ValueError as err:
        parser.error(str(err))
