"""Finds the input files and cuts them into class-mixed work units ("stripes").

A stripe holds the k-th byte range of every splittable input file, so one work
unit sees every class. Its lines are permuted before encoding, so each output
shard is a mix of all classes without a shuffle of the whole dataset (which the
local runner would hold in memory). A stripe's memory is about `total bytes /
number of stripes`, bounded by `target_stripe_bytes`. Compressed files cannot be
split; each is read whole, in the stripe it is dealt to.

A compressed file that breaks off (truncated, corrupt, bad CRC) is read as far
as it goes (`pipeline.decompress`): every complete line before the break is
kept, the unfinished line at the break is dropped (it is not a line, so the
line accounting stays exact), and the file comes back as a `Damage` for
stats.json, errors/ and the summary.

Uses Beam's FileSystems, so local paths, globs and gs:// work alike.
"""

from __future__ import annotations

import dataclasses
import math
import os
import posixpath
from collections.abc import Sequence

import numpy as np
from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

from drawing import features
from pipeline import decompress

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".json", ".jsonl")
_LONGEST_SUFFIX_FIRST = sorted(NDJSON_SUFFIXES, key=len, reverse=True)
MIN_STRIPES = 8


class InputError(ValueError):
    """The input cannot be used; raised before any work starts."""


# Why a listing failed, by the HTTP status that GCS answered.
_LISTING_FAILURES = {
    401: "not authenticated: run `gcloud auth application-default login`",
    403: "access denied: your account may not list this bucket",
    404: "no such bucket",
}


def _innermost(err: BaseException) -> BaseException:
    """The first underlying error of a BeamIOError (they nest per pattern)."""
    while isinstance(err, BeamIOError) and err.exception_details:
        err = next(iter(err.exception_details.values()))
    return err


def match(
    flag: str, path: str, patterns: Sequence[str], limit: int | None = None
) -> list:
    """FileSystems.match of the globs that stand for `path`, with a failed
    listing (no such bucket, no access) turned into one InputError line that
    names the path and says why."""
    try:
        limits = None if limit is None else [limit] * len(patterns)
        return FileSystems.match(list(patterns), limits)
    except BeamIOError as err:
        cause = _innermost(err)
        reason = _LISTING_FAILURES.get(getattr(cause, "code", None))
        if reason is None:
            reason = f"{type(cause).__name__}: {str(cause).splitlines()[0][:200]}"
        raise InputError(f"{flag} {path!r} cannot be listed: {reason}") from None


@dataclasses.dataclass(frozen=True)
class InputFile:
    path: str
    size: int

    @property
    def splittable(self) -> bool:
        return (
            CompressionTypes.detect_compression_type(self.path)
            == CompressionTypes.UNCOMPRESSED
        )


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Lines of `path` that start in [start, end); end None means to the file's end."""

    path: str
    start: int
    end: int | None


