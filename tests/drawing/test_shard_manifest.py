"""drawing.shard_manifest: a shard's records counted from the TFRecord
framing alone, and a shard cut short noticed."""

from __future__ import annotations

import pytest
import tensorflow as tf

from drawing import shard_manifest


def _shard(path, count: int) -> None:
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i in range(count):
            writer.write(b"record %d " % i * (i % 7 + 1))


def test_count_records_reads_the_framing_and_notices_a_cut(tmp_path):
    _shard(tmp_path / "whole", 320)
    with open(tmp_path / "whole", "rb") as f:
        assert shard_manifest.count_records(f) == 320
    raw = (tmp_path / "whole").read_bytes()
    (tmp_path / "cut").write_bytes(raw[: len(raw) // 2])
    with open(tmp_path / "cut", "rb") as f, pytest.raises(shard_manifest.Truncated):
        shard_manifest.count_records(f)


def test_an_empty_shard_holds_no_records(tmp_path):
    _shard(tmp_path / "empty", 0)
    with open(tmp_path / "empty", "rb") as f:
        assert shard_manifest.count_records(f) == 0


def test_a_shard_entry_round_trips_through_its_dict():
    shard = shard_manifest.Shard("training.tfrecord-00000-of-00001", 1234, 56)
    assert shard_manifest.Shard(**shard.as_dict()) == shard
