"""`drawing.ink_tf` must give the ink `drawing.ink` gives, in a graph."""

from __future__ import annotations

import numpy as np
import orjson
import tensorflow as tf

from drawing import features as F
from drawing import ink_tf
from drawing.ink import normalize_and_delta
from tests.shared_data import requires_sample
from tools import sample


def numpy_ink(strokes: list[tuple[list, list]]) -> np.ndarray:
    """The numpy reference: points and pen-up bits as the tutorial builds them."""
    strokes = [(x, y) for x, y in strokes if len(x)]
    xs = np.concatenate([np.asarray(x, np.float32) for x, _ in strokes])
    ys = np.concatenate([np.asarray(y, np.float32) for _, y in strokes])
    pen_up = np.zeros(len(xs), np.float32)
    pen_up[np.cumsum([len(x) for x, _ in strokes]) - 1] = 1
    return normalize_and_delta(np.stack([xs, ys], 1), pen_up)


def ragged(drawings: list[list[tuple[list, list]]], axis: int) -> tf.RaggedTensor:
    """Builds the ragged [drawings, strokes, points] batch from flat arrays
    (`tf.ragged.constant` takes minutes on the whole sample)."""
    strokes = [s[axis] for d in drawings for s in d]
    values = np.fromiter(
        (v for s in strokes for v in s), np.float32, sum(map(len, strokes))
    )
    return tf.RaggedTensor.from_nested_row_lengths(
        values,
        [
            np.array([len(d) for d in drawings], np.int64),
            np.array([len(s) for s in strokes], np.int64),
        ],
    )


def synthetic_drawings(count: int, seed: int = 0) -> list[list[tuple[list, list]]]:
    """Random drawings with the awkward cases: empty and one-point strokes,
    flat axes, repeated points, float and huge coordinates."""
    rng = np.random.default_rng(seed)
    drawings = []
    for i in range(count):
        strokes = []
        for _ in range(int(rng.integers(1, 6))):
            n = int(rng.choice([0, 1, 2, 3, 7, 20]))
            x = rng.integers(0, 256, n).astype(float)
            y = rng.integers(0, 256, n).astype(float)
            if i % 7 == 0:
                x[:] = 42.0  # a vertical line: x has no extent
            if i % 11 == 0:
                x = x * 1e-3 + rng.normal(0, 1e-4, n)  # raw-format floats
            if i % 13 == 0 and n > 1:
                x[1], y[1] = x[0], y[0]  # a repeated point: a (0, 0, 0) delta
            if i % 17 == 0:
                x, y = x * 1e6, y * -3e5
            strokes.append((x.tolist(), y.tolist()))
        if sum(len(x) for x, _ in strokes) < 2:
            strokes.append(([1.0, 5.0], [2.0, 2.0]))
        drawings.append(strokes)
    return drawings


def assert_matches_numpy(drawings, ink: tf.RaggedTensor) -> None:
    assert ink.shape.rank == 3
    assert ink.dtype == tf.float32
    rows = ink.to_list()
    for drawing, got in zip(drawings, rows, strict=True):
        want = numpy_ink(drawing)
        got = np.asarray(got, np.float32).reshape(-1, 3)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_matches_numpy_on_synthetic_strokes():
    drawings = synthetic_drawings(300)
    ink = ink_tf.strokes_to_ink(ragged(drawings, 0), ragged(drawings, 1))
    assert_matches_numpy(drawings, ink)


def test_works_in_a_graph_with_int32_splits_and_tiny_drawings():
    drawings = [
        [([3.0], [4.0])],  # one point: no rows
        [([], []), ([1.0, 2.0], [5.0, 5.0])],  # leading empty stroke
        [([0.0, 0.0, 10.0], [0.0, 0.0, 10.0]), ([], [])],
    ]
    spec = tf.RaggedTensorSpec([None, None, None], tf.float32, 2, tf.int32)
    fn = tf.function(ink_tf.strokes_to_ink, input_signature=[spec, spec])
    x = ragged(drawings, 0).with_row_splits_dtype(tf.int32)
    y = ragged(drawings, 1).with_row_splits_dtype(tf.int32)
    ink = fn(x, y)
    assert ink.row_lengths().numpy().tolist() == [0, 1, 2]
    np.testing.assert_array_equal(ink[1].numpy(), [[1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(ink[2].numpy(), [[0, 0, 0], [1, 1, 1]])
    assert_matches_numpy(drawings[1:], ink[1:])


def test_raw_feature_spec_parses_examples_into_strokes():
    drawings = synthetic_drawings(20, seed=1)
    serialized = []
    for d in drawings:
        d = [(x, y) for x, y in d if len(x)]
        feature = {
            F.DRAWING_X: tf.train.Feature(
                float_list=tf.train.FloatList(value=[v for x, _ in d for v in x])
            ),
            F.DRAWING_Y: tf.train.Feature(
                float_list=tf.train.FloatList(value=[v for _, y in d for v in y])
            ),
            F.STROKE_LENGTHS: tf.train.Feature(
                int64_list=tf.train.Int64List(value=[len(x) for x, _ in d])
            ),
        }
        example = tf.train.Example(features=tf.train.Features(feature=feature))
        serialized.append(example.SerializeToString())
    parsed = tf.io.parse_example(tf.constant(serialized), ink_tf.raw_feature_spec())
    x, y = parsed[F.DRAWING_X], parsed[F.DRAWING_Y]
    assert x.ragged_rank == 2 and x.row_splits.dtype == tf.int64
    # float32 coordinates in the Example: compare with the float32-rounded input.
    rounded = [
        [(np.float32(x).tolist(), np.float32(y).tolist()) for x, y in d]
        for d in drawings
    ]
    assert_matches_numpy(rounded, ink_tf.strokes_to_ink(x, y))


@requires_sample
def test_matches_numpy_on_every_real_sample_drawing():
    drawings = [
        [(s[0], s[1]) for s in orjson.loads(line)["drawing"]]
        for line in sample.all_lines()
    ]
    assert len(drawings) > 10_000
    ink = ink_tf.strokes_to_ink(ragged(drawings, 0), ragged(drawings, 1))
    got = ink.flat_values.numpy()
    want = np.concatenate([numpy_ink(d) for d in drawings])
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-6
    want_lengths = [sum(len(s[0]) for s in d) - 1 for d in drawings]
    assert ink.row_lengths().numpy().tolist() == want_lengths
