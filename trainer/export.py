"""Serving SavedModel: raw drawings in, top-k class names and probabilities out.

The preprocessing runs inside the exported graph (`pipeline.ink_tf`, the same
transform the pipeline applies in numpy and tf.Transform applies in its
`preprocessing_fn`), so clients send drawings, not ink, and there is no
training/serving skew to get wrong. Endpoints (SavedModel signatures):

* `predict_ndjson` (also `serving_default`): `lines`, tf.string [None], one
  Quick, Draw! ndjson line each. The `drawing` field is found and parsed with
  tf.strings ops (regex, split, to_number), no Python. A line without a usable
  drawing (bad JSON around it, unequal x/y counts, under 2 points) does not fail
  the batch: its `valid` output is False and its classes are empty.
* `predict_example`: `examples`, tf.string [None], serialized tf.train.Example
  with the raw feature spec of `pipeline.ink_tf.raw_feature_spec`
  (`drawing_x`, `drawing_y`: all points, `stroke_lengths`: points per stroke).
  This is the tf.Transform raw input format, for batch prediction from records.
* `predict_ink`: `ink` float32 [None, None, 3] right-padded and `lengths`
  int32 [None], for already-encoded records (evaluation, debugging).

Each returns `classes` (string [B, K]), `probabilities` (float32 [B, K]) and
`valid` (bool [B]); `predict_ndjson` also echoes `key_id` and `word` (string
[B], empty when absent; JSON escapes are left as they are). K is fixed at export
time (`--export_top_k`, at most the number of classes). The class names are
also written to `assets.extra/classes.txt`.

The model is exported in float32 whatever it was trained in: mixed precision
helps GPUs train, not CPUs serve.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence

import keras
import tensorflow as tf

from pipeline import features as F
from pipeline import ink_tf
from trainer.config import TrainConfig
from trainer.data import pad_to_one_step

CLASSES_ASSET = "classes.txt"
MODEL_CONFIG_ASSET = "model_config.json"

# The `drawing` field's grammar, on a line with all whitespace removed: strokes
# of [xs, ys] or [xs, ys, ts] number lists (JSON numbers, ints or floats).
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_LIST = rf"\[(?:{_NUMBER}(?:,{_NUMBER})*)?\]"
_STROKE = rf"\[{_LIST},{_LIST}(?:,{_LIST})?\]"
_DRAWING = rf"\[{_STROKE}(?:,{_STROKE})*\]"
_DRAWING_FIELD = rf'^.*?"{F.DRAWING}":({_DRAWING})[,}}].*$'
# Stands in for the drawing of a line that has none, so the batch keeps its shape.
_PLACEHOLDER = "[[[0,1],[0,1]]]"


def _field(lines: tf.Tensor, pattern: str) -> tf.Tensor:
    """The first group of `pattern` on each line, or "" where it does not match."""
    regex = rf"^.*?{pattern}.*$"
    return tf.where(
        tf.strings.regex_full_match(lines, regex),
        tf.strings.regex_replace(lines, regex, r"\1", replace_global=False),
        "",
    )


def _split_numbers(lists: tf.Tensor) -> tf.RaggedTensor:
    """ "1,2,3" strings [S] -> float32 ragged [S, points]; "" gives no points."""
    tokens = tf.strings.split(lists, ",")
    tokens = tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)
    return tokens.with_flat_values(tf.strings.to_number(tokens.flat_values, tf.float32))


def ndjson_to_strokes(
    lines: tf.Tensor,
) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.Tensor]:
    """Pulls the `drawing` field out of ndjson lines, in-graph.

    Returns:
      x, y: float32 ragged [B, strokes, points]. A line without a usable drawing
        gets a two-point placeholder so the batch keeps its rows.
      valid: bool [B], False for those lines.
    """
    compact = tf.strings.regex_replace(lines, r"\s+", "")
    found = tf.strings.regex_full_match(compact, _DRAWING_FIELD)
    drawing = tf.where(
        found,
        tf.strings.regex_replace(compact, _DRAWING_FIELD, r"\1", replace_global=False),
        _PLACEHOLDER,
    )
    # "[[[1,2],[3,4]],[[5],[6]]]" -> strokes "1,2],[3,4" and "5],[6".
    inner = tf.strings.regex_replace(drawing, r"^\[\[\[|\]\]\]$", "")
    strokes = tf.strings.split(inner, "]],[[")  # [B, S]
    parts = tf.strings.split(strokes.flat_values, "],[")  # [S total, 2 or 3]
    starts = parts.row_starts()
    xs = _split_numbers(tf.gather(parts.flat_values, starts))  # [S total, P]
    ys = _split_numbers(tf.gather(parts.flat_values, starts + 1))
    per_drawing = strokes.row_lengths()
    x = tf.RaggedTensor.from_row_lengths(xs, per_drawing)
    y = tf.RaggedTensor.from_row_lengths(ys, per_drawing)

    same_counts = tf.equal(xs.row_lengths(), ys.row_lengths())
    all_same = tf.reduce_all(
        tf.RaggedTensor.from_row_lengths(same_counts, per_drawing), axis=1
    )
    points = tf.reduce_sum(
        tf.RaggedTensor.from_row_lengths(xs.row_lengths(), per_drawing), axis=1
    )
    valid = found & all_same & (points >= 2)

    # Replace the rows that are not valid by the placeholder drawing.
    placeholder = tf.ragged.constant(
        [[[0.0, 1.0]]], tf.float32, row_splits_dtype=tf.int64
    )
    num_valid = tf.reduce_sum(tf.cast(valid, tf.int64))
    index = tf.where(valid, tf.cumsum(tf.cast(valid, tf.int64)) - 1, num_valid)

    def keep_valid(coords: tf.RaggedTensor) -> tf.RaggedTensor:
        kept = tf.ragged.boolean_mask(coords, valid)
        return tf.gather(tf.concat([kept, placeholder], axis=0), index)

    return keep_valid(x), keep_valid(y), valid


def _pad_ink(ink: tf.RaggedTensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Right-padded dense ink with at least one step, and int32 lengths."""
    dense = pad_to_one_step(ink.to_tensor(shape=[None, None, F.INK_CHANNELS]))
    return dense, tf.cast(ink.row_lengths(), tf.int32)


