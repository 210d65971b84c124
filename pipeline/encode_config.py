"""What the encoder needs to know of a run, in one frozen dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from drawing.features import TRAIN
from pipeline.config import PipelineConfig


@dataclasses.dataclass(frozen=True)
class EncodeConfig:
    """What the encoder needs to know; picklable for the workers.

    Built from the run's `PipelineConfig` by `of`, which holds the defaults.
    """

    classes: tuple[str, ...]
    eval_fraction: float
    max_points: int
    recognized_only: bool
    simplify: bool  # raw-format input: simplify as the dataset's drawings were
    train_per_class: int
    eval_per_class: int
    # Share of kept training drawings, chosen by key_id hash, whose raw strokes
    # go to tf.Transform's analysis; 0 turns the analysis off.
    analysis_fraction: float
    # Where the encoder writes its own shards (`pipeline.shard_writer`); None hands
    # the records to Beam's WriteToTFRecord instead (a fixed --num_shards).
    shards_dir: str | None

    @classmethod
    def of(
        cls,
        config: PipelineConfig,
        classes: Sequence[str],
        analysis_fraction: float,
        shards_dir: str | None = None,
    ) -> EncodeConfig:
        """The run's settings for `classes`, with the analysis share resolved."""
        given = ("classes", "analysis_fraction", "shards_dir")
        shared = {
            f.name: getattr(config, f.name)
            for f in dataclasses.fields(cls)
            if f.name not in given
        }
        return cls(
            classes=tuple(classes),
            analysis_fraction=analysis_fraction,
            shards_dir=shards_dir,
            **shared,
        )

    def cap(self, split_name: str) -> int:
        return self.train_per_class if split_name == TRAIN else self.eval_per_class