@dataclasses.dataclass(frozen=True)
class Stripe:
    index: int
    count: int
    chunks: tuple[Chunk, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    """One input line and where it came from, for error reports."""

    source: str
    offset: int  # byte offset of the line in the (decompressed) file
    line_number: int | None  # 1-based, known when the chunk starts the file
    data: bytes


@dataclasses.dataclass(frozen=True)
class Damage:
    """A compressed input file that breaks off: how far it was read, and why not on."""

    path: str
    reason: str  # decompress.TRUNCATED or decompress.CORRUPT
    detail: str  # the decompressor's message
    lines_read: int  # complete, non-blank lines kept (they count in lines_read)
    offset: int  # decompressed bytes kept: where the unfinished line starts
    line_number: int  # 1-based number of the line the break falls in
    partial_line: bytes  # the unfinished line, dropped

    def as_dict(self) -> dict:
        """stats.json's entry: everything but the partial line's bytes."""
        return {
            "path": self.path,
            "reason": self.reason,
            "detail": self.detail,
            "lines_read": self.lines_read,
            "bytes_read": self.offset,
            "partial_line_bytes": len(self.partial_line),
        }


def class_name(path: str) -> str:
    """The class a file holds, from the dataset's `<class>.ndjson` layout."""
    name = posixpath.basename(path)
    for suffix in _LONGEST_SUFFIX_FIRST:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name.split(".", 1)[0]


def match_inputs(patterns: Sequence[str]) -> list[InputFile]:
    """Expands files, directories and globs (local or gs://) into input files.

    Raises:
      InputError: when a pattern matches nothing, so a typo fails at once
        instead of after the workers have started.
    """
    found: dict[str, int] = {}
    for pattern in patterns:
        globs = [pattern]
        if not any(ch in pattern for ch in "*?[") and _is_dir(pattern):
            base = pattern.rstrip("/")
            globs = [f"{base}/*{suffix}" for suffix in NDJSON_SUFFIXES]
        matched = 0
        for result in match("--input", pattern, globs):
            for meta in result.metadata_list:
                found[meta.path] = meta.size_in_bytes
                matched += 1
        if not matched:
            if pattern.startswith("gs://"):
                # A plain path in a missing bucket matches nothing without an
                # error; listing the bucket itself tells why.
                bucket = pattern.split("/", 3)[2]
                match("--input", pattern, [f"gs://{bucket}/*"], limit=1)
            raise InputError(f"--input {pattern!r} matches no ndjson file")
    return [InputFile(p, s) for p, s in sorted(found.items())]


def class_set(classes_file: str | None, files: Sequence[InputFile]) -> list[str]:
    """The sorted classes of a run: the classes file's, else the input file names.

    From file names, a class whose every file is empty (0 bytes in the listing)
    is left out: it has no drawing, and a class the model can never learn
    would still take a label. A class the classes file names always stays.

    Raises:
      InputError: when the set is empty.
    """
    if classes_file:
        with FileSystems.open(classes_file) as f:
            names = features.parse_classes(f.read().decode("utf-8"))
        classes = sorted({c.strip() for c in names} - {""})
    else:
        classes = sorted({class_name(f.path) for f in files if f.size > 0})
        if not classes and files:
            raise InputError("no classes: every input file is empty")
    if not classes:
        raise InputError("no classes: the class set is empty")
    return classes


def _is_dir(path: str) -> bool:
    if path.startswith("gs://"):
        return path.endswith("/")
    return os.path.isdir(path)


def plan_stripes(
    files: Sequence[InputFile],
    target_stripe_bytes: int,
    min_stripes: int = MIN_STRIPES,
) -> list[Stripe]:
    """Deals byte ranges of every file to stripes; deterministic for the same input."""
    total = sum(f.size for f in files)
    count = max(min_stripes, math.ceil(total / target_stripe_bytes))
    per_stripe: list[list[Chunk]] = [[] for _ in range(count)]
    whole = 0
    for f in files:
        if not f.splittable or f.size < count * 1024:
            # Small or compressed files are read whole; deal them round-robin.
            per_stripe[whole % count].append(Chunk(f.path, 0, None))
            whole += 1
            continue
        bounds = np.linspace(0, f.size, count + 1).astype(int).tolist()
        for k in range(count):
            per_stripe[k].append(Chunk(f.path, bounds[k], bounds[k + 1]))
    stripes = [c for c in per_stripe if c]
    return [Stripe(i, len(stripes), tuple(c)) for i, c in enumerate(stripes)]


def _read_whole(path: str) -> tuple[bytes, decompress.Break | None]:
    """A whole file's bytes, decompressed as far as they go, and the break if any."""
    compression = CompressionTypes.detect_compression_type(path)
    if not decompress.supported(compression):
        # Plain, or a compression Beam reads that the standard library does
        # not (.deflate, .zst): Beam's reader, which cannot tell truncation.
        with FileSystems.open(path) as f:
            return f.read(), None
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return decompress.read_all(f, compression)


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


def _split_lines(
    path: str, data: bytes, offset: int, line_number: int | None
) -> list[Line]:
    lines = []
    for raw in data.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line.strip():
            lines.append(Line(path, offset, line_number, line))
        offset += len(raw) + 1
        if line_number is not None:
            line_number += 1
    return lines


def read_chunk(chunk: Chunk) -> tuple[list[Line], Damage | None]:
    """The lines that start inside the chunk, with their offsets, and the
    damage when a compressed file breaks off (its unfinished line dropped)."""
    if chunk.end is not None:
        data, offset = _read_range(chunk)
        first = 1 if chunk.start == 0 else None
        return _split_lines(chunk.path, data, offset, first), None
    data, broke = _read_whole(chunk.path)
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


def read_stripe(stripe: Stripe) -> tuple[list[Line], list[Damage]]:
    """All lines of a stripe in a fixed pseudo-random order that mixes classes,
    and the compressed files among them that break off."""
    lines: list[Line] = []
    damaged = []
    for chunk in stripe.chunks:
        chunk_lines, damage = read_chunk(chunk)
        lines += chunk_lines
        if damage is not None:
            damaged.append(damage)
    order = np.random.default_rng(stripe.index).permutation(len(lines))
    return [lines[i] for i in order], damaged
