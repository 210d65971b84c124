"""Beam composites: stripes of ndjson lines -> capped, split, serialised Examples.

The glue stays thin: a work unit's chunks are parsed by `pipeline.chunk_parser`
and encoded by `pipeline.chunk_encoder` (parsing and ink in `drawing`, the
records in `pipeline.records`, the split in `pipeline.split`), its counts kept
by `pipeline.accounting` and given to Beam's counters once per work unit.
Labels are stable so Dataflow update/monitoring keeps working.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Mapping

import apache_beam as beam
from apache_beam.metrics import Metrics

from drawing import ndjson
from drawing.features import EVAL, SPLITS, TRAIN
from pipeline import (
    accounting,
    chunk_encoder,
    chunk_parser,
    lines,
    rejects,
    shard_writer,
    sources,
    stripe_reader,
)
from pipeline.encode_config import EncodeConfig
from pipeline.lines import Lines

REJECTED = "rejected"
TRAIN_RAW = "train_raw"  # raw strokes of kept training drawings, for tf.Transform
STATS = "stats"
SHARDS = "shards"  # a manifest entry per shard that the encoder wrote
NAMESPACE = "quickdraw"
PROGRESS = "progress:"  # prefix the CLI lets through from workers' logs

log = logging.getLogger(__name__)


def _chunks(lines: Lines) -> Iterator[Lines]:
    for start in range(0, len(lines), chunk_parser.CHUNK):
        yield lines[start : start + chunk_parser.CHUNK]


class StripePrioritiesFn(beam.DoFn):
    """The first pass of a capped run: a stripe's drawings as cap priorities.

    Emits ((class_index, split), priority) for every drawing that would be
    kept, which is all the cap needs; the second pass (`EncodeStripeFn`) then
    gets the per-class thresholds as a side input. Reading twice keeps memory
    flat, where holding the encoded drawings between the passes would not.
    The second pass reads the same lines and does the counting; this one
    counts nothing.
    """

    def __init__(self, config: EncodeConfig) -> None:
        self._config = config

    def setup(self) -> None:
        gc.freeze()  # as EncodeStripeFn.setup

    def process(self, stripe: sources.Stripe) -> Iterator:
        lines, _ = stripe_reader.read_stripe(stripe)
        first_pass = chunk_encoder.CapPriorities(self._config)
        unreported = accounting.Tally()
        for chunk in _chunks(lines):
            for split_name, class_index, priority in first_pass.priorities(
                chunk, unreported
            ):
                yield beam.pvalue.TaggedOutput(split_name, (class_index, priority))


class EncodeStripeFn(beam.DoFn):
    """Reads one stripe and turns each line into an Example, a rejection or a drop.

    In a capped run, `thresholds` holds the priority of the cap-th kept drawing
    per (class, split), from the first pass (`StripePrioritiesFn`).
    """

    def __init__(self, config: EncodeConfig) -> None:
        self._config = config

    def setup(self) -> None:
        # Encoding allocates millions of short-lived lists; move the long-lived
        # module objects (TensorFlow's are many) out of the collector's way.
        gc.freeze()
        self._lines = Metrics.counter(NAMESPACE, "lines_read")
        self._written = {s: Metrics.counter(NAMESPACE, f"written_{s}") for s in SPLITS}
        self._dropped = Metrics.counter(NAMESPACE, "dropped_by_cap")
        self._filtered = Metrics.counter(NAMESPACE, "filtered")
        self._per_line = Metrics.counter(NAMESPACE, "per_line_parsed")
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
        lines, damaged = stripe_reader.read_stripe(stripe)
        yield from self._report_damage(tally, damaged)
        writer = None
        if self._config.shards_dir:
            writer = shard_writer.ShardWriter(
                self._config.shards_dir, stripe.index, stripe.count
            )
        encoder = chunk_encoder.ChunkEncoder(self._config, thresholds or {})
        for chunk in _chunks(lines):
            yield from self._emit(encoder.encode(chunk, tally), tally, writer)
        encoder.finish(tally)
        self._count(tally)
        if writer:
            for shard in writer.close():
                yield beam.pvalue.TaggedOutput(SHARDS, shard)
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

    def _emit(self, done: chunk_encoder.Encoded, tally, writer) -> Iterator:
        """A chunk's rejects, records and raw examples."""
        for line, reason, detail in done.rejects:
            yield from self._reject(tally, line, reason, detail)
        for split_name, examples in done.records.items():
            if writer:
                writer.add_many(split_name, examples)
            else:
                for example in examples:
                    yield beam.pvalue.TaggedOutput(split_name, example)
        for raw in done.raw:
            yield beam.pvalue.TaggedOutput(TRAIN_RAW, raw)
        if writer:
            writer.flush()

    def _count(self, tally: accounting.Tally) -> None:
        """Beam's counters, once per work unit: per record, they were a share of
        the encoder's time (bench/README.md)."""
        self._lines.inc(tally.lines_read)
        self._filtered.inc(tally.filtered)
        self._per_line.inc(tally.per_line_parsed)
        self._dropped.inc(sum(tally.dropped.values()))
        for split_name in SPLITS:
            self._written[split_name].inc(
                sum(n for (_, s), n in tally.written.items() if s == split_name)
            )

    def _report_damage(self, tally, damaged: list[lines.Damage]) -> Iterator:
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
        yield beam.pvalue.TaggedOutput(
            REJECTED, rejects.error_record(line, reason, detail)
        )


def _threshold(kv: tuple[int, list[int]], split_name: str, cap: int):
    """The largest kept priority of a class, or nothing when the cap does not bind."""
    class_index, smallest = kv
    if len(smallest) >= cap:
        yield (class_index, split_name), max(smallest)


@beam.ptransform_fn
def CapThresholds(stripes, config: EncodeConfig):
    """Per (class, split): the priority of the cap-th kept drawing, as a side input.

    Holds `cap` integers per class, never the drawings themselves. Applied only
    when at least one split has a cap.
    """
    priorities = stripes | "Priorities" >> beam.ParDo(
        StripePrioritiesFn(config)
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
def EncodeDrawings(stripes, config: EncodeConfig):
    """Stripes -> {train, eval: serialised Examples, rejected: error lines, stats}."""
    side = {}
    if config.train_per_class or config.eval_per_class:
        thresholds = stripes | "CapThresholds" >> CapThresholds(config)
        side["thresholds"] = beam.pvalue.AsDict(thresholds)
    return stripes | "Encode" >> beam.ParDo(
        EncodeStripeFn(config), **side
    ).with_outputs(TRAIN, EVAL, REJECTED, STATS, TRAIN_RAW, SHARDS)


@beam.ptransform_fn
def MergeStats(parts):
    """Adds up the per-stripe tallies into the single stats dict of stats.json."""
    return parts | "Merge" >> beam.CombineGlobally(accounting.merge)
