"""Finds the input files and cuts them into class-mixed work units ("stripes").

A stripe holds the k-th byte range of every splittable input file, so one work
unit sees every class; `pipeline.stripe_reader` reads it. A stripe's memory is about
`total bytes / number of stripes`, bounded by `target_stripe_bytes`.
Compressed files cannot be split; each is read whole, in the stripe it is
dealt to.

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
from drawing.flags import InputError

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".json", ".jsonl")
BINARY_SUFFIXES = (".bin", ".bin.gz")  # Google's binary layout (pipeline.bin_reader)
INPUT_SUFFIXES = NDJSON_SUFFIXES + BINARY_SUFFIXES
_LONGEST_SUFFIX_FIRST = sorted(INPUT_SUFFIXES, key=len, reverse=True)
MIN_STRIPES = 8


# Why a listing failed, by the HTTP status that GCS answered.
_LISTING_FAILURES = {
    401: "not authenticated: run `gcloud auth application-default login`",
    403: "access denied: check that your account may list this bucket",
    404: "no such bucket: check the bucket's name",
}


def _innermost(err: BaseException) -> BaseException:
    """The first underlying error of a BeamIOError (they nest per pattern)."""
    while isinstance(err, BeamIOError) and err.exception_details:
        err = next(iter(err.exception_details.values()))
    return err


def _why(err: BaseException) -> str:
    """The underlying error of `err`, as its type and first line."""
    cause = _innermost(err)
    first = (str(cause).splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first[:200]}"


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
        code = getattr(_innermost(err), "code", None)
        reason = _LISTING_FAILURES.get(code) or _why(err)
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


def class_name(path: str) -> str:
    """The class a file holds, from the dataset's `<class>.ndjson` (`.bin`) layout."""
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
            globs = [f"{base}/*{suffix}" for suffix in INPUT_SUFFIXES]
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
            raise InputError(
                f"--input {pattern!r} matches no ndjson or .bin file: check the "
                f"path (a directory's files must end in {', '.join(INPUT_SUFFIXES)})"
            )
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
        classes = sorted({c.strip() for c in _read_classes(classes_file)} - {""})
        if not classes:
            raise InputError(
                f"--classes_file {classes_file!r} names no class: "
                "write one class a line"
            )
    else:
        classes = sorted({class_name(f.path) for f in files if f.size > 0})
        if not classes:
            raise InputError(
                "no classes: every input file is empty (0 bytes): "
                "give files that hold drawings, or a --classes_file"
            )
    return classes


def _read_classes(classes_file: str) -> list[str]:
    """The names in a classes file; InputError if it cannot be read."""
    try:
        with FileSystems.open(classes_file) as f:
            return features.parse_classes(f.read().decode("utf-8"))
    except (BeamIOError, OSError, UnicodeDecodeError) as err:
        raise InputError(
            f"--classes_file {classes_file!r} cannot be read ({_why(err)}): check "
            "the path"
        ) from None


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
