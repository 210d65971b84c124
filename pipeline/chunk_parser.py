"""Parses a chunk of a work unit's lines: the batch parsers first, then the rest.

The dataset's own lines are parsed together, as columns, by
`drawing.ndjson_batch` (`.bin` drawings by `drawing.binary_batch`). A line
they give up is parsed alone by `drawing.ndjson` (`drawing.binary`) and its
ink encoded by `ink.encode_batch`, with the same checks and reasons, and
counted (`Tally.per_line_parsed`): a regression of the fast path shows in
stats.json and Beam's counters, not only as cost. Both passes of a capped run
start here (`pipeline.chunk_encoder`), so they see the same drawings.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from drawing import binary, binary_batch, ink, ndjson, ndjson_batch
from drawing.columns import Columns
from pipeline import accounting, records
from pipeline.encode_config import EncodeConfig
from pipeline.lines import Line, Lines, Record

CHUNK = 512  # lines parsed and encoded at once

log = logging.getLogger(__name__)


class Reject(NamedTuple):
    line: Line | Record
    reason: str
    detail: str


class Parsed(NamedTuple):
    """A chunk's drawings as each parser gave them."""

    columns: Columns  # the batch parsers'; `index` holds their lines
    lines: list[int]  # the lines the per-line parser took, in order
    drawings: list[ndjson.Drawing]  # ... their drawings
    inks: list[bytes]  # ... and their float32 ink bytes

    def drawings_of(self, lines: list[int]) -> list[ndjson.Drawing]:
        """The `Drawing` of each of `lines`, in that order."""
        per_line = dict(zip(self.lines, self.drawings, strict=True))
        column = {line: j for j, line in enumerate(self.columns.index)}
        built = iter(self.columns.drawings([column[i] for i in lines if i in column]))
        return [per_line[i] if i in per_line else next(built) for i in lines]


class Batch(NamedTuple):
    """A chunk's drawings in line order, whichever parser read them."""

    line: list[int]  # each drawing's line in the chunk
    classes: list[int]
    key_ids: list[bytes]
    recognized: list[bool]
    points: np.ndarray
    inks: list  # each drawing's float32 ink bytes (or a view)


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


class ChunkParser:
    """Parses chunks of lines into drawings, rejects and the filtered count."""

    def __init__(self, config: EncodeConfig) -> None:
        self._config = config
        self._class_index = {c: i for i, c in enumerate(config.classes)}
        self._class_bytes = {c.encode(): i for i, c in enumerate(config.classes)}

    def parse(
        self, lines: Lines, rejects: list[Reject], tally: accounting.Tally
    ) -> Parsed:
        """Every line's drawing, or its reject appended to `rejects`; a line
        the per-line parser took and --recognized_only drops is counted as
        filtered (the batch parsers' drawings are filtered by the caller)."""
        columns = parse_canonical(lines, self._config, self._class_index)
        if not self._config.simplify:  # with --simplify no batch parser is asked
            tally.per_line_parsed += len(lines) - len(columns.index)
        others = self._parse_others(lines, columns.index, rejects, tally)
        inks, errors = ink.encode_batch([d for _, _, d in others])
        for j, err in errors.items():
            rejects.append(Reject(others[j][1], err.reason.value, str(err)))
        kept = [j for j in range(len(others)) if j not in errors]
        return Parsed(
            columns,
            [others[j][0] for j in kept],
            [others[j][2] for j in kept],
            [records.raw_ink(inks[j]) for j in kept],
        )

    def _parse_others(self, lines, taken, rejects, tally) -> list:
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
                rejects.append(Reject(line, err.reason.value, str(err)))
                continue
            except Exception:  # a bug must not cost the work unit: keep the line
                rejects.append(Reject(line, "internal_error", traceback.format_exc()))
                continue
            if config.recognized_only and not drawing.recognized:
                tally.filtered += 1
                continue
            others.append((i, line, drawing))
        return others

    def batch(self, parsed: Parsed, column_inks: list) -> Batch:
        """Both parsers' drawings as one batch, in line order; `column_inks`
        are the batch parsers' drawings' inks (what the caller needs of them)."""
        columns = parsed.columns
        words, recognized, key_ids = (
            zip(*columns.fields, strict=True) if columns.fields else ((),) * 3
        )
        first = Batch(
            line=columns.index,
            classes=list(map(self._class_bytes.__getitem__, words)),
            key_ids=list(key_ids),
            recognized=list(map(b"true".__eq__, recognized)),
            points=columns.points,
            inks=column_inks,
        )
        second = Batch(
            line=parsed.lines,
            classes=[self._class_index[d.word] for d in parsed.drawings],
            key_ids=[d.key_id.encode() for d in parsed.drawings],
            recognized=[d.recognized for d in parsed.drawings],
            points=np.array([d.num_points for d in parsed.drawings], np.int64),
            inks=parsed.inks,
        )
        return _in_line_order(first, second)


def _in_line_order(a: Batch, b: Batch) -> Batch:
    """Two batches as one, in the order of their lines."""
    if not b.line and all(map(int.__lt__, a.line, a.line[1:])):
        return a
    if not a.line:
        return b
    order = np.argsort(np.array(a.line + b.line), kind="stable").tolist()
    lists = ("line", "classes", "key_ids", "recognized", "inks")
    merged = {k: getattr(a, k) + getattr(b, k) for k in lists}
    return Batch(
        points=np.concatenate([a.points, b.points])[order],
        **{k: [v[i] for i in order] for k, v in merged.items()},
    )
