"""Beam composites: stripes of ndjson lines -> capped, split, serialised Examples.

The glue stays thin: parsing and encoding live in `drawing.ink` and
`pipeline.records`, the split in `pipeline.split`, the accounting in
`pipeline.accounting`. Labels are stable so Dataflow update/monitoring keeps working.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import traceback
from collections.abc import Iterator, Mapping, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics

from drawing import ink, ndjson
from drawing.features import EVAL, SPLITS, TRAIN
from pipeline import (
    accounting,
    binary,
    reader,
    records,
    rejects,
    shards,
    sources,
    split,
)
from pipeline.config import PipelineConfig

REJECTED = "rejected"
TRAIN_RAW = "train_raw"  # raw strokes of kept training drawings, for tf.Transform
STATS = "stats"
SHARDS = "shards"  # a manifest entry per shard that the encoder wrote
BATCH = 512
NAMESPACE = "quickdraw"
PROGRESS = "progress:"  # prefix the CLI lets through from workers' logs

log = logging.getLogger(__name__)


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
    # Where the encoder writes its own shards (`pipeline.shards`); None hands
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


class EncodeStripeFn(beam.DoFn):
    """Reads one stripe and turns each line into an Example, a rejection or a drop.

    With `priorities_only`, it emits ((class_index, split), priority) for every
    drawing that would be kept, which is all the cap needs; the real pass then
    gets the per-class thresholds as a side input. Reading twice keeps memory
    flat, where holding the encoded drawings between the passes would not.
    """

    def __init__(self, config: EncodeConfig, priorities_only: bool = False) -> None:
        self._config = config
        self._priorities_only = priorities_only

    def setup(self) -> None:
        # Encoding allocates millions of short-lived lists; move the long-lived
        # module objects (TensorFlow's are many) out of the collector's way.
        gc.freeze()
        self._class_index = {c: i for i, c in enumerate(self._config.classes)}
        self._lines = Metrics.counter(NAMESPACE, "lines_read")
        self._written = {s: Metrics.counter(NAMESPACE, f"written_{s}") for s in SPLITS}
        self._dropped = Metrics.counter(NAMESPACE, "dropped_by_cap")
        self._filtered = Metrics.counter(NAMESPACE, "filtered")
        self._rejected = {
            r: Metrics.counter(NAMESPACE, f"rejected_{r.value}") for r in ndjson.Reason
        }
        self._internal = Metrics.counter(NAMESPACE, "rejected_internal_error")
        self._damaged = Metrics.counter(NAMESPACE, "damaged_files")

    def process(
        self,
        stripe: sources.Stripe,
        thresholds: Mapping[tuple[int, str], int] | None = None,
    ) -> Iterator:
        tally = accounting.Tally()
        batch: list[tuple[reader.Line, ndjson.Drawing]] = []
        lines, damaged = binary.read_stripe(stripe)
        writer = None
        if not self._priorities_only:
            yield from self._report_damage(tally, damaged)
            if self._config.shards_dir:
                writer = shards.ShardWriter(
                    self._config.shards_dir, stripe.index, stripe.count
                )
        parsed = binary.parse_lines(
            lines, self._class_index, self._config.max_points, self._config.simplify
        )
        for line, drawing in parsed:
            tally.lines_read += 1
            try:
                drawing = drawing or binary.parse_line(
                    line,
                    self._class_index,
                    self._config.max_points,
                    simplify=self._config.simplify,
                )
            except ndjson.BadDrawing as err:
                yield from self._reject(tally, line, err.reason.value, str(err))
                continue
            except Exception:  # a bug must not cost the stripe: keep the line
                yield from self._reject(
                    tally, line, "internal_error", traceback.format_exc()
                )
                continue
            if self._config.recognized_only and not drawing.recognized:
                tally.filtered += 1
                continue
            batch.append((line, drawing))
            if len(batch) == BATCH:
                yield from self._encode(batch, tally, thresholds or {}, writer)
                batch = []
        yield from self._encode(batch, tally, thresholds or {}, writer)
        self._count(tally)
        if writer:
            for shard in writer.close():
                yield beam.pvalue.TaggedOutput(SHARDS, shard)
        if not self._priorities_only:
            yield beam.pvalue.TaggedOutput(STATS, tally.as_dict())
            log.info(
                "%s work unit %d/%d done: %d lines, %d written, %d rejected",
                PROGRESS,
                stripe.index + 1,
                stripe.count,
                tally.lines_read,
                sum(tally.written.values()),
                sum(tally.rejected.values()),
            )

    def _count(self, tally: accounting.Tally) -> None:
        """Beam's counters, once per work unit: per record they cost ~1 us each."""
        self._lines.inc(tally.lines_read)
        self._filtered.inc(tally.filtered)
        self._dropped.inc(sum(tally.dropped.values()))
        for split_name in SPLITS:
            self._written[split_name].inc(
                sum(n for (_, s), n in tally.written.items() if s == split_name)
            )

    def _report_damage(self, tally, damaged: list[reader.Damage]) -> Iterator:
        for damage in damaged:
            log.warning(
                "%s is damaged (%s) after %d complete lines; the rest is not read: %s",
                damage.path,
                damage.reason,
                damage.lines_read,
                damage.detail,
            )
            tally.damaged_files.append(damage.as_dict())
            self._damaged.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, rejects.damage_record(damage))

    def _reject(self, tally, line, reason: str, detail: str) -> Iterator:
        tally.rejected[reason] += 1
        counter = self._rejected.get(reason) if reason != "internal_error" else None
        (counter or self._internal).inc()
        if not self._priorities_only:
            yield beam.pvalue.TaggedOutput(
                REJECTED, rejects.error_record(line, reason, detail)
            )

    def _encode(self, batch, tally, thresholds, writer) -> Iterator:
        inks, errors = ink.encode_batch([d for _, d in batch])
        for i, ((line, drawing), encoded) in enumerate(zip(batch, inks, strict=True)):
            if encoded is None:
                err = errors[i]
                yield from self._reject(tally, line, err.reason.value, str(err))
                continue
            class_index = self._class_index[drawing.word]
            split_name, priority = split.assign(
                drawing.key_id, self._config.eval_fraction
            )
            if self._priorities_only:
                if self._config.cap(split_name):
                    yield beam.pvalue.TaggedOutput(split_name, (class_index, priority))
                continue
            limit = thresholds.get((class_index, split_name))
            if limit is not None and priority > limit:
                tally.dropped[(drawing.word, split_name)] += 1
                continue
            tally.written[(drawing.word, split_name)] += 1
            tally.lengths[accounting.length_bin(drawing.num_points)] += 1
            example = records.serialize(drawing, encoded, class_index)
            if writer:
                writer.add(split_name, example)
            else:
                yield beam.pvalue.TaggedOutput(split_name, example)
            if split_name == TRAIN and self._analyzed(priority):
                tally.analyzed += 1
                yield beam.pvalue.TaggedOutput(
                    TRAIN_RAW, records.serialize_raw(drawing)
                )
        if writer:
            writer.flush()

    def _analyzed(self, priority: int) -> bool:
        # A deterministic sample from the priority's low 32 bits: the cap ranks
        # by its high bits, so the sample stays uniform within kept drawings.
        return (priority & 0xFFFFFFFF) < self._config.analysis_fraction * 2.0**32


