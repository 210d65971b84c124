"""A window of drawings ordered by length and cut into batches, in a few
vectorised ops (`trainer.data` runs it on each window of records).

Buckets are the length quantiles' (tf.Transform's), with the longest split
further; within a window, drawings are ordered by bucket with one argsort
(randomly within each bucket when shuffling) and cut into batches, so a
batch's drawings are of similar length and its padding small, as
`bucket_by_sequence_length` made them, without handling them one at a time.
"""

from __future__ import annotations

import math

import tensorflow as tf

from trainer.augment import thin
from trainer.config import InputConfig

# Above the last boundary, buckets grow by 10%: a quantile's last bucket holds
# the long tail (82 to 800+ points in the real sample), and a batch of it is
# padded to its longest drawing.
_TAIL_STEP = 1.1
_TAIL_END = 1 << 14


def bucket_edges(boundaries: tuple[int, ...]) -> list[int]:
    """The boundaries, then more in 10% steps up to 16384 points."""
    edges = list(boundaries)
    top = edges[-1] if edges else 1
    while top < _TAIL_END:
        top = max(top + 1, math.ceil(top * _TAIL_STEP))
        edges.append(top)
    return edges


def windows(blocks: tf.data.Dataset, size: int, training: bool) -> tf.data.Dataset:
    """Windows of `size` serialized records; in training, the last window of
    the pass, when short, joins the one before it (no batch is smaller than
    a whole one)."""
    ds = blocks.rebatch(size)
    if not training:
        return ds
    none = tf.constant([], tf.string)

    def step(held: tf.Tensor, window: tf.Tensor):
        last = tf.shape(window)[0] < size  # the short one, or the end mark
        out = tf.cond(last, lambda: tf.concat([held, window], 0), lambda: held)
        return tf.cond(last, lambda: none, lambda: window), out

    ds = ds.concatenate(tf.data.Dataset.from_tensors(none))  # the end mark
    return ds.scan(none, step).filter(lambda w: tf.size(w) > 0)


def _batch_ids(buckets: tf.Tensor, batch_size: int, training: bool) -> tf.Tensor:
    """Batch of each record of a window in bucket order. Training: whole
    batches, the records beyond them in the first (shortest); eval: each
    bucket's own batches, its last partial."""
    n = tf.shape(buckets, out_type=tf.int64)[0]
    index = tf.range(n)
    if training:
        extra = n - tf.maximum(n // batch_size, 1) * batch_size
        return tf.maximum(index - extra, 0) // batch_size
    within = index - tf.searchsorted(buckets, buckets, "left", out_type=tf.int64)
    return tf.cumsum(tf.cast(within % batch_size == 0, tf.int64)) - 1


def cut(
    ink: tf.RaggedTensor,
    labels: tf.Tensor,
    batch_size: int,
    training: bool,
    shuffled: bool,
    config: InputConfig,
) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """One window: points dropped (training, as `config` says), ordered by
    length bucket and cut into batches [batches, (batch), (T), 3] and their
    labels. Shuffled: random order within each bucket, batches in random
    order. Eval: batches in a fixed mixed order, so that the first drawings
    (which the report feeds point by point) are not the shortest."""
    if training and config.augment and config.point_drop > 0:
        ink = thin(ink, config.point_drop)
    buckets = tf.zeros_like(labels)
    if config.bucket:
        edges = tf.constant(bucket_edges(config.boundaries), tf.int64)
        buckets = tf.searchsorted(edges, ink.row_lengths(), side="right")
    key = tf.cast(buckets, tf.float32)
    if shuffled:
        key += tf.random.uniform(tf.shape(key))  # < 1: buckets stay apart
    order = tf.argsort(key, stable=True)
    ids = _batch_ids(tf.gather(buckets, order), batch_size, training)
    batches = tf.RaggedTensor.from_value_rowids(order, ids, validate=False)
    if shuffled:
        batches = tf.gather(batches, tf.random.shuffle(tf.range(batches.nrows())))
    elif not training:
        fixed = tf.random.experimental.stateless_shuffle(
            tf.range(batches.nrows()), seed=[27, 0]
        )
        batches = tf.gather(batches, fixed)
    # One gather of the ink, in the final order.
    order, sizes = batches.flat_values, batches.row_lengths()
    return (
        tf.RaggedTensor.from_row_lengths(tf.gather(ink, order), sizes),
        tf.RaggedTensor.from_row_lengths(tf.gather(labels, order), sizes),
    )
