"""The on-device model: the trained classifier as LiteRT flatbuffers (.tflite)
for phones and browser tabs, written into every export by `trainer.export`.

TensorFlow's converter takes the Keras model traced for one drawing (batch 1)
with its variables frozen (the export's own signatures do not convert: the
LSTM's TensorList needs a static element shape, and its while loop cannot read
variables on device). LiteRT.js runs only fixed input shapes, so the model has
one signature per length in `LENGTHS`, which share their weights: a drawing
goes to the shortest that holds it, padded, and gets what the SavedModel gives
it (the model ignores padding). A drawing of more points than the longest is
cut to its first `LENGTHS[-1]` points, its last stroke ending there, so that
no drawing fails.

A signature takes what a page has, the drawing's points, and normalises them
inside the model exactly as `drawing.ink_tf` does (`points_to_ink`, tested
bit for bit against it), so a page or app only flattens its strokes:

  points  float32 [1, T, 3]: x, y, and 1 on each stroke's last point, else 0;
          zeros after the drawing's points
  count   int32 [1]: the drawing's number of points (at least 2)
  ->      probabilities float32 [1, K], in the order of the class names

`ondevice/model.json` beside the models gives the classes, the export's top k,
the recognition threshold and this contract. `model.tflite` is float32 (it
agrees with the SavedModel to about 1e-6); `model_int8.tflite` has int8
weights (dynamic-range quantisation), about half the size
(bench/README.md, "On-device model").
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

from drawing import features as F

ONDEVICE_DIR = "ondevice"  # in the export folder
FLOAT_FILE = "model.tflite"
INT8_FILE = "model_int8.tflite"
METADATA_FILE = "model.json"
# Points per signature: a typical drawing has ~40, 99.9% of the sample's fewer
# than 256, none more than 841.
LENGTHS = (64, 256, 1024)
SIGNATURE = "points_{}"
POINTS, COUNT, PROBABILITIES = "points", "count", "probabilities"
# The export fails if a converted signature differs from Keras by more.
TOLERANCE = 1e-4


def points_to_ink(points: tf.Tensor, count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`drawing.ink_tf.strokes_to_ink` on dense, fixed-length points.

    Args:
      points: float32 [B, T, 3] x, y, pen-up of each point, padded after `count`.
      count: int32 [B] points per drawing.

    Returns:
      (ink float32 [B, T - 1, 3], zero after its rows; lengths int32 [B]).
    """
    steps = tf.shape(points)[1]
    valid = tf.range(steps)[tf.newaxis, :] < count[:, tf.newaxis]
    xy = points[:, :, :2]
    inside = valid[:, :, tf.newaxis]
    lower = tf.reduce_min(tf.where(inside, xy, np.inf), axis=1, keepdims=True)
    upper = tf.reduce_max(tf.where(inside, xy, -np.inf), axis=1, keepdims=True)
    scale = upper - lower
    scale = tf.where(tf.equal(scale, 0.0), tf.ones_like(scale), scale)
    # The same float32 operations in the same order as drawing.ink_tf.
    normalized = (xy - lower) / scale
    rows = tf.concat(
        [normalized[:, 1:] - normalized[:, :-1], points[:, 1:, 2:]], axis=-1
    )
    lengths = tf.maximum(count - 1, 0)
    kept = tf.range(steps - 1)[tf.newaxis, :] < lengths[:, tf.newaxis]
    return tf.where(kept[:, :, tf.newaxis], rows, 0.0), lengths


