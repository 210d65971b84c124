"""The trainer's input (`trainer.data.make_dataset`): nothing lost, nothing
doubled, eval in a fixed order, little padding, workers' shares.

Each test runs on real shards (the real sample's first drawings of every
class through `pipeline.main`; skipped without the sample) and on synthetic
ones. Records are told apart by content: label and ink bytes (the real
sample has no two drawings alike, the synthetic shapes are noisy).
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from drawing import features as F
from tests.product import run_module
from tests.synthetic import CLASSES, write_records
from tools import sample
from trainer import data as D
from trainer.augment import thin
from trainer.config import InputConfig

PER_CLASS = 8  # real drawings of each of the 345 classes: 2,760 in all
BATCH = 16
# Small windows, so that a pass has several and a short last one.
CONFIG = InputConfig(window=8 * BATCH)


@pytest.fixture(scope="module", params=["real", "synthetic"])
def shards(request, tmp_path_factory) -> Path:
    """A folder of training and eval shards of one kind."""
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "synthetic":
        return write_records(root, train=900, evals=300)
    if not sample.available():
        pytest.skip(f"real Quick, Draw! sample not found at {sample.SAMPLE}")
    inputs = root / "ndjson"
    inputs.mkdir()
    for path in sorted(sample.SAMPLE.glob("*.ndjson")):
        (inputs / path.name).write_bytes(b"".join(
            line + b"\n" for line in sample.file_lines(path)[:PER_CLASS]
        ))  # fmt: skip
    run_module(
        ["pipeline.main", f"--input={inputs}", f"--output={root / 'data'}",
         "--train_per_class=0", "--eval_per_class=0", "--num_shards=3",
         "--analysis_fraction=0", "--runner=FnApiRunner"]
    )  # fmt: skip
    return root / "data"


def train_pattern(folder: Path) -> str:
    return f"{folder}/{F.TRAIN_PREFIX}-*"


def eval_pattern(folder: Path) -> str:
    return f"{folder}/{F.EVAL_PREFIX}-*"


def contents(pattern: str) -> collections.Counter:
    """Every record of the shards, as (label, ink bytes), in file order."""
    found = collections.Counter()
    files = sorted(tf.io.gfile.glob(pattern))
    for serialized in tf.data.TFRecordDataset(files).batch(1024):
        features, labels = D.parse_examples(serialized)
        ink = features[F.INK]
        values, splits = ink.flat_values.numpy(), ink.row_splits.numpy()
        for i, label in enumerate(labels.numpy()):
            found[int(label), values[splits[i] : splits[i + 1]].tobytes()] += 1
    assert max(found.values()) == 1, "two records alike: tell them apart otherwise"
    return found


def batch_contents(features: dict, labels: tf.Tensor) -> list[tuple]:
    ink, lengths = features[F.INK].numpy(), features[F.LENGTHS].numpy()
    return [
        (int(y), ink[i, :n].tobytes())
        for i, (y, n) in enumerate(zip(labels.numpy(), lengths, strict=True))
    ]


def test_training_reads_each_record_once_per_pass(shards):
    pattern = train_pattern(shards)
    records = contents(pattern)
    config = dataclasses.replace(CONFIG, augment=False)
    batches = iter(D.make_dataset(pattern, BATCH, training=True, config=config))
    passes = []
    for _ in range(3):
        seen, sizes = [], []
        while len(seen) < len(records):
            found = batch_contents(*next(batches))
            seen += found
            sizes.append(len(found))
        assert collections.Counter(seen) == records  # then the next pass starts
        # Whole batches; the few records beyond them join the shortest one.
        assert min(sizes) >= BATCH and max(sizes) < 2 * BATCH
        assert sum(size > BATCH for size in sizes) <= 1
        passes.append(seen)
    assert passes[0] != passes[1] != passes[2]  # each pass reshuffled


def test_augmented_training_keeps_one_drawing_per_record(shards):
    """Augmentation changes the ink; the labels still come once per pass."""
    pattern = train_pattern(shards)
    labels = collections.Counter(label for label, _ in contents(pattern))
    batches = iter(D.make_dataset(pattern, BATCH, training=True, config=CONFIG))
    seen: collections.Counter = collections.Counter()
    while sum(seen.values()) < sum(labels.values()):
        features, y = next(batches)
        lengths = features[F.LENGTHS].numpy()
        assert lengths.min() >= 1 and features[F.INK].shape[1] == lengths.max()
        seen.update(y.numpy().tolist())
    assert seen == labels


def test_eval_reads_every_record_once_in_a_fixed_order(shards):
    pattern = eval_pattern(shards)
    records = contents(pattern)
    runs = []
    for _ in range(2):
        ds = D.make_dataset(pattern, BATCH, training=False, config=CONFIG)
        runs.append([r for batch in ds for r in batch_contents(*batch)])
    assert collections.Counter(runs[0]) == records
    assert runs[0] == runs[1]


def padding_share(ds: tf.data.Dataset, batches: int) -> float:
    real = total = 0
    for features, _ in ds.take(batches):
        lengths = features[F.LENGTHS].numpy()
        real += lengths.sum()
        total += features[F.INK].shape[1] * len(lengths)
    return 1 - real / total


def test_length_buckets_keep_the_padding_small(shards):
    pattern = train_pattern(shards)
    batches = len(contents(pattern)) // BATCH
    # The trainer's defaults: windows of 65,536 records, augmentation on.
    bucketed = padding_share(D.make_dataset(pattern, BATCH, True), batches)
    padded = InputConfig(bucket=False, augment=False)
    longest = padding_share(D.make_dataset(pattern, BATCH, True, padded), batches)
    assert bucketed <= 0.25 and bucketed < longest / 2, (bucketed, longest)


def test_without_shuffling_a_bucket_keeps_the_file_order(shards):
    """--shuffle_buffer 1 and one bucket: batches in the order of the shard
    (what tests/trainer/test_faults.py relies on to meet a bad record)."""
    [first, *_] = sorted(tf.io.gfile.glob(train_pattern(shards)))
    config = InputConfig(shuffle_buffer=1, boundaries=(100_000,), augment=False)
    in_file = list(contents(first))
    ds = D.make_dataset(first, BATCH, training=True, config=config)
    read = [
        r for batch in ds.take(len(in_file) // BATCH) for r in batch_contents(*batch)
    ]
    assert read == in_file[: len(read)]


def test_workers_read_their_own_shards(shards):
    pattern = train_pattern(shards)
    records = contents(pattern)
    files = tf.io.gfile.glob(pattern)
    assert len(files) >= 2
    shares = []
    for worker in range(2):
        config = dataclasses.replace(CONFIG, num_workers=2, worker_index=worker)
        ds = D.make_dataset(pattern, BATCH, training=False, config=config)
        shares.append(collections.Counter(r for b in ds for r in batch_contents(*b)))
        policy = ds.options().experimental_distribute.auto_shard_policy
        assert policy == tf.data.experimental.AutoShardPolicy.OFF
    assert shares[0] and shares[1] and not shares[0] & shares[1]
    assert shares[0] + shares[1] == records
    # More workers than shards: each reads all, tf.distribute keeps its share.
    config = dataclasses.replace(CONFIG, num_workers=len(files) + 1, worker_index=0)
    ds = D.make_dataset(pattern, BATCH, training=False, config=config)
    policy = ds.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA
    assert collections.Counter(r for b in ds for r in batch_contents(*b)) == records


def test_cached_input_reads_each_record_once_per_pass(shards):
    pattern = train_pattern(shards)
    records = contents(pattern)
    config = dataclasses.replace(CONFIG, augment=False, cache=True)
    batches = iter(D.make_dataset(pattern, BATCH, training=True, config=config))
    for _ in range(2):  # streamed while cached, then from memory
        seen = []
        while len(seen) < len(records):
            seen += batch_contents(*next(batches))
        assert collections.Counter(seen) == records


def test_thinning_a_window_matches_thinning_each_drawing():
    """`thin` on many drawings at once keeps each drawing's own points."""
    rng = np.random.default_rng(0)
    lengths = [1, 5, 0, 9, 3]
    ink = np.concatenate([rng.integers(-5, 6, (n, 3)) for n in lengths]).astype(
        np.float32
    )
    ink[:, 2] = rng.random(len(ink)) < 0.3
    ragged = tf.RaggedTensor.from_row_lengths(ink, lengths)
    out = thin(ragged, 1.0)
    for before, after in zip(ragged, out, strict=True):
        before, after = before.numpy(), after.numpy()
        if not len(before):
            assert not len(after)
            continue
        ends = before[:, 2] == 1
        ends[-1] = True
        # Only stroke ends and the last point are left, at the same positions.
        positions = np.cumsum(before[:, :2], axis=0)[ends]
        np.testing.assert_array_equal(np.cumsum(after[:, :2], axis=0), positions)


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    """Synthetic shards of 480 training and 120 eval records."""
    return write_records(tmp_path_factory.mktemp("records"), train=480, evals=120)


