"""The shard manifest: each TFRecord shard's name, byte size and record count.

The pipeline writes it into stats.json (`SHARD_MANIFEST`) once every shard is
final; the trainer compares the shards its patterns match against it before it
builds the model, so that a shard cut short by a copy or a full disk, a
missing one or a stray one is named at start rather than hours into a job.
Plain Python: the pipeline reads files through Beam's FileSystems, the trainer
through tf.io.gfile, and both pass open binary files here.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import posixpath
import struct
from collections.abc import Mapping, Sequence
from typing import BinaryIO

SHARD_MANIFEST = "shard_manifest"  # stats.json's key: a list of Shard.as_dict()
_HEADER = 12  # uint64 length + its masked CRC32C; the data's CRC follows the data
_FOOTER = 4
_CHUNK = 16 << 20


@dataclasses.dataclass(frozen=True)
class Shard:
    """One shard as the pipeline wrote it; `name` is relative to stats.json."""

    name: str
    bytes: int
    records: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class Truncated(ValueError):
    """The file ends inside a record."""


def count_records(f: BinaryIO) -> int:
    """Records in an open TFRecord file, from its framing alone (the length
    headers; CRCs are not checked), read in large chunks.

    Raises:
      Truncated: the file ends inside a record.
    """
    count, skip, header = 0, 0, b""
    while chunk := f.read(_CHUNK):
        pos = 0
        while pos < len(chunk):
            if skip:
                step = min(skip, len(chunk) - pos)
                pos, skip = pos + step, skip - step
                continue
            take = _HEADER - len(header)
            header += chunk[pos : pos + take]
            pos += take
            if len(header) == _HEADER:
                skip = struct.unpack("<Q", header[:8])[0] + _FOOTER
                header = b""
                count += 1
    if skip or header:
        raise Truncated(f"the file ends inside record {count}")
    return count


def read_manifest(stats: object) -> dict[str, Shard] | None:
    """The manifest in a parsed stats.json, by name; None when it has none."""
    if not isinstance(stats, dict) or not isinstance(stats.get(SHARD_MANIFEST), list):
        return None
    return {s["name"]: Shard(**s) for s in stats[SHARD_MANIFEST]}


def check(
    flag: str,
    pattern: str,
    manifest: Mapping[str, Shard],
    found: Mapping[str, int],
    source: str,
) -> str | None:
    """What is wrong with the shards `pattern` matched, against `manifest`.

    Args:
      flag, pattern: The data flag and its glob, for the message.
      manifest: The shards of stats.json at `source`, by name.
      found: Files the pattern matched in stats.json's folder: name -> bytes.

    Returns:
      One line naming the first wrong shard and what to do; None when all fit.
    """
    data_dir = posixpath.dirname(source)
    wanted = posixpath.basename(pattern)
    expected = {n: s for n, s in manifest.items() if fnmatch.fnmatch(n, wanted)}
    where = f"{flag} {pattern!r}: shard"
    again = "run the pipeline again"
    for name, shard in sorted(expected.items()):
        path = posixpath.join(data_dir, name)
        if name not in found:
            return (
                f"{where} {path} is missing ({source} lists it with "
                f"{shard.records} records): copy it again, or {again}"
            )
        if found[name] != shard.bytes:
            return (
                f"{where} {path} has {found[name]} bytes, but {source} says "
                f"{shard.bytes} (cut short or changed by a copy?): copy it "
                f"again, or {again}"
            )
    for name in sorted(set(found) - set(expected)):
        return (
            f"{where} {posixpath.join(data_dir, name)} is not in {source}'s "
            f"shard list (left from another run?): remove it, or {again}"
        )
    return None


def total_records(manifest: Mapping[str, Shard], names: Sequence[str]) -> int | None:
    """Records in the named shards, or None if one is not in the manifest."""
    if not all(n in manifest for n in names):
        return None
    return sum(manifest[n].records for n in names)