def _classify(model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
    """points, count -> the model's float32 probabilities, for any length:
    what each signature runs, and what `check` holds the converted model to."""

    def classify(points, count):
        ink, lengths = points_to_ink(points, count)
        probabilities = model({F.INK: ink, F.LENGTHS: lengths}, training=False)
        return tf.cast(probabilities, tf.float32)

    return tf.function(classify, input_signature=_specs(None))


def _signatures(model: keras.Model) -> list:
    """One concrete function per length, named for its signature, each
    calling the model traced once with its variables frozen."""
    frozen = convert_variables_to_constants_v2(_classify(model).get_concrete_function())

    def named(points, count):  # freezing loses the output's name
        return {PROBABILITIES: frozen(points, count)[0]}

    functions = []
    for length in LENGTHS:
        signature = tf.function(named).get_concrete_function(*_specs(length))
        signature.graph.name = SIGNATURE.format(length)  # the converter's key
        functions.append(signature)
    return functions


def _specs(length: int | None) -> tuple[tf.TensorSpec, tf.TensorSpec]:
    return (
        tf.TensorSpec([1, length, 3], tf.float32, name=POINTS),
        tf.TensorSpec([1], tf.int32, name=COUNT),
    )


def convert(model: keras.Model, int8: bool = False, functions=None) -> bytes:
    """The model as a .tflite flatbuffer of TFLite builtin ops, one signature
    per length; int8 weights (dynamic-range quantisation) with `int8`."""
    functions = functions or _signatures(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(functions, model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def probe_drawing(length: int) -> np.ndarray:
    """float32 [1, length, 3]: a spiral of `length` points in a few strokes,
    the drawing on which each converted signature is checked."""
    turn = np.linspace(0, 6 * np.pi, length)
    points = np.zeros((1, length, 3), np.float32)
    points[0, :, 0] = 128 + turn * 12 * np.cos(turn)
    points[0, :, 1] = 128 + turn * 12 * np.sin(turn)
    points[0, length // 3 :: length // 3, 2] = 1.0
    points[0, -1, 2] = 1.0
    return points


def check(flatbuffer: bytes, model: keras.Model, tolerance: float = TOLERANCE):
    """Raises RuntimeError unless every signature gives Keras' probabilities
    on a drawing that fills it and on one that fills half of it."""
    from ai_edge_litert.interpreter import Interpreter

    keras_probabilities = _classify(model)
    interpreter = Interpreter(model_content=flatbuffer)
    for length in LENGTHS:
        runner = interpreter.get_signature_runner(SIGNATURE.format(length))
        for count in (length, length // 2):
            points = probe_drawing(length)
            points[0, count:] = 0.0
            points[0, count - 1, 2] = 1.0
            counts = np.array([count], np.int32)
            got = runner(points=points, count=counts)[PROBABILITIES]
            want = keras_probabilities(tf.constant(points), tf.constant(counts))
            gap = float(np.abs(got - np.asarray(want)).max())
            if not gap <= tolerance:
                raise RuntimeError(
                    f"the on-device model's signature {SIGNATURE.format(length)} "
                    f"differs from the Keras model by {gap:.3g} on {count} points"
                )


def metadata(
    classes: Sequence[str], top_k: int, threshold: float | None, int8: bool
) -> dict:
    """What travels with the models in model.json: their contract, the class
    names, the export's top k and the recognition threshold (or null)."""
    return {
        "runtime": "LiteRT (.tflite, TFLite builtin ops)",
        "models": {"float32": FLOAT_FILE, **({"int8": INT8_FILE} if int8 else {})},
        "lengths": list(LENGTHS),
        "signature": SIGNATURE.format("{length}"),
        "inputs": {
            POINTS: "float32 [1, length, 3]: x, y, 1 on each stroke's last point",
            COUNT: "int32 [1]: points in the drawing (at least 2)",
        },
        "output": f"{PROBABILITIES}: float32 [1, classes]",
        "longer": f"cut to its first {LENGTHS[-1]} points, a stroke ending there",
        "classes": list(classes),
        "k": max(1, min(top_k, len(classes))),
        F.THRESHOLD: threshold,
    }


def write(
    model: keras.Model,
    export_dir: str,
    classes: Sequence[str],
    top_k: int,
    threshold: float | None,
) -> str:
    """Converts, checks and writes the on-device models and model.json into
    `export_dir`/ondevice (local or gs://); returns that folder."""
    functions = _signatures(model)
    flat = convert(model, functions=functions)
    check(flat, model)
    int8 = convert(model, int8=True, functions=functions)
    folder = posixpath.join(export_dir, ONDEVICE_DIR)
    tf.io.gfile.makedirs(folder)
    for name, data in ((FLOAT_FILE, flat), (INT8_FILE, int8)):
        with tf.io.gfile.GFile(posixpath.join(folder, name), "wb") as f:
            f.write(data)
    with tf.io.gfile.GFile(posixpath.join(folder, METADATA_FILE), "w") as f:
        json.dump(metadata(classes, top_k, threshold, int8=True), f, indent=2)
    return folder