def _threshold(kv: tuple[int, list[int]], split_name: str, cap: int):
    """The largest kept priority of a class, or nothing when the cap does not bind."""
    class_index, smallest = kv
    if len(smallest) >= cap:
        yield (class_index, split_name), max(smallest)


@beam.ptransform_fn
def CapThresholds(stripes, config: EncodeConfig):  # noqa: N802 (Beam naming)
    """Per (class, split): the priority of the cap-th kept drawing, as a side input.

    Holds `cap` integers per class, never the drawings themselves. Applied only
    when at least one split has a cap.
    """
    priorities = stripes | "Priorities" >> beam.ParDo(
        EncodeStripeFn(config, priorities_only=True)
    ).with_outputs(*SPLITS)
    per_split = []
    for split_name in SPLITS:
        cap = config.cap(split_name)
        if not cap:
            continue
        per_split.append(
            priorities[split_name]
            | f"Smallest{split_name.title()}" >> beam.combiners.Top.SmallestPerKey(cap)
            | f"Threshold{split_name.title()}"
            >> beam.FlatMap(_threshold, split_name=split_name, cap=cap)
        )
    return per_split | "Flatten" >> beam.Flatten()


@beam.ptransform_fn
def EncodeDrawings(stripes, config: EncodeConfig):  # noqa: N802 (Beam naming)
    """Stripes -> {train, eval: serialised Examples, rejected: error lines, stats}."""
    side = {}
    if config.train_per_class or config.eval_per_class:
        thresholds = stripes | "CapThresholds" >> CapThresholds(config)
        side["thresholds"] = beam.pvalue.AsDict(thresholds)
    return stripes | "Encode" >> beam.ParDo(
        EncodeStripeFn(config), **side
    ).with_outputs(TRAIN, EVAL, REJECTED, STATS, TRAIN_RAW, SHARDS)


@beam.ptransform_fn
def MergeStats(parts):  # noqa: N802 (Beam naming)
    """Adds up the per-stripe tallies into the single stats dict of stats.json."""
    return parts | "Merge" >> beam.CombineGlobally(accounting.merge)
