"""A compressed input read whole, as far as it goes: where it broke, and why.

A file that breaks off (truncated, corrupt, a bad checksum) is read up to the
break, its complete lines kept in order; a read that fails (a dropped
connection) is an error, not a damaged file.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import numpy as np
import pytest

from pipeline import decompress, lines, ndjson_reader, sources
from tests.synthetic import random_line

_RNG = np.random.default_rng(7)
LINES = [random_line("circle", str(i), _RNG) for i in range(2000)]
DATA = b"\n".join(LINES) + b"\n"


def _truncated(compressed: bytes) -> bytes:
    return compressed[: len(compressed) // 2]


def _corrupt_middle(compressed: bytes) -> bytes:
    middle = len(compressed) // 2
    return compressed[:middle] + b"\xff" * 64 + compressed[middle + 64 :]


def _bad_crc(compressed: bytes) -> bytes:
    # gzip's trailer: CRC-32 of the data, then its length, 4 bytes each.
    crc = bytes(b ^ 0xFF for b in compressed[-8:-4])
    return compressed[:-8] + crc + compressed[-4:]


def _read_whole(path) -> tuple[list[bytes], lines.Damage | None]:
    lines, damage = ndjson_reader.read_chunk(sources.Chunk(str(path), 0, None))
    return [line.data for line in lines], damage


@pytest.mark.parametrize(
    ("damage", "reason", "detail"),
    [
        (_truncated, decompress.TRUNCATED, "ended before the end-of-stream"),
        (_corrupt_middle, decompress.CORRUPT, "invalid block type"),
        (_bad_crc, decompress.CORRUPT, "CRC check failed"),
    ],
)
def test_a_damaged_gz_is_read_up_to_the_break_and_reported(
    tmp_path, damage, reason, detail
):
    path = tmp_path / "circle.ndjson.gz"
    path.write_bytes(damage(gzip.compress(DATA)))

    lines, found = _read_whole(path)

    assert lines == LINES[: len(lines)]  # the complete lines, unchanged, in order
    assert found is not None
    assert (found.path, found.reason) == (str(path), reason)
    assert detail in found.detail
    assert found.lines_read == len(lines)
    assert found.line_number == len(lines) + 1
    assert found.offset == sum(len(line) + 1 for line in lines)
    if damage is _bad_crc:  # found at the very end, after all the data
        assert len(lines) == len(LINES) and found.partial_line == b""
    else:
        assert 0 < len(lines) < len(LINES)
        assert LINES[len(lines)].startswith(found.partial_line)


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".ndjson.xz", lzma.compress), (".ndjson.bz2", bz2.compress)],
)
def test_truncated_xz_and_bz2_are_reported_too(tmp_path, suffix, compress):
    path = tmp_path / f"circle{suffix}"
    path.write_bytes(_truncated(compress(DATA)))

    lines, found = _read_whole(path)

    assert lines == LINES[: len(lines)]
    assert found is not None and found.reason == decompress.TRUNCATED
    assert found.lines_read == len(lines) < len(LINES)


def test_a_good_gz_is_read_whole_without_a_report(tmp_path):
    path = tmp_path / "circle.ndjson.gz"
    path.write_bytes(gzip.compress(DATA[:-1]))  # no final newline: still whole

    assert _read_whole(path) == (LINES, None)


def test_a_failing_read_is_an_error_not_a_damaged_file():
    class Dropped(io.BytesIO):
        """A connection that breaks after 1,000 bytes."""

        def read(self, size=-1):
            if self.tell() >= 1000:
                raise OSError("connection reset by peer")
            return super().read(min(size, 1000 - self.tell()))

    with pytest.raises(OSError, match="connection reset by peer"):
        decompress.read_all(Dropped(gzip.compress(DATA)), "gzip")