class _Serving:
    """The endpoint bodies; holds the model and the class names."""

    def __init__(self, model: keras.Model, classes: Sequence[str], top_k: int) -> None:
        self.model = model
        self.classes = list(classes)
        self.top_k = max(1, min(top_k, len(self.classes)))

    def top_k_of(self, ink: tf.Tensor, lengths: tf.Tensor, valid: tf.Tensor) -> dict:
        probabilities = self.model({F.INK: ink, F.LENGTHS: lengths}, training=False)
        top = tf.math.top_k(tf.cast(probabilities, tf.float32), k=self.top_k)
        names = tf.gather(tf.constant(self.classes), top.indices)
        keep = tf.expand_dims(valid, 1)
        return {
            "classes": tf.where(keep, names, ""),
            "probabilities": tf.where(keep, top.values, 0.0),
            "valid": valid,
        }

    def strokes(self, x: tf.RaggedTensor, y: tf.RaggedTensor, valid: tf.Tensor) -> dict:
        ink, lengths = _pad_ink(ink_tf.strokes_to_ink(x, y))
        return self.top_k_of(ink, lengths, valid & (lengths > 0))

    def ndjson(self, lines: tf.Tensor) -> dict:
        x, y, valid = ndjson_to_strokes(lines)
        outputs = self.strokes(x, y, valid)
        compact = tf.strings.regex_replace(lines, r"\s+", "")
        outputs[F.KEY_ID] = _field(compact, rf'"{F.KEY_ID}":"?([0-9A-Za-z_-]+)"?[,}}]')
        outputs[F.WORD] = _field(lines, rf'"{F.WORD}"\s*:\s*"((?:[^"\\]|\\.)*)"')
        return outputs

    def examples(self, examples: tf.Tensor) -> dict:
        parsed = tf.io.parse_example(examples, ink_tf.raw_feature_spec())
        x, y = parsed[F.DRAWING_X], parsed[F.DRAWING_Y]
        return self.strokes(x, y, tf.ones_like(examples, tf.bool))

    def ink(self, ink: tf.Tensor, lengths: tf.Tensor) -> dict:
        return self.top_k_of(pad_to_one_step(ink), lengths, lengths > 0)


def export_model(
    model: keras.Model,
    classes: Sequence[str],
    export_dir: str,
    top_k: int = TrainConfig.export_top_k,
    model_config: dict | None = None,
) -> str:
    """Writes the serving SavedModel to `export_dir` (local or gs://).

    Args:
      model: The trained classifier (inputs "ink", "lengths"), in float32.
      classes: Class names in class_index order.
      top_k: How many classes each endpoint returns.
      model_config: Written beside the model for people and tools.
    """
    serving = _Serving(model, classes, top_k)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "predict_ndjson",
        serving.ndjson,
        input_signature=[tf.TensorSpec([None], tf.string, name="lines")],
    )
    archive.add_endpoint(
        "predict_example",
        serving.examples,
        input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
    )
    archive.add_endpoint(
        "predict_ink",
        serving.ink,
        input_signature=[
            tf.TensorSpec([None, None, F.INK_CHANNELS], tf.float32, name=F.INK),
            tf.TensorSpec([None], tf.int32, name=F.LENGTHS),
        ],
    )
    archive.write_out(export_dir, verbose=False)
    extra = posixpath.join(export_dir, "assets.extra")
    tf.io.gfile.makedirs(extra)
    with tf.io.gfile.GFile(posixpath.join(extra, CLASSES_ASSET), "w") as f:
        f.write("".join(f"{name}\n" for name in classes))
    if model_config is not None:
        with tf.io.gfile.GFile(posixpath.join(extra, MODEL_CONFIG_ASSET), "w") as f:
            json.dump(model_config, f, indent=2)
    return export_dir
