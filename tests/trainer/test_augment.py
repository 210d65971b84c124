"""Training-time augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from drawing import features as F
from tests.synthetic import write_records
from trainer import augment
from trainer import data as D
from trainer.config import InputConfig


def strokes_batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ink [B, T, 3] whose last valid row ends a stroke, as in data."""
    rng = np.random.default_rng(seed)
    lengths = np.array([1, 2, 7, 30, 30, 12], np.int32)
    ink = np.zeros((len(lengths), lengths.max() + 3, 3), np.float32)
    for i, n in enumerate(lengths):
        ink[i, :n, :2] = rng.integers(-5, 6, (n, 2))  # (0, 0) deltas included
        ink[i, :n, 2] = rng.random(n) < 0.25
        ink[i, n - 1, 2] = 1
    return ink, lengths


def positions(ink: np.ndarray, length: int) -> list[tuple]:
    """(x, y, pen) of every point, from the deltas."""
    xy = np.cumsum(ink[:length, :2], axis=0)
    pen = ink[:length, 2].tolist()
    return [(x, y, p) for (x, y), p in zip(xy.tolist(), pen, strict=True)]


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.999])
def test_dropping_points_keeps_positions_and_every_stroke_end(rate):
    ink, lengths = strokes_batch()
    tf.random.set_seed(1)
    features = {F.INK: tf.constant(ink), F.LENGTHS: tf.constant(lengths)}
    out, _ = augment.drop_points(features, tf.zeros([len(lengths)]), rate)
    got_ink, got_lengths = out[F.INK].numpy(), out[F.LENGTHS].numpy()
    dropped = 0
    for i, n in enumerate(lengths):
        before, after = positions(ink[i], n), positions(got_ink[i], got_lengths[i])
        ends = [p for p in before if p[2] == 1]
        # What is left is a subsequence of the original points holding every
        # stroke end: the same drawing, sampled more coarsely.
        assert [p for p in after if p[2] == 1] == ends
        it = iter(before)
        assert all(p in it for p in after)
        assert not got_ink[i, got_lengths[i] :].any()  # padding stays zero
        dropped += n - got_lengths[i]
    if rate == 0:
        np.testing.assert_array_equal(got_lengths, lengths)
        np.testing.assert_array_equal(got_ink, ink[:, : got_ink.shape[1]])
    elif rate > 0.99:  # only stroke ends are left
        assert list(got_lengths) == [
            int(ink[i, :n, 2].sum()) for i, n in enumerate(lengths)
        ]
    else:
        assert 0 < dropped < (lengths - 1).sum()


def test_augmented_training_batches_keep_their_lengths_valid(tmp_path):
    data = write_records(tmp_path, train=64, evals=8)
    config = InputConfig(augment=True, point_drop=0.5)
    ds = D.make_dataset(f"{data}/{F.TRAIN_PREFIX}-*", 16, training=True, config=config)
    for features, _ in ds.take(5):
        ink, lengths = features[F.INK].numpy(), features[F.LENGTHS].numpy()
        assert lengths.min() >= 1 and ink.shape[1] >= lengths.max()
        # Every drawing still ends a stroke at its last valid point.
        assert all(ink[i, n - 1, 2] == 1 for i, n in enumerate(lengths))
        assert all(not ink[i, n:].any() for i, n in enumerate(lengths))


def test_linear_augmentation_maps_each_drawing_and_mirrors_about_half():
    rng = np.random.default_rng(0)
    batch, steps = 200, 12
    ink = np.zeros((batch, steps, 3), np.float32)
    ink[:, :, :2] = rng.normal(0, 0.2, (batch, steps, 2))
    ink[:, :, 2] = rng.random((batch, steps)) < 0.3
    ink[:, 8:] = 0  # padding
    lengths = np.full(batch, 8, np.int32)
    tf.random.set_seed(0)
    out, _ = augment.augment_batch({F.INK: tf.constant(ink), F.LENGTHS: lengths}, None)
    got = out[F.INK].numpy()
    np.testing.assert_array_equal(got[:, :, 2], ink[:, :, 2])  # pen bits kept
    assert not got[:, 8:].any()  # padding stays zero
    determinants = []
    for i in range(batch):
        # One 2x2 matrix per drawing maps every delta: the shape is kept.
        matrix, *_ = np.linalg.lstsq(ink[i, :8, :2], got[i, :8, :2], rcond=None)
        np.testing.assert_allclose(ink[i, :8, :2] @ matrix, got[i, :8, :2], atol=1e-5)
        determinants.append(np.linalg.det(matrix))
    mirrored = np.mean(np.array(determinants) < 0)
    assert 0.35 < mirrored < 0.65
    assert np.all(
        np.abs(np.log(np.abs(determinants))) <= 2 * augment.MAX_LOG_SCALE + 1e-4
    )
