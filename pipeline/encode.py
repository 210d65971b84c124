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
import orjson
from apache_beam.metrics import Metrics

from drawing import ink, ndjson
from drawing.features import EVAL, SPLITS, TRAIN
from pipeline import accounting, binary, reader, records, sources, split
from pipeline.config import PipelineConfig

REJECTED = "rejected"
DAMAGED_FILE = "damaged_file"  # the errors/ reason of a compressed file that breaks off
TRAIN_RAW = "train_raw"  # raw strokes of kept training drawings, for tf.Transform
STATS = "stats"
ERROR_LINE_CHARS = 2000
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

    @classmethod
    def of(
        cls, config: PipelineConfig, classes: Sequence[str], analysis_fraction: float
    ) -> EncodeConfig:
        """The run's settings for `classes`, with the analysis share resolved."""
        shared = {
            f.name: getattr(config, f.name)
            for f in dataclasses.fields(cls)
            if f.name not in ("classes", "analysis_fraction")
        }
        return cls(
            classes=tuple(classes), analysis_fraction=analysis_fraction, **shared
        )

    def cap(self, split_name: str) -> int:
        return self.train_per_class if split_name == TRAIN else self.eval_per_class


def error_record(line: reader.Line, reason: str, detail: str, **extra) -> bytes:
    """One ndjson line for DIR/errors/: enough to find and fix the input line."""
    return orjson.dumps(
        {
            "source": line.source,
            "offset": line.offset,
            "line_number": line.line_number,
            "reason": reason,
            "detail": detail[:500],
            "line": _shown(line),
            **extra,
        }
    )


def _shown(line: reader.Line | binary.Record) -> str:
    """An input line as text for errors/: a binary drawing's bytes in hex."""
    if binary.is_binary(line.source):
        return line.data[: ERROR_LINE_CHARS // 2].hex()
    return line.data[:ERROR_LINE_CHARS].decode("utf-8", "replace")


def damage_record(damage: reader.Damage) -> bytes:
    """The errors/ line of a damaged file: where it broke, and its unfinished line."""
    at_break = reader.Line(
        damage.path, damage.offset, damage.line_number, damage.partial_line
    )
    detail = (
        f"{damage.reason} after {damage.lines_read} complete lines: {damage.detail}"
    )
    return error_record(at_break, DAMAGED_FILE, detail, lines_read=damage.lines_read)


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
        if not self._priorities_only:
            yield from self._report_damage(tally, damaged)
        for line in lines:
            tally.lines_read += 1
            try:
                drawing = binary.parse_line(
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
                yield from self._encode(batch, tally, thresholds or {})
                batch = []
        yield from self._encode(batch, tally, thresholds or {})
        self._lines.inc(tally.lines_read)
        self._filtered.inc(tally.filtered)
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
            yield beam.pvalue.TaggedOutput(REJECTED, damage_record(damage))

    def _reject(self, tally, line, reason: str, detail: str) -> Iterator:
        tally.rejected[reason] += 1
        counter = self._rejected.get(reason) if reason != "internal_error" else None
        (counter or self._internal).inc()
        if not self._priorities_only:
            yield beam.pvalue.TaggedOutput(REJECTED, error_record(line, reason, detail))

    def _encode(self, batch, tally, thresholds) -> Iterator:
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
                self._dropped.inc()
                continue
            tally.written[(drawing.word, split_name)] += 1
            tally.lengths[accounting.length_bin(drawing.num_points)] += 1
            self._written[split_name].inc()
            example = records.serialize(drawing, encoded, class_index)
            yield beam.pvalue.TaggedOutput(split_name, example)
            if split_name == TRAIN and self._analyzed(priority):
                tally.analyzed += 1
                yield beam.pvalue.TaggedOutput(
                    TRAIN_RAW, records.serialize_raw(drawing)
                )

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
    ).with_outputs(TRAIN, EVAL, REJECTED, STATS, TRAIN_RAW)


@beam.ptransform_fn
def MergeStats(parts):  # noqa: N802 (Beam naming)
    """Adds up the per-stripe tallies into the single stats dict of stats.json."""
    return parts | "Merge" >> beam.CombineGlobally(accounting.merge)
