"""The hand-assembled Example bytes against TensorFlow's own Example parsing."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pipeline import features as F
from pipeline import ink, records
from tests.shared_data import requires_sample, sample_lines


def _reference(drawing: ink.Drawing, encoded: np.ndarray, class_index: int):
    """The same record built field by field with tf.train.Example."""
    feature = {
        F.INK: tf.train.Feature(float_list=tf.train.FloatList(value=encoded.ravel())),
        F.SHAPE: tf.train.Feature(int64_list=tf.train.Int64List(value=encoded.shape)),
        F.CLASS_INDEX: tf.train.Feature(
            int64_list=tf.train.Int64List(value=[class_index])
        ),
        F.KEY_ID: tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[drawing.key_id.encode()])
        ),
        F.RECOGNIZED: tf.train.Feature(
            int64_list=tf.train.Int64List(value=[int(drawing.recognized)])
        ),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _check(lines: list[bytes]) -> None:
    drawings = [ink.parse_drawing(line) for line in lines]
    inks, _ = ink.encode_batch(drawings)
    for i, (drawing, encoded) in enumerate(zip(drawings, inks, strict=True)):
        class_index = (i * 7919) % 20000  # one- and two-byte varints
        parsed = tf.train.Example.FromString(
            records.serialize(drawing, encoded, class_index)
        )
        assert parsed == _reference(drawing, encoded, class_index)


def test_long_drawings_and_large_indices_round_trip():
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 256, 3000).tolist()  # ink over 16 KiB: long varints
    line = (
        b'{"word":"cat","key_id":"123456789012345678901","recognized":false,'
        b'"drawing":[[' + str(xs).encode() + b"," + str(xs[::-1]).encode() + b"]]}"
    )
    _check([line])


@requires_sample
def test_every_real_drawing_parses_to_the_same_example():
    _check(sample_lines())


def test_the_tutorial_feature_spec_reads_the_record():
    drawing = ink.parse_drawing(
        b'{"word":"a","key_id":"7","drawing":[[[0,5,9],[1,2,3]]]}'
    )
    encoded = ink.drawing_to_ink(drawing)
    parsed = tf.io.parse_single_example(
        records.serialize(drawing, encoded, 3),
        {
            F.INK: tf.io.VarLenFeature(tf.float32),
            F.SHAPE: tf.io.FixedLenFeature([2], tf.int64),
            F.CLASS_INDEX: tf.io.FixedLenFeature([1], tf.int64),
        },
    )
    np.testing.assert_array_equal(
        tf.sparse.to_dense(parsed[F.INK]).numpy(), encoded.ravel()
    )
    assert parsed[F.SHAPE].numpy().tolist() == [2, 3]
    assert parsed[F.CLASS_INDEX].numpy().tolist() == [3]
