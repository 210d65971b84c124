"""The hand-assembled Example bytes against TensorFlow's own Example parsing."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from drawing import features as F
from drawing import ink, ndjson, raw_example
from pipeline import records
from tests.shared_data import requires_sample
from tests.synthetic import example
from tools import sample


def serialize(drawing: ndjson.Drawing, ink: np.ndarray, class_index: int) -> bytes:
    """One drawing's training record, through `records.serialize_many`."""
    (record,) = records.serialize_many(
        [records.raw_ink(ink)],
        [drawing.key_id.encode()],
        [drawing.recognized],
        [class_index],
    )
    return record


def _check(lines: list[bytes]) -> None:
    drawings = [ndjson.parse_drawing(line) for line in lines]
    inks, _ = ink.encode_batch(drawings)
    for i, (drawing, encoded) in enumerate(zip(drawings, inks, strict=True)):
        class_index = (i * 7919) % 20000  # one- and two-byte varints
        parsed = tf.train.Example.FromString(serialize(drawing, encoded, class_index))
        reference = example(encoded, class_index, drawing.key_id, drawing.recognized)
        assert parsed == reference


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
    _check(sample.all_lines())


def test_the_tutorial_feature_spec_reads_the_record():
    drawing = ndjson.parse_drawing(
        b'{"word":"a","key_id":"7","drawing":[[[0,5,9],[1,2,3]]]}'
    )
    encoded = ink.drawing_to_ink(drawing)
    parsed = tf.io.parse_single_example(
        serialize(drawing, encoded, 3),
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


def _raw_check(lines: list[bytes]) -> None:
    for line in lines:
        drawing = ndjson.parse_drawing(line)
        fast = tf.train.Example.FromString(records.serialize_raw(drawing))
        reference = tf.train.Example.FromString(
            raw_example.raw_example(
                drawing.xs, drawing.ys, drawing.stroke_lengths, drawing.word
            )
        )
        assert fast == reference


def test_raw_examples_are_the_protobuf_ones():
    _raw_check(
        [
            b'{"word":"cat","key_id":"1","drawing":[[[0,5.5,1e30],[1,-2,3]]]}',
            b'{"word":"\\u00fcber","key_id":"2","drawing":[[[16777217],[3]],'
            b"[[0,1],[2,3]]]}",
        ]
    )


@requires_sample
def test_every_real_drawing_gives_the_same_raw_example():
    _raw_check(sample.all_lines()[::7])


def test_tfrecords_frames_records_as_tensorflow_reads_them(tmp_path):
    import tensorflow as tf  # checks every length and data CRC as it reads

    examples = [b"", b"a", b"x" * 70000, bytes(range(256))]
    path = tmp_path / "framed.tfrecord"
    path.write_bytes(records.tfrecords(examples))
    read = [r.numpy() for r in tf.data.TFRecordDataset(str(path))]
    assert read == examples
