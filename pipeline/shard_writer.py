"""The shards the encoder writes itself, and stats.json's manifest of every shard.

Handing every record to Beam's `WriteToTFRecord` cost more CPU than encoding
it (a windowed element, a write call and two CRCs each; bench/README.md), so by
default the encoder frames a batch of records at once and writes it to
`<split prefix>-<work unit>-of-<work units>`. The names and contents depend
only on the input, so a retried work unit rewrites the same file, and
`--num_shards N` still goes through `WriteToTFRecord`. The files go to the
run's staging folder, which becomes the dataset only when the run succeeds
(`pipeline.staging`), so a half-written shard is never part of a dataset.

`manifest` lists every shard's name, bytes and records for stats.json
(`drawing.shard_manifest`); the trainer checks the shards it reads against it
before it builds a model (`trainer/shard_check.py`). The encoder's shards are
listed as it reported them; those `WriteToTFRecord` wrote are counted from the
files. Either way the records must add up to the accounting's.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from drawing import features as F
from drawing import shard_manifest
from pipeline import records


def shard_path(folder: str, split_name: str, index: int, count: int) -> str:
    """The tutorial's shard name, `training.tfrecord-00003-of-00008`."""
    prefix = posixpath.join(folder, F.SPLIT_PREFIX[split_name])
    return f"{prefix}-{index:05d}-of-{count:05d}"


class ShardWriter:
    """Collects a work unit's records per split and writes them batch by batch.

    Every work unit writes a shard of every split, empty if it has no record
    of it, so the shard numbers run from 0 to the count as the names say.
    """

    def __init__(self, folder: str, index: int, count: int) -> None:
        self._folder, self._index, self._count = folder, index, count
        self._pending: dict[str, list[bytes]] = {}  # split -> framed blocks
        self._records: dict[str, int] = {}  # split -> records in _pending
        self._files: dict[str, BinaryIO] = {}
        self._written: dict[str, list[int]] = {}  # split -> [records, bytes]

    def add_many(self, split_name: str, examples: list[bytes]) -> None:
        """Frames records of `split_name`, to be written at the next flush."""
        if examples:
            self._pending.setdefault(split_name, []).append(records.tfrecords(examples))
            self._records[split_name] = self._records.get(split_name, 0) + len(examples)

    def flush(self, last: bool = False) -> None:
        """Writes what `add_many` collected since the last flush."""
        if last:
            for split_name in F.SPLITS:
                self._pending.setdefault(split_name, [])
        for split_name, blocks in self._pending.items():
            if not blocks and not last:
                continue
            if split_name not in self._files:
                path = shard_path(self._folder, split_name, self._index, self._count)
                self._files[split_name] = FileSystems.create(path)
                self._written[split_name] = [0, 0]
            for block in blocks:
                self._files[split_name].write(block)
                self._written[split_name][1] += len(block)
            self._written[split_name][0] += self._records.pop(split_name, 0)
            blocks.clear()

    def close(self) -> list[dict]:
        """Flushes and closes every file; one manifest entry per shard written."""
        self.flush(last=True)
        for f in self._files.values():
            f.close()
        return [
            {
                "path": shard_path(self._folder, split_name, self._index, self._count),
                "records": n,
                "bytes": size,
            }
            for split_name, (n, size) in sorted(self._written.items())
        ]


def _counted(path: str, name: str) -> dict:
    size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        records = shard_manifest.count_records(f)
    return shard_manifest.Shard(name, size, records).as_dict()


def manifest(
    staged: str, written: Sequence[str], reported: Sequence[dict], stats: dict
) -> list[dict]:
    """The manifest of the TFRecord shards in `written`, sorted by name.

    Args:
      staged: The staging folder; names are relative to it.
      written: Every file the run wrote, error files included.
      reported: The encoder's entries (path, records, bytes) of its shards.
      stats: The run's accounting, whose `written` counts the records must match.
    """
    prefix = staged.rstrip("/") + "/"
    by_path = {entry["path"]: entry for entry in reported}
    manifest = []
    for path in sorted(written):
        name = path.removeprefix(prefix)
        if not name.startswith(tuple(F.SPLIT_PREFIX.values())):
            continue  # the rejected lines
        entry = by_path.get(path)
        if entry is None:
            manifest.append(_counted(path, name))
        else:
            shard = shard_manifest.Shard(name, entry["bytes"], entry["records"])
            manifest.append(shard.as_dict())
    for split, split_prefix in F.SPLIT_PREFIX.items():
        counted = sum(
            s["records"] for s in manifest if s["name"].startswith(split_prefix)
        )
        if counted != stats["written"][split]:
            raise AssertionError(
                f"{split}: {counted} records in the shards, "
                f"{stats['written'][split]} written"
            )
    return manifest
