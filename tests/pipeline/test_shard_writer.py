"""The encoder's own shards, and stats.json's manifest of every shard."""

from __future__ import annotations

import pytest
import tensorflow as tf

from drawing import features as F
from pipeline import records, shard_writer

TRAIN = [b"a", b"bb" * 300, b""]
EVAL = [b"e"]


def _read(path) -> list[bytes]:
    return list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())


def test_a_work_units_records_go_to_its_shard_of_each_split(tmp_path):
    writer = shard_writer.ShardWriter(str(tmp_path), 2, 5)
    writer.add_many(F.TRAIN, TRAIN[:2])
    writer.flush()
    writer.add_many(F.TRAIN, TRAIN[2:])
    writer.add_many(F.EVAL, [])
    entries = writer.close()
    train = tmp_path / f"{F.TRAIN_PREFIX}-00002-of-00005"
    empty = tmp_path / f"{F.EVAL_PREFIX}-00002-of-00005"
    assert _read(train) == TRAIN
    assert empty.read_bytes() == b""  # every unit writes a shard of every split
    assert entries == [
        {"path": str(empty), "records": 0, "bytes": 0},
        {"path": str(train), "records": 3, "bytes": train.stat().st_size},
    ]


def test_the_manifest_lists_every_shard_and_must_add_up(tmp_path):
    writer = shard_writer.ShardWriter(str(tmp_path), 0, 1)
    writer.add_many(F.TRAIN, TRAIN)
    reported = writer.close()
    # A shard that WriteToTFRecord wrote is counted from its framing.
    counted = tmp_path / f"{F.EVAL_PREFIX}-00000-of-00002"
    counted.write_bytes(records.tfrecords(EVAL))
    errors = tmp_path / F.ERRORS_DIR / "rejected-00000-of-00001.ndjson"
    errors.parent.mkdir()
    errors.write_bytes(b"{}\n")
    written = [str(p) for p in (errors, counted, *(e["path"] for e in reported))]
    stats = {"written": {F.TRAIN: 3, F.EVAL: 1}}
    manifest = shard_writer.manifest(str(tmp_path), written, reported, stats)
    assert manifest == [
        {"name": f"{F.EVAL_PREFIX}-00000-of-00001", "bytes": 0, "records": 0},
        {"name": counted.name, "bytes": counted.stat().st_size, "records": 1},
        {
            "name": f"{F.TRAIN_PREFIX}-00000-of-00001",
            "bytes": reported[1]["bytes"],
            "records": 3,
        },
    ]
    with pytest.raises(AssertionError, match="3 records in the shards, 4 written"):
        shard_writer.manifest(
            str(tmp_path), written, reported, {"written": {F.TRAIN: 4, F.EVAL: 1}}
        )