def test_dataset_batches_are_bucketed_and_right_padded(records):
    config = InputConfig(boundaries=[10, 20, 30])
    ds = D.make_dataset(
        f"{records}/{F.EVAL_PREFIX}-*", 16, training=False, config=config
    )
    seen = 0
    for features, labels in ds:
        ink, lengths = features[F.INK].numpy(), features[F.LENGTHS].numpy()
        assert ink.shape[0] == lengths.shape[0] == labels.shape[0]
        assert ink.shape[1] == lengths.max()
        for row, n in zip(ink, lengths, strict=True):
            assert np.all(row[n:] == 0)
            assert row[n - 1, 2] == 1  # a drawing ends with a pen-up
        # Bucketing: one batch never mixes lengths across a boundary.
        buckets = np.searchsorted([10, 20, 30], lengths, side="right")
        assert len(set(buckets)) == 1
        seen += len(labels)
    assert seen == 120


def test_reads_tutorial_format_records_without_key_id(tmp_path):
    data = write_records(tmp_path, train=8, evals=4, tutorial_format=True)
    config = InputConfig(augment=True)
    ds = D.make_dataset(f"{data}/{F.TRAIN_PREFIX}-*", 4, training=True, config=config)
    features, labels = next(iter(ds))
    assert features[F.INK].shape[0] == 4 and features[F.INK].shape[2] == 3
    assert set(labels.numpy()) <= set(range(len(CLASSES)))
