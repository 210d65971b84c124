"""Encodes a work unit's lines a chunk at a time: split, caps, records, sample.

Per drawing, only what has to be stays Python: its fields, its key_id's hash
and its record's joined bytes. The numbers, the ink, the split, the caps and
the tallies are numpy over the chunk, which `pipeline.chunk_parser` parsed.
Each step of a chunk is a unit of its own: the split (`split.assign_many`),
the --recognized_only filter, the caps and their counts, the records of each
split, and the sample of training drawings for tf.Transform. A capped run
reads its input twice: `CapPriorities` gives the first pass's priorities,
`ChunkEncoder` the second pass's records against the thresholds found.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import compress
from typing import NamedTuple

import numpy as np

from drawing import ink
from drawing.columns import Columns
from drawing.features import SPLITS, TRAIN
from pipeline import accounting, records, split
from pipeline.chunk_parser import Batch, ChunkParser, Reject
from pipeline.encode_config import EncodeConfig
from pipeline.lines import Lines

_NO_LIMIT = np.iinfo(np.uint64).max
_LOW_32 = np.uint64(0xFFFFFFFF)


class Encoded(NamedTuple):
    """What a chunk's lines became, each list in line order."""

    rejects: list[Reject]
    records: dict[str, list[bytes]]  # split -> Example bytes
    raw: list[bytes]  # raw Examples of the analysed training drawings


def ink_bytes(columns: Columns) -> list[memoryview]:
    """Each drawing's float32 ink bytes, as `records.serialize_many` takes them:
    views into one buffer, copied once, into the record."""
    if not columns.index:
        return []
    flat, starts = ink.encode_columns(
        columns.xs, columns.ys, columns.points, columns.stroke_lengths
    )
    raw = memoryview(flat.astype("<f4", copy=False)).cast("B")
    begin = ((starts + 1) * records.ROW_BYTES).tolist()
    end = ((starts + columns.points) * records.ROW_BYTES).tolist()
    return [raw[b:e] for b, e in zip(begin, end, strict=True)]


def _recognized(batch: Batch, config: EncodeConfig, tally) -> np.ndarray:
    """Which drawings --recognized_only keeps (all without it); the rest are
    counted as filtered."""
    if not config.recognized_only:
        return np.ones(len(batch.classes), bool)
    alive = np.array(batch.recognized, bool)
    tally.filtered += int(len(alive) - alive.sum())
    return alive


def _assign(
    batch: Batch, config: EncodeConfig, tally: accounting.Tally
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each drawing's split (an index into SPLITS: train, eval), its cap
    priority, and whether --recognized_only keeps it (the others counted)."""
    side, priority = split.assign_many(batch.key_ids, config.eval_fraction)
    return side.astype(np.intp), priority, _recognized(batch, config, tally)


class CapPriorities:
    """The first pass of a capped run: the cap priority of every drawing that
    would be kept, which is all the caps need (no ink, no record)."""

    def __init__(self, config: EncodeConfig) -> None:
        self._config = config
        self._parser = ChunkParser(config)
        self._capped = np.array([bool(config.cap(s)) for s in SPLITS])

    def priorities(
        self, lines: Lines, tally: accounting.Tally
    ) -> list[tuple[str, int, int]]:
        """(split, class index, priority) of each capped drawing, in line order."""
        parsed = self._parser.parse(lines, [], tally)
        # The batch parsers' inks are not needed here: none is computed.
        batch = self._parser.batch(parsed, [b""] * len(parsed.columns.index))
        if not batch.key_ids:
            return []
        side, priority, alive = _assign(batch, self._config, tally)
        return [
            (SPLITS[side[j]], batch.classes[j], int(priority[j]))
            for j in np.flatnonzero(alive & self._capped[side]).tolist()
        ]


class ChunkEncoder:
    """Turns chunks of one work unit's lines into records, rejects and counts."""

    def __init__(
        self, config: EncodeConfig, thresholds: Mapping[tuple[int, str], int]
    ) -> None:
        self._config = config
        self._parser = ChunkParser(config)
        self._limits = np.full((len(SPLITS), len(config.classes)), _NO_LIMIT)
        for (class_index, split_name), limit in thresholds.items():
            # Every priority is below 2**64: a larger limit keeps them all.
            limit = min(limit, int(_NO_LIMIT))
            self._limits[SPLITS.index(split_name), class_index] = limit
        # (split, class) counts of written and dropped drawings, kept here and
        # added to the tally by `finish`: a chunk touches hundreds of classes.
        self._written = np.zeros(len(SPLITS) * len(config.classes), np.int64)
        self._dropped = np.zeros_like(self._written)
        self._sample = config.analysis_fraction * 2.0**32

    def encode(self, lines: Lines, tally: accounting.Tally) -> Encoded:
        """Every line becomes a record, a reject, a drop or a filtered line."""
        tally.lines_read += len(lines)
        out = Encoded([], {s: [] for s in SPLITS}, [])
        parsed = self._parser.parse(lines, out.rejects, tally)
        batch = self._parser.batch(parsed, ink_bytes(parsed.columns))
        if not batch.key_ids:
            return out
        side, priority, alive = _assign(batch, self._config, tally)
        kept = self._cap(batch, side, priority, alive)
        tally.count_lengths(batch.points[kept])
        self._serialise(batch, side, kept, out.records)
        sampled = [batch.line[j] for j in self._sampled(side, priority, kept)]
        out.raw.extend(map(records.serialize_raw, parsed.drawings_of(sampled)))
        tally.analyzed += len(sampled)
        return out

    def _cap(self, batch: Batch, side, priority, alive: np.ndarray) -> np.ndarray:
        """Which living drawings the caps keep; the written and dropped counted."""
        classes = np.array(batch.classes, np.intp)
        kept = alive & (priority <= self._limits[side, classes])
        n = len(self._config.classes)
        cell = side * n + classes
        self._dropped += np.bincount(cell[alive & ~kept], minlength=2 * n)
        self._written += np.bincount(cell[kept], minlength=2 * n)
        return kept

    def _serialise(self, batch: Batch, side, kept, out: dict[str, list]) -> None:
        """The kept drawings' Example bytes, per split, in line order."""
        columns = (batch.inks, batch.key_ids, batch.recognized, batch.classes)
        for s, split_name in enumerate(SPLITS):
            mask = (kept & (side == s)).tolist()
            of_split = (compress(column, mask) for column in columns)
            out[split_name].extend(records.serialize_many(*of_split))

    def _sampled(self, side, priority, kept: np.ndarray) -> list[int]:
        """The positions of the kept training drawings in tf.Transform's sample
        (by the low 32 bits of their priority), in line order."""
        sampled = kept & (side == SPLITS.index(TRAIN))
        sampled &= (priority & _LOW_32).astype(np.float64) < self._sample
        return np.flatnonzero(sampled).tolist()

    def finish(self, tally: accounting.Tally) -> None:
        """Adds the (word, split) counts of every chunk so far to `tally`."""
        n = len(self._config.classes)
        for counts, counter in (
            (self._written, tally.written),
            (self._dropped, tally.dropped),
        ):
            for k in np.flatnonzero(counts).tolist():
                counter[(self._config.classes[k % n], SPLITS[k // n])] += int(counts[k])
            counts[:] = 0
