"""Damaged shards: cut short, missing or stray (found by the pipeline's manifest
before the model is built), or corrupt inside (found where read): one line
naming the shard, or with --skip_damaged_records a counted skip. The
`trainer.shard_check` functions alone first, then through `trainer.task`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
import tensorflow as tf

from drawing import features as F
from drawing import shard_manifest
from drawing.flags import InputError
from tests.trainer.test_faults import flags, main_error, write_data
from trainer import export, shard_check, task

TRAIN_SHARD = f"{F.TRAIN_PREFIX}-00000-of-00001"
EVAL_SHARD = f"{F.EVAL_PREFIX}-00000-of-00001"
DAMAGED_RECORD = 100  # of the 320 training records


def with_manifest(data: Path) -> Path:
    """Adds the pipeline's shard manifest to the stats.json of `write_data`."""
    stats = json.loads((data / F.STATS_FILE).read_text())
    manifest = []
    for name in (TRAIN_SHARD, EVAL_SHARD):
        with open(data / name, "rb") as f:
            count = shard_manifest.count_records(f)
        manifest.append(shard_manifest.Shard(name, (data / name).stat().st_size, count))
    stats[shard_manifest.SHARD_MANIFEST] = [s.as_dict() for s in manifest]
    (data / F.STATS_FILE).write_text(json.dumps(stats))
    return data


def record_offsets(path: Path) -> list[int]:
    """Where each record's data starts."""
    raw, offsets, pos = path.read_bytes(), [], 0
    while pos < len(raw):
        length = int.from_bytes(raw[pos : pos + 8], "little")
        offsets.append(pos + 12)
        pos += 12 + length + 4
    return offsets


def cut_shard(data: Path) -> tuple[Path, int, int]:
    """Cuts the training shard inside record DAMAGED_RECORD's data; (the
    shard, where its readable records end, its size now)."""
    shard = data / TRAIN_SHARD
    raw = shard.read_bytes()
    data_at = record_offsets(shard)[DAMAGED_RECORD]
    shard.write_bytes(raw[: data_at + 3])
    return shard, data_at - 12, data_at + 3


def test_shards_without_a_manifest_or_a_pattern_are_not_checked(tmp_path):
    data = write_data(tmp_path / "data")  # a stats.json without a manifest
    cut_shard(data)
    patterns = {"--training_data": f"{data}/{F.TRAIN_PREFIX}-*", "--eval_data": ""}
    shard_check.check_manifest(patterns)  # nothing to hold them to: no error


def test_check_manifest_names_the_flag_and_the_shard(tmp_path):
    data = with_manifest(write_data(tmp_path / "data"))
    patterns = {"--training_data": f"{data}/{F.TRAIN_PREFIX}-*"}
    shard_check.check_manifest(patterns)  # as the pipeline wrote them
    shard, _, size = cut_shard(data)
    with pytest.raises(InputError) as found:
        shard_check.check_manifest(patterns)
    assert str(found.value).startswith(
        f"--training_data '{data}/{F.TRAIN_PREFIX}-*': shard {shard} has {size} bytes"
    )


def test_scan_finds_where_a_shard_stops_reading_and_the_report_counts_it(tmp_path):
    data = with_manifest(write_data(tmp_path / "data"))
    shard, end, size = cut_shard(data)
    [damage] = shard_check.scan([str(data / EVAL_SHARD), str(shard)])
    skipped = 320 - DAMAGED_RECORD
    assert damage == shard_check.Damage(
        str(shard), end, DAMAGED_RECORD, size - end, skipped
    )
    assert damage.describe() == (
        f"{shard}: damaged at byte {end} after {DAMAGED_RECORD} good records; "
        f"skipping its last {size - end} bytes ({skipped} records)"
    )
    unknown = dataclasses.replace(damage, records_skipped=None)
    assert "(an unknown number of records)" in unknown.describe()
    assert shard_check.report([damage, damage]) == {
        "damaged_shards": [dataclasses.asdict(damage)] * 2,
        "records_skipped": 2 * skipped,
        "bytes_skipped": 2 * (size - end),
    }
    assert shard_check.report([damage, unknown])["records_skipped"] is None


