"""Encodes a work unit's lines a chunk at a time: parse, encode, split, serialise.

Per drawing, only what has to be stays Python: its fields, its key_id's hash
and its record's joined bytes. The numbers, the ink, the split, the caps and
the tallies are numpy over the chunk (`drawing.ndjson_batch` parses the
dataset's own lines as columns). The lines that parser is not sure of, and
binary drawings, are parsed one by one and encoded by `ink.encode_batch`, then
rejoin the chunk in line order, so records, rejects and accounting are the
per-line path's.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from itertools import compress
from typing import NamedTuple

import numpy as np

from drawing import binary, binary_batch, ink, ndjson, ndjson_batch
from drawing.columns import Columns
from drawing.features import SPLITS, TRAIN
from pipeline import accounting, records, split
from pipeline.encode_config import EncodeConfig
from pipeline.lines import Line, Lines, Record

CHUNK = 512  # lines parsed and encoded at once
_NO_LIMIT = np.iinfo(np.uint64).max
_LOW_32 = np.uint64(0xFFFFFFFF)

log = logging.getLogger(__name__)


class Reject(NamedTuple):
    line: Line | Record
    reason: str
    detail: str


class Encoded(NamedTuple):
    """What a chunk's lines became, each list in line order."""

    rejects: list[Reject]
    records: dict[str, list[bytes]]  # split -> Example bytes
    raw: list[bytes]  # raw Examples of the analysed training drawings
    priorities: list[tuple[str, int, int]]  # (split, class index, priority)


class _Batch(NamedTuple):
    """A chunk's parsed drawings in line order, as columns."""

    classes: list[int]
    key_ids: list[bytes]
    recognized: list[bool]
    points: np.ndarray
    inks: list  # each drawing's float32 ink bytes (or a view); empty if not encoded
    where: list  # each drawing's place in the columns, or its `Drawing`


def parse_line(
    line: Line | Record,
    class_index: Mapping[str, int],
    max_points: int,
    simplify: bool = False,
) -> ndjson.Drawing:
    """An ndjson line or a binary drawing, parsed with the same checks."""
    if type(line) is Record:
        return binary.to_drawing(
            line.data, line.word, class_index, max_points, simplify=simplify
        )
    return ndjson.parse_drawing(line.data, class_index, max_points, simplify=simplify)


def parse_canonical(
    lines: Lines, config: EncodeConfig, class_index: Mapping[str, int]
) -> Columns:
    """The chunk's lines and binary drawings that the batch parsers take
    (`drawing.ndjson_batch`, `drawing.binary_batch`), `index` counting all."""
    if config.simplify:
        return Columns.none()
    binary_entry = lines.is_binary()
    parts = []
    try:  # a bug here must cost speed, never lines
        if not binary_entry.any():
            return ndjson_batch.parse_columns(
                lines.data, class_index, config.max_points
            )
        for which, parse in ((~binary_entry, _parse_texts), (binary_entry, _parse_bin)):
            index = np.flatnonzero(which).tolist()
            if index:
                part = parse(lines, index, class_index, config.max_points)
                parts.append(part._replace(index=[index[i] for i in part.index]))
    except Exception:
        log.exception("the batch parser failed; parsing line by line")
        return Columns.none()
    return Columns.concat(parts)


def _parse_texts(lines: Lines, index: list[int], class_index, max_points) -> Columns:
    data = [lines.data[i] for i in index]
    return ndjson_batch.parse_columns(data, class_index, max_points)


def _parse_bin(lines: Lines, index: list[int], class_index, max_points) -> Columns:
    data = [lines.data[i] for i in index]
    words = lines.words_of(index)
    return binary_batch.parse_columns(data, words, class_index, max_points)


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


