"""Reads the ndjson lines of a work unit's chunk: one byte range, or a whole file.

Each chunk gives the lines that start inside its byte range (a whole file for
compressed input); `pipeline.stripe_reader` reads a stripe's chunks and mixes
their lines.

A compressed file that breaks off (truncated, corrupt, bad CRC) is read as far
as it goes (`pipeline.decompress`): every complete line before the break is
kept, the unfinished line at the break is dropped (it is not a line, so the
line accounting stays exact), and the file comes back as a `Damage` for
stats.json, errors/ and the summary.
"""

from __future__ import annotations

from itertools import compress

import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline import decompress
from pipeline.lines import Damage, Lines
from pipeline.sources import Chunk

# What bytes.isspace() counts as whitespace, by byte value.
_SPACE = np.isin(np.arange(256), list(b" \t\n\r\x0b\x0c"))


def _read_range(chunk: Chunk) -> tuple[bytes, int]:
    """The bytes of the lines that start in [start, end), and their offset."""
    with FileSystems.open(
        chunk.path, compression_type=CompressionTypes.UNCOMPRESSED
    ) as f:
        # Start one byte early: if that byte is a newline, our first line
        # starts exactly at `start`; otherwise skip the partial line.
        begin = max(chunk.start - 1, 0)
        f.seek(begin)
        data = f.read(chunk.end - begin)
        if data and not data.endswith(b"\n"):
            data += f.readline()  # finish the last line, which starts inside
    if chunk.start > 0:
        cut = data.find(b"\n")
        if cut < 0:
            return b"", begin
        return data[cut + 1 :], begin + cut + 1
    return data, begin


def _split_lines(path: str, data: bytes, offset: int, line_number: int | None) -> Lines:
    """The non-blank lines of `data`, without `\n` or a final `\r`.

    numpy finds where lines start and which may be blank (empty, or starting
    with whitespace); only those are looked at one by one.
    """
    if not data:
        return Lines.of_file(path, [], *[np.zeros(0, np.int64)] * 2)
    raws = data.split(b"\n")
    sizes = np.fromiter(map(len, raws), np.int64, len(raws))
    starts = np.cumsum(sizes + 1) - (sizes + 1)
    first = np.frombuffer(data, np.uint8)[np.minimum(starts, len(data) - 1)]
    maybe = np.flatnonzero((sizes <= 1) | _SPACE[first])  # b"\r" is blank too
    if b"\r" in data:
        raws = [raw[:-1] if raw.endswith(b"\r") else raw for raw in raws]
    numbers = np.zeros(len(raws), np.int64)
    if line_number is not None:
        numbers += np.arange(line_number, line_number + len(raws))
    offsets = starts + offset
    blank = [i for i in maybe.tolist() if not raws[i] or raws[i].isspace()]
    if blank:
        keep = np.ones(len(raws), bool)
        keep[blank] = False
        raws = list(compress(raws, keep.tolist()))
        offsets, numbers = offsets[keep], numbers[keep]
    return Lines.of_file(path, raws, offsets, numbers)


def read_chunk(chunk: Chunk) -> tuple[Lines, Damage | None]:
    """The lines that start inside the chunk, with their offsets, and the
    damage when a compressed file breaks off (its unfinished line dropped)."""
    if chunk.end is not None:
        data, offset = _read_range(chunk)
        first = 1 if chunk.start == 0 else None
        return _split_lines(chunk.path, data, offset, first), None
    data, broke = decompress.read_whole(chunk.path)
    if broke is None:
        return _split_lines(chunk.path, data, 0, 1), None
    cut = data.rfind(b"\n") + 1
    lines = _split_lines(chunk.path, data[:cut], 0, 1)
    damage = Damage(
        path=chunk.path,
        reason=broke.kind,
        detail=broke.detail,
        lines_read=len(lines),
        offset=cut,
        line_number=data.count(b"\n", 0, cut) + 1,
        partial_line=data[cut:],
    )
    return lines, damage
