"""Binary input (`<class>.bin`, `.bin.gz`): work units and their drawings.

A drawing's start can only be found by walking the file from its beginning,
so `walk` goes through each split file once, reading counts and skipping points
(`drawing.binary.drawing_end`), and moves every byte range that
`sources.plan_stripes` dealt to the first drawing that starts in it: a work
unit holds the drawings that start in its range, as an ndjson one holds the
lines. A run walks its files on its workers, one file each, in parallel
(`pipeline.job`), so the launcher does not read the input. Compressed or small
files are read whole and walked as they are read.

A drawing read here is a `Record` that the encoder turns into the same
`Drawing` as its ndjson line (`drawing.binary.to_drawing`), so records, dead
letters and accounting are the ndjson path's: a drawing counts as a line, and
a file that ends inside a drawing, or whose counts lose step with its
drawings, is a `Damage` like a truncated .gz.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence

import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from drawing import binary
from pipeline import decompress, sources
from pipeline.lines import Damage, Lines

PLAN_BLOCK = 16 << 20  # bytes a planning walk reads at a time
PARTIAL_BYTES = 4096  # bytes of a broken drawing kept for errors/
_BINARY = re.compile(r"\.bin(\.(gz|bz2|xz|zst|deflate))?$")

log = logging.getLogger(__name__)


def is_binary(path: str) -> bool:
    """Whether `path` names a binary file: `.bin`, compressed or not."""
    return _BINARY.search(path) is not None


@dataclasses.dataclass(frozen=True)
class BinaryChunk:
    """Drawings of `path` in [start, end), both drawing starts; end None: the
    whole file, walked as it is read. `damage` rides on the unit the break is in."""

    path: str
    start: int
    end: int | None
    first: int  # 1-based number of the drawing at `start`
    damage: Damage | None = None


def _damage(
    path: str, problem: binary.Problem, kept: int, offset: int, rest: bytes
) -> Damage:
    return Damage(
        path=path,
        reason=problem.kind,
        detail=f"drawing {kept + 1}: {problem.detail}",
        lines_read=kept,
        offset=offset,
        line_number=kept + 1,
        partial_line=rest[:PARTIAL_BYTES],
    )


def walk(path: str, bounds: Sequence[int]) -> tuple[dict, Damage | None]:
    """{bound: (first drawing start >= bound, its number)} in one pass, and the
    damage that stopped the walk, if any."""
    at: dict[int, tuple[int, int]] = {}
    pending = sorted(set(bounds))
    count, base, buf, damage = 0, 0, b"", None
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        while True:
            block = f.read(PLAN_BLOCK)
            buf += block
            starts, stop, problem = binary.scan(buf)
            while pending and starts and pending[0] - base <= starts[-1]:
                i = bisect.bisect_left(starts, pending[0] - base)
                at[pending.pop(0)] = (base + starts[i], count + i + 1)
            count += len(starts)
            base, buf = base + stop, buf[stop:]
            if problem is not None and (block == b"" or problem.kind != "truncated"):
                damage = _damage(path, problem, count, base, buf)
                break
            if not block:
                break
    for bound in pending:
        at[bound] = (base, count + 1)
    return at, damage


def _aligned(chunk, walks: dict):
    if not is_binary(chunk.path):
        return chunk
    if chunk.end is None:
        return BinaryChunk(chunk.path, 0, None, 1)
    at, damage = walks[chunk.path]
    (start, first), (end, _) = at[chunk.start], at[chunk.end]
    mine = damage is not None and chunk.start <= damage.offset < chunk.end
    return BinaryChunk(chunk.path, start, end, first, damage if mine else None)


def bounds(stripes: Sequence[sources.Stripe]) -> dict[str, list[int]]:
    """{path: the byte bounds to move} of every binary file that is split."""
    found: dict[str, set[int]] = {}
    for stripe in stripes:
        for c in stripe.chunks:
            if c.end is not None and is_binary(c.path):
                found.setdefault(c.path, set()).update((c.start, c.end))
    return {path: sorted(b) for path, b in sorted(found.items())}


def align(stripe: sources.Stripe, walks: Mapping[str, tuple]) -> sources.Stripe:
    """`stripe` with its binary chunks moved to drawing starts, by `walk`s."""
    chunks = tuple(_aligned(c, walks) for c in stripe.chunks)
    return sources.Stripe(stripe.index, stripe.count, chunks)


def _read(chunk: BinaryChunk) -> tuple[bytes, Damage | None]:
    """The chunk's bytes, from its first drawing on, and a decompression break."""
    if chunk.end is None:
        data, broke = decompress.read_whole(chunk.path)
        if broke is None:
            return data, None
        # Where the data stops, the walk finds a truncated drawing (or none).
        problem = binary.Problem(broke.kind, broke.detail)
        starts, stop, _ = binary.scan(data)
        return data, _damage(chunk.path, problem, len(starts), stop, data[stop:])
    with FileSystems.open(
        chunk.path, compression_type=CompressionTypes.UNCOMPRESSED
    ) as f:
        f.seek(chunk.start)
        return f.read(chunk.end - chunk.start), chunk.damage


def read_chunk(chunk: BinaryChunk) -> tuple[Lines, Damage | None]:
    """The drawings of a chunk, and the damage it reports."""
    data, damage = _read(chunk)
    starts, stop, problem = binary.scan(data)
    if problem is not None and damage is None:  # a file read whole breaks off
        kept = chunk.first - 1 + len(starts)
        damage = _damage(chunk.path, problem, kept, chunk.start + stop, data[stop:])
    ends = starts[1:] + [stop] if starts else []
    drawings = list(map(data.__getitem__, map(slice, starts, ends)))
    return Lines.of_file(
        chunk.path,
        drawings,
        chunk.start + np.array(starts, np.int64),
        chunk.first + np.arange(len(starts), dtype=np.int64),
        sources.class_name(chunk.path),
    ), damage