class ChunkEncoder:
    """Turns chunks of one work unit's lines into records, rejects and counts."""

    def __init__(
        self,
        config: EncodeConfig,
        thresholds: Mapping[tuple[int, str], int],
        priorities_only: bool = False,
    ) -> None:
        self._config = config
        self._priorities_only = priorities_only
        self._class_index = {c: i for i, c in enumerate(config.classes)}
        self._class_bytes = {c.encode(): i for i, c in enumerate(config.classes)}
        self._limits = np.full((len(SPLITS), len(config.classes)), _NO_LIMIT)
        for (class_index, split_name), limit in thresholds.items():
            # Every priority is below 2**64: a larger limit keeps them all.
            limit = min(limit, int(_NO_LIMIT))
            self._limits[SPLITS.index(split_name), class_index] = limit
        self._capped = np.array([bool(config.cap(s)) for s in SPLITS])
        # (split, class) counts of written and dropped drawings, kept here and
        # added to the tally by `finish`: a chunk touches hundreds of classes.
        self._written = np.zeros(len(SPLITS) * len(config.classes), np.int64)
        self._dropped = np.zeros_like(self._written)
        self._sample = config.analysis_fraction * 2.0**32

    def encode(self, lines: Lines, tally: accounting.Tally) -> Encoded:
        """Every line becomes a record, a reject, a drop or a filtered line."""
        tally.lines_read += len(lines)
        out = Encoded([], {s: [] for s in SPLITS}, [], [])
        columns = parse_canonical(lines, self._config, self._class_index)
        others = self._parse_others(lines, columns.index, out, tally)
        batch = self._merge(self._canonical(columns), self._encode_others(others, out))
        if batch.key_ids:
            self._route(batch, columns, out, tally)
        return out

    def _parse_others(self, lines, taken, out, tally) -> list:
        """(line index, line, `Drawing`) of the lines the batch parser left."""
        if len(taken) == len(lines):
            return []
        taken, others, config = set(taken), [], self._config
        for i in range(len(lines)):
            if i in taken:
                continue
            line = lines.entry(i)
            try:
                drawing = parse_line(
                    line, self._class_index, config.max_points, config.simplify
                )
            except ndjson.BadDrawing as err:
                out.rejects.append(Reject(line, err.reason.value, str(err)))
                continue
            except Exception:  # a bug must not cost the work unit: keep the line
                out.rejects.append(
                    Reject(line, "internal_error", traceback.format_exc())
                )
                continue
            if config.recognized_only and not drawing.recognized:
                tally.filtered += 1
                continue
            others.append((i, line, drawing))
        return others

    def _canonical(self, columns: Columns) -> tuple[list[int], _Batch]:
        """The batch parser's drawings, encoded unless only priorities are wanted."""
        if self._priorities_only:
            inks = [b""] * len(columns.index)
        else:
            inks = ink_bytes(columns)
        words, recognized, key_ids = (
            zip(*columns.fields, strict=True) if columns.fields else ((),) * 3
        )
        batch = _Batch(
            classes=list(map(self._class_bytes.__getitem__, words)),
            key_ids=list(key_ids),
            recognized=list(map(b"true".__eq__, recognized)),
            points=columns.points,
            inks=inks,
            where=list(range(len(columns.index))),
        )
        return columns.index, batch

    def _encode_others(self, others: list, out: Encoded) -> tuple[list[int], _Batch]:
        """The per-line parser's drawings, encoded; non-finite ones rejected."""
        inks, errors = ink.encode_batch([d for _, _, d in others])
        for j, err in errors.items():
            out.rejects.append(Reject(others[j][1], err.reason.value, str(err)))
        kept = [j for j in range(len(others)) if j not in errors]
        drawings = [others[j][2] for j in kept]
        batch = _Batch(
            classes=[self._class_index[d.word] for d in drawings],
            key_ids=[d.key_id.encode() for d in drawings],
            recognized=[d.recognized for d in drawings],
            points=np.array([d.num_points for d in drawings], np.int64),
            inks=[records.raw_ink(inks[j]) for j in kept],
            where=drawings,
        )
        return [others[j][0] for j in kept], batch

    def _merge(self, first: tuple[list[int], _Batch], second) -> _Batch:
        """Two batches as one, in the order of their lines."""
        (index_a, a), (index_b, b) = first, second
        if not index_b and all(map(int.__lt__, index_a, index_a[1:])):
            return a
        if not index_a:
            return b
        order = np.argsort(np.array(index_a + index_b), kind="stable").tolist()
        lists = ("classes", "key_ids", "recognized", "inks", "where")
        merged = {k: getattr(a, k) + getattr(b, k) for k in lists}
        return _Batch(
            points=np.concatenate([a.points, b.points])[order],
            **{k: [v[i] for i in order] for k, v in merged.items()},
        )

    def _route(self, batch: _Batch, columns, out: Encoded, tally) -> None:
        """Split, cap, count and serialise the chunk's drawings."""
        side, priority = split.assign_many(batch.key_ids, self._config.eval_fraction)
        side = side.astype(np.intp)  # index into SPLITS: (train, eval)
        classes = np.array(batch.classes, np.intp)
        alive = np.ones(len(classes), bool)
        if self._config.recognized_only:
            alive = np.array(batch.recognized, bool)
            tally.filtered += int(len(alive) - alive.sum())
        if self._priorities_only:
            for j in np.flatnonzero(alive & self._capped[side]).tolist():
                out.priorities.append(
                    (SPLITS[side[j]], batch.classes[j], int(priority[j]))
                )
            return
        kept = alive & (priority <= self._limits[side, classes])
        n = len(self._config.classes)
        self._dropped += np.bincount(
            (side * n + classes)[alive & ~kept], minlength=2 * n
        )
        self._written += np.bincount((side * n + classes)[kept], minlength=2 * n)
        tally.count_lengths(batch.points[kept])
        for s, split_name in enumerate(SPLITS):
            mask = (kept & (side == s)).tolist()
            columns_of_split = (
                compress(column, mask)
                for column in (
                    batch.inks,
                    batch.key_ids,
                    batch.recognized,
                    batch.classes,
                )
            )
            out.records[split_name].extend(records.serialize_many(*columns_of_split))
        sampled = kept & (side == SPLITS.index(TRAIN))
        sampled &= (priority & _LOW_32).astype(np.float64) < self._sample
        where = [batch.where[j] for j in np.flatnonzero(sampled).tolist()]
        parsed = iter(columns.drawings([w for w in where if type(w) is int]))
        for w in where:  # in line order, as the per-line path gave them
            out.raw.append(records.serialize_raw(next(parsed) if type(w) is int else w))
        tally.analyzed += len(where)

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
