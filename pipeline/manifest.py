"""stats.json's shard manifest: name, bytes and records of every shard.

The trainer checks the shards it reads against it before it builds a model
(`trainer/shards.py`), so a shard cut short by a copy, or missing, is named
at once. The encoder reports what it wrote (`pipeline.shards`); shards that
`WriteToTFRecord` wrote (a fixed --num_shards) are counted from the files.
Either way the records must add up to the accounting's.
"""

from __future__ import annotations

from collections.abc import Sequence

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from drawing import features as F
from drawing import shards


def _counted(path: str, name: str) -> dict:
    size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        records = shards.count_records(f)
    return shards.Shard(name, size, records).as_dict()


def shard_manifest(
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
            shard = shards.Shard(name, entry["bytes"], entry["records"])
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