def test_damage_error_names_the_shard_that_tensorflow_did_not(tmp_path):
    data = write_data(tmp_path / "data")
    shard, end, _ = cut_shard(data)
    loss = tf.errors.DataLossError(None, None, f"truncated record at {end}")
    patterns = {"--eval_data": f"{data}/{F.EVAL_PREFIX}-*",
                "--training_data": f"{data}/{F.TRAIN_PREFIX}-*"}  # fmt: skip
    message = str(shard_check.damage_error(loss, patterns))
    assert message.startswith(
        f"--training_data shard {shard} is damaged (truncated record at {end}; "
        f"it reads to byte {end}): "
    )
    whole = write_data(tmp_path / "whole")  # nothing to find: the patterns named
    patterns = {"--training_data": f"{whole}/{F.TRAIN_PREFIX}-*"}
    assert str(shard_check.damage_error(loss, patterns)).startswith(
        f"a shard of --training_data '{whole}/{F.TRAIN_PREFIX}-*' is damaged "
    )


def test_a_cut_missing_or_stray_shard_fails_before_the_model_is_built(tmp_path):
    data = with_manifest(write_data(tmp_path / "data"))
    model_dir = tmp_path / "model"
    argv = flags(data, model_dir)
    stats = data / F.STATS_FILE
    shard = data / TRAIN_SHARD
    whole = shard.read_bytes()
    shard.write_bytes(whole[: len(whole) // 2])
    assert main_error(argv) == (
        f"trainer.task: error: --training_data '{data}/{F.TRAIN_PREFIX}-*': shard "
        f"{shard} has {len(whole) // 2} bytes, but {stats} says {len(whole)} (cut "
        "short or changed by a copy?): copy it again, or run the pipeline again"
    )
    assert not model_dir.exists()  # nothing started: no model was built
    shard.write_bytes(whole)
    eval_shard = (data / EVAL_SHARD).read_bytes()
    (data / EVAL_SHARD).unlink()
    assert main_error(argv) == (
        f"trainer.task: error: --eval_data '{data}/{F.EVAL_PREFIX}-*': shard "
        f"{data / EVAL_SHARD} is missing ({stats} lists it with 64 records): "
        "copy it again, or run the pipeline again"
    )
    (data / EVAL_SHARD).write_bytes(eval_shard)
    stray = data / f"{F.EVAL_PREFIX}-00001-of-00002"
    shutil.copy(shard, stray)
    assert f"shard {stray} is not in {stats}'s shard list" in main_error(argv)
    assert not model_dir.exists()


@pytest.mark.slow
def test_a_flipped_byte_is_one_line_or_with_the_flag_a_counted_skip(
    tmp_path, caplog, monkeypatch
):
    data = with_manifest(write_data(tmp_path / "data"))
    shard = data / TRAIN_SHARD
    raw = bytearray(shard.read_bytes())
    at = record_offsets(shard)[DAMAGED_RECORD]
    raw[at + 5] ^= 0x10  # same size: the manifest cannot tell
    shard.write_bytes(bytes(raw))
    message = main_error(flags(data, tmp_path / "model"))
    assert message == (
        f"trainer.task: error: --training_data shard {shard} is damaged "
        f"(corrupted record at {at}; it reads to byte {at - 12}): copy it again "
        "or run the pipeline again, or train with --skip_damaged_records to "
        "skip the rest of a damaged shard"
    )
    assert "\n" not in message

    config = task.parse_args(
        flags(data, tmp_path / "skip", "--skip_damaged_records", "--steps=3")
    )
    with monkeypatch.context() as patch, caplog.at_level(logging.INFO, "trainer"):
        # Not this test's subject, and the slowest part: the export.
        patch.setattr(export, "export_once_trained", lambda *_: None)
        report = task.train(config)
    skipped = 320 - DAMAGED_RECORD
    assert report["records_skipped"] == skipped
    [damaged] = report["damaged_shards"]
    assert damaged["path"] == str(shard) and damaged["offset"] == at - 12
    assert damaged["bytes_skipped"] == len(raw) - (at - 12)
    written = json.loads((tmp_path / "skip" / "eval_report.json").read_text())
    assert written["records_skipped"] == skipped
    assert f"{shard}: damaged at byte {at - 12} after {DAMAGED_RECORD} good" in (
        caplog.text
    )
    assert f"({skipped} records)" in caplog.text
    # The trainer's start-up and period lines say how fast, and why.
    assert "LSTMs: " in caplog.text and "mixed precision " in caplog.text
    assert re.search(r"examples/s, input wait \d+% of step time", caplog.text)
