"""trainer.batching: windows of records, ordered by length and cut into
batches, lose and double nothing, and keep each batch to one length bucket."""

import numpy as np
import tensorflow as tf

from trainer.batching import bucket_edges, cut, windows
from trainer.config import InputConfig

BOUNDARIES = (4, 8, 16)


def _window(lengths: list[int]) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """Drawings of the given lengths; each point's x is its drawing's index,
    so a batch's drawings can be told apart after the cut."""
    rows = [[[float(i), 0.0, 0.0]] * n for i, n in enumerate(lengths)]
    ink = tf.ragged.constant(rows, ragged_rank=1, dtype=tf.float32)
    return ink, tf.range(len(lengths), dtype=tf.int64)


def _lengths(seed: int, n: int) -> list[int]:
    return np.random.default_rng(seed).integers(1, 40, n).tolist()


def test_bucket_edges_extend_the_boundaries_in_small_steps():
    edges = bucket_edges(BOUNDARIES)
    assert edges[:3] == list(BOUNDARIES)
    tail = np.array(edges[2:])
    assert (np.diff(edges) > 0).all()
    assert (np.diff(tail) <= np.maximum(1, 0.1 * tail[:-1] + 1)).all()
    assert edges[-1] >= 1 << 14


def _window_sizes(n: int, size: int, training: bool) -> list[int]:
    blocks = tf.data.Dataset.range(n).map(lambda i: tf.strings.as_string(i)).batch(3)
    return [int(w.shape[0]) for w in windows(blocks, size, training)]


def test_training_windows_hold_every_record_and_none_is_short():
    assert _window_sizes(10, 4, training=True) == [4, 6]
    assert _window_sizes(12, 4, training=True) == [4, 4, 4]


def test_eval_windows_keep_the_short_last_one():
    assert _window_sizes(10, 4, training=False) == [4, 4, 2]


def _cut(lengths, batch_size, training, shuffled, **config):
    ink, labels = _window(lengths)
    config = InputConfig(boundaries=BOUNDARIES, point_drop=0.0, **config)
    batches, batch_labels = cut(ink, labels, batch_size, training, shuffled, config)
    return batches, [row.numpy().tolist() for row in batch_labels]


def test_training_cut_gives_whole_batches_of_every_record_once():
    lengths = _lengths(0, 103)
    batches, labels = _cut(lengths, 16, training=True, shuffled=True)
    assert sorted(sum(labels, [])) == list(range(103))
    # 103 = 6 x 16 + 7: the 7 beyond whole batches join the shortest one.
    assert sorted(len(b) for b in labels) == [16] * 5 + [23]
    # The ink travels with its label.
    for row, row_labels in zip(batches, labels, strict=True):
        xs = row.flat_values[:, 0].numpy()
        want = np.repeat(row_labels, [lengths[i] for i in row_labels])
        assert (xs == want).all()


def test_eval_cut_keeps_one_bucket_per_batch_in_a_fixed_order():
    lengths = _lengths(1, 90)
    edges = np.array(bucket_edges(BOUNDARIES))
    first = _cut(lengths, 8, training=False, shuffled=False)[1]
    again = _cut(lengths, 8, training=False, shuffled=False)[1]
    assert first == again
    assert sorted(sum(first, [])) == list(range(90))
    for row in first:
        assert len({int(np.searchsorted(edges, lengths[i], "right")) for i in row}) == 1
        assert len(row) <= 8


def test_without_buckets_a_batch_mixes_lengths_in_read_order():
    lengths = _lengths(2, 32)
    labels = _cut(lengths, 8, training=False, shuffled=False, bucket=False)[1]
    assert sorted(sum(labels, [])) == list(range(32))
    assert all(row == sorted(row) for row in labels)
