"""Serving SavedModel: raw drawings in, top-k class names and probabilities out.

The graph computes the ink itself with `drawing.ink_tf` (the code
tf.Transform's `preprocessing_fn` runs, twin of the numpy path that wrote the
training records) and standardises it with tf.Transform's statistics, kept in
the model; tf.Transform's graph itself is not embedded. Signatures:

* `predict_ndjson` (also `serving_default`): ndjson lines, parsed in-graph by
  `drawing.ndjson_tf`, for stock TF Serving, Vertex AI endpoints and batch
  prediction; echoes the top-level `key_id` and `word`.
* `predict_example`: raw tf.train.Examples of the strokes (`drawing.raw_example`),
  which `serving.serve` and `serving.predict` send after parsing JSON once.
* `predict_ink`: right-padded ink and lengths, for encoded records.

Each returns `classes` and `probabilities` [B, K] and `valid` [B]: a drawing
that is not usable never fails the batch. K is `--export_top_k`. The classes
are also in `assets.extra/classes.txt`, and the recognition threshold chosen on
the eval set in `assets.extra/recognition.json`. The model is exported in
float32. The on-device model (`trainer.ondevice_export`: LiteRT, for phones
and browser tabs) is written into `ondevice/` of the same export, before its
completion marker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import posixpath
from collections.abc import Sequence

import keras
import tensorflow as tf

from drawing import features as F
from drawing import ink_tf, ndjson_tf
from drawing.export_marker import INCOMPLETE_SUFFIX, marker_path
from trainer import ondevice_export
from trainer.config import (
    EXPORT_PENDING_FILE,
    WEIGHTS_FILE,
    ModelConfig,
    TrainConfig,
)
from trainer.data import pad_to_one_step
from trainer.model import build_model

log = logging.getLogger("trainer")

CLASSES_ASSET = "classes.txt"
MODEL_CONFIG_ASSET = "model_config.json"
# The served fields of the recognition threshold (trainer.recognition).
RECOGNITION_FIELDS = ("threshold", "precision_target", "precision", "recognized")


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
        # Finite coordinates whose span is not (3e38 and -3e38) give NaN ink;
        # the pipeline rejects such drawings as non_finite, serving too.
        finite = tf.reduce_all(tf.math.is_finite(ink), axis=[1, 2])
        return self.top_k_of(ink, lengths, valid & (lengths > 0) & finite)

    def ndjson(self, lines: tf.Tensor) -> dict:
        parsed = ndjson_tf.parse_lines(lines)
        outputs = self.strokes(parsed.x, parsed.y, parsed.valid)
        outputs[F.KEY_ID] = parsed.key_id
        outputs[F.WORD] = parsed.word
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
    recognition: dict | None = None,
) -> str:
    """Writes the serving SavedModel to `export_dir` (local or gs://), so
    that it is complete or absent (`drawing.export_marker`): locally it is
    written beside the target and renamed into place; on gs:// it is written
    in place, the completion marker last.

    Args:
      model: The trained classifier (inputs "ink", "lengths"), in float32.
      classes: Class names in class_index order.
      top_k: How many classes each endpoint returns.
      model_config: Written beside the model for people and tools.
      recognition: The eval set's recognition threshold, written beside the
        classes (`drawing.features.RECOGNITION_FILE`) for the server.
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
    target = export_dir.rstrip("/")
    local = "://" not in target
    work = target + INCOMPLETE_SUFFIX if local else target
    _remove(marker_path(target))  # an old export stops being complete first
    _remove(work)
    archive.write_out(work, verbose=False)
    write_assets(work, classes, model_config, recognition)
    threshold = (recognition or {}).get(F.THRESHOLD)
    ondevice_export.write(model, work, classes, serving.top_k, threshold)
    with tf.io.gfile.GFile(marker_path(work), "w") as f:
        f.write("complete\n")  # last: the folder is a whole model now
    if local:
        _remove(target)
        tf.io.gfile.rename(work, target)
    return export_dir


def _remove(path: str) -> None:
    if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)


def write_assets(
    export_dir: str,
    classes: Sequence[str],
    model_config: dict | None,
    recognition: dict | None = None,
) -> None:
    """The class names and model settings in assets.extra/, for people and
    tools (Vertex AI ignores the folder)."""
    extra = posixpath.join(export_dir, "assets.extra")
    tf.io.gfile.makedirs(extra)
    with tf.io.gfile.GFile(posixpath.join(extra, CLASSES_ASSET), "w") as f:
        f.write("".join(f"{name}\n" for name in classes))
    if model_config is not None:
        with tf.io.gfile.GFile(posixpath.join(extra, MODEL_CONFIG_ASSET), "w") as f:
            json.dump(model_config, f, indent=2)
    if recognition is not None:
        served = {k: recognition[k] for k in RECOGNITION_FIELDS if k in recognition}
        with tf.io.gfile.GFile(posixpath.join(extra, F.RECOGNITION_FILE), "w") as f:
            json.dump(served, f, indent=2)


def _command(config: TrainConfig) -> dict:
    """The run's settings, as JSON gives them back."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _export_pending(model: keras.Model, pending: dict, export_dir: str) -> None:
    """Exports `model` as the note `pending` says (classes, top_k,
    model_config, the report's recognition threshold)."""
    export_model(
        model,
        pending["classes"],
        export_dir,
        top_k=pending["top_k"],
        model_config=pending["model_config"],
        recognition=pending["report"].get("recognition"),
    )


def export_once_trained(config: TrainConfig, model: keras.Model, pending: dict) -> None:
    """Exports `model` with a note in --model_dir of what it exports
    (`pending`: classes, top_k, model_config, report) and of the command,
    which `resume` reads if the export is interrupted; the note goes once the
    export is complete."""
    pending = {"command": _command(config), **pending}
    note = posixpath.join(config.model_dir, EXPORT_PENDING_FILE)
    with tf.io.gfile.GFile(note, "w") as f:
        json.dump(pending, f)
    _export_pending(model, pending, config.export_dir)
    tf.io.gfile.remove(note)


def resume(config: TrainConfig, is_chief: bool = True) -> dict | None:
    """Finishes an export that a killed run left, from its saved weights;
    returns that run's report, or None when there is none to finish. Only
    the chief exports; other workers have nothing left to do ({})."""
    note = posixpath.join(config.model_dir, EXPORT_PENDING_FILE)
    if not tf.io.gfile.exists(note):
        return None
    with tf.io.gfile.GFile(note) as f:
        pending = json.load(f)
    if pending.get("command") != _command(config):
        return None  # another command: it trains anew
    if not is_chief:
        return {}
    log.info("training finished before; finishing its export to %s", config.export_dir)
    model = build_model(ModelConfig(**pending["model_config"]))
    model.load_weights(posixpath.join(config.model_dir, WEIGHTS_FILE))
    _export_pending(model, pending, config.export_dir)
    tf.io.gfile.remove(note)
    return pending["report"]
