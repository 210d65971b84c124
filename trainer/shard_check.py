"""Damaged shards: named at start by the pipeline's manifest, or where read.

`check_manifest` compares the shards a data flag matches with the manifest in
the stats.json beside them (`drawing.shard_manifest`) before the model is built.
Damage that keeps a shard's size (a record that fails its CRC) shows only
when the record is read: `damage_error` turns TensorFlow's DataLossError,
which names no file, into one line naming the shard; with
`--skip_damaged_records`, `scan` counts beforehand what the input pipeline
will skip, so that nothing is skipped silently.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import posixpath
import re
from collections.abc import Mapping, Sequence

import tensorflow as tf

from drawing import features as F
from drawing import shard_manifest
from drawing.flags import InputError

log = logging.getLogger("trainer")

_FRAMING = 16  # bytes around each record's data: length, its CRC, data CRC
_LOSS_AT = re.compile(r"(corrupted|truncated) record at (\d+)")
_SKIP = "--skip_damaged_records"


def _manifest(data_dir: str) -> tuple[dict[str, shard_manifest.Shard] | None, str]:
    source = posixpath.join(data_dir, F.STATS_FILE)
    if not tf.io.gfile.exists(source):
        return None, source
    with tf.io.gfile.GFile(source) as f:
        try:
            return shard_manifest.read_manifest(json.load(f)), source
        except (ValueError, TypeError, KeyError):
            return None, source


def check_manifest(patterns: Mapping[str, str]) -> None:
    """Checks each data flag's shards against the manifest beside them.

    Args:
      patterns: data flag -> glob; empty globs and shards without a manifest
        (the tutorial's, hand-made ones) are not checked.

    Raises:
      InputError: a shard listed is missing, one matched is not listed, or
        one has another size than the pipeline wrote.
    """
    for flag, pattern in patterns.items():
        if not pattern:
            continue
        data_dir = posixpath.dirname(pattern)
        manifest, source = _manifest(data_dir)
        if manifest is None:
            continue
        found = {
            posixpath.basename(p): tf.io.gfile.stat(p).length
            for p in tf.io.gfile.glob(pattern)
            if posixpath.dirname(p) == data_dir
        }
        problem = shard_manifest.check(flag, pattern, manifest, found, source)
        if problem:
            raise InputError(problem)


@dataclasses.dataclass(frozen=True)
class Damage:
    """A shard that cannot be read to its end."""

    path: str
    offset: int  # where its readable records end
    records_read: int
    bytes_skipped: int
    records_skipped: int | None  # None without a manifest to tell

    def describe(self) -> str:
        skipped = (
            f"{self.records_skipped} records"
            if self.records_skipped is not None
            else "an unknown number of records"
        )
        return (
            f"{self.path}: damaged at byte {self.offset} after "
            f"{self.records_read} good records; skipping its last "
            f"{self.bytes_skipped} bytes ({skipped})"
        )


def scan(files: Sequence[str]) -> list[Damage]:
    """Reads every shard to its end (one pass); the damaged ones."""
    found = []
    for path in files:
        size = tf.io.gfile.stat(path).length
        ds = tf.data.TFRecordDataset(path).ignore_errors()
        zero = tf.constant(0, tf.int64)
        count, data = ds.reduce(
            (zero, zero),
            lambda s, r: (s[0] + 1, s[1] + tf.cast(tf.strings.length(r), tf.int64)),
        )
        offset = int(count) * _FRAMING + int(data)
        if offset >= size:
            continue
        manifest, _ = _manifest(posixpath.dirname(path))
        expected = shard_manifest.total_records(
            manifest or {}, [posixpath.basename(path)]
        )
        skipped = None if expected is None else expected - int(count)
        found.append(Damage(path, offset, int(count), size - offset, skipped))
    return found


def scan_patterns(patterns: Mapping[str, str]) -> list[Damage]:
    """`scan` of every shard of every data flag, each damaged one logged."""
    damage = []
    for pattern in patterns.values():
        if pattern:
            damage += scan(sorted(tf.io.gfile.glob(pattern)))
    for d in damage:
        log.warning("%s: %s", _SKIP, d.describe())
    if not damage:
        log.info("%s: every shard reads to its end", _SKIP)
    return damage


def damage_error(
    err: tf.errors.DataLossError, patterns: Mapping[str, str]
) -> InputError:
    """The one line for a damaged record met while training: which shard (found
    by reading the shards that reach the offset TensorFlow gives), and where."""
    found = _LOSS_AT.search(err.message or "")
    offset = int(found.group(2)) if found else 0
    what = found.group(0) if found else (err.message or "").strip()
    for flag, pattern in patterns.items():
        files = sorted(tf.io.gfile.glob(pattern)) if pattern else []
        reach = [p for p in files if tf.io.gfile.stat(p).length >= offset]
        for d in scan(reach):
            return InputError(
                f"{flag} shard {d.path} is damaged ({what}; it reads to byte "
                f"{d.offset}): copy it again or run the pipeline again, or "
                f"train with {_SKIP} to skip the rest of a damaged shard"
            )
    return InputError(
        f"a shard of {', '.join(f'{k} {v!r}' for k, v in patterns.items() if v)} "
        f"is damaged ({what}): copy the shards again or run the pipeline again, "
        f"or train with {_SKIP}"
    )


def report(damage: Sequence[Damage]) -> dict:
    """eval_report.json's account of what was skipped."""
    known = [d.records_skipped for d in damage if d.records_skipped is not None]
    return {
        "damaged_shards": [dataclasses.asdict(d) for d in damage],
        "records_skipped": sum(known) if len(known) == len(damage) else None,
        "bytes_skipped": sum(d.bytes_skipped for d in damage),
    }
