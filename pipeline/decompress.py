"""Decompresses an input file as far as it goes, and says where and why it broke.

Beam's own reader stops quietly at the end of a truncated .gz: the lines before
the break arrive and the rest are missing without a word. Python's gzip, bz2
and lzma modules raise instead (EOFError on truncation; BadGzipFile, zlib.error,
OSError or LZMAError on corrupt data, a bad CRC or trailing garbage), so they
read the raw bytes here, in blocks, and everything decompressed before the
error is kept. A bad CRC is found only at the end of a gzip member, after all
its data: those bytes are kept too, although some of them may be wrong (each
line still has to pass `drawing.ink`'s checks).

`read_all` takes any binary stream with a `read` method; `read_whole` opens a
path through Beam's FileSystems, so local paths and gs:// work alike.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import lzma
import zlib
from collections.abc import Callable
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

# Beam's CompressionTypes values that the standard library reads.
_OPENERS: dict[str, Callable[[BinaryIO], BinaryIO]] = {
    "gzip": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    "bzip2": bz2.BZ2File,
    "lzma": lzma.LZMAFile,
}
_BLOCK = 1 << 16  # decompressed bytes per read; at most this is lost on corruption

TRUNCATED = "truncated"
CORRUPT = "corrupt"


@dataclasses.dataclass(frozen=True)
class Break:
    """Why decompression stopped before the end of the data."""

    kind: str  # TRUNCATED or CORRUPT
    detail: str  # the decompressor's own message


class _SourceFailed(Exception):
    """The underlying stream failed: an I/O problem, not damaged data."""


class _Guarded:
    """A read-only stream whose own errors stay apart from the decompressor's.

    Both raise OSError, and a failed network read must fail the work unit (the
    runner retries it), not pass for a damaged file.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except Exception as err:
            raise _SourceFailed from err


def supported(compression: str) -> bool:
    """Whether `read_all` reads this Beam compression type (gzip, bzip2, lzma)."""
    return compression in _OPENERS


def read_all(raw: BinaryIO, compression: str) -> tuple[bytes, Break | None]:
    """The decompressed bytes up to the end or the first damage, and the damage.

    Args:
      raw: the compressed bytes, e.g. a file opened without decompression.
      compression: a Beam CompressionTypes value that `supported` accepts.

    Raises:
      Whatever `raw.read` raises: an unreadable source is not a damaged file.
    """
    parts: list[bytes] = []
    try:
        with _OPENERS[compression](_Guarded(raw)) as stream:
            while block := stream.read1(_BLOCK):
                parts.append(block)
    except _SourceFailed as err:
        raise err.__cause__ from None
    except EOFError as err:
        return b"".join(parts), Break(TRUNCATED, str(err))
    except (OSError, zlib.error, lzma.LZMAError) as err:
        return b"".join(parts), Break(CORRUPT, f"{type(err).__name__}: {err}")
    return b"".join(parts), None


def read_whole(path: str) -> tuple[bytes, Break | None]:
    """A whole file's bytes, decompressed as far as they go, and the break if any."""
    compression = CompressionTypes.detect_compression_type(path)
    if not supported(compression):
        # Plain, or a compression Beam reads that the standard library does
        # not (.deflate, .zst): Beam's reader, which cannot tell truncation.
        with FileSystems.open(path) as f:
            return f.read(), None
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return read_all(f, compression)
