"""The export's on-device model in Python: `serving.predict --engine litert`.

It runs `ondevice/model.tflite` (or `model_int8.tflite`) with the LiteRT
interpreter (`ai-edge-litert`) as a phone or the page's tab runs it, so its
answers can be checked against the SavedModel's on the same drawings: each
drawing's points go to the signature of the shortest length that holds them
(`model.json` gives the lengths and the contract, `trainer.ondevice_export`
writes them), one drawing a call; a drawing of more points than the longest
is cut to its first points there, as the page cuts it. The answers have the
form of `serving.predict.Predictor`'s, top k by the export's k.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from drawing.export_marker import check_complete
from serving.predict import DEFAULT_K, UNUSABLE, Points, Predictor, top_k_result
from serving.site import METADATA, no_ondevice_model, read_ondevice


class MissingOnDeviceModel(FileNotFoundError):
    """The export has no on-device model (an export of an older trainer)."""


def pack(drawing: Points, length: int) -> tuple[np.ndarray, np.ndarray]:
    """A drawing's first `length` points as the on-device model takes them.

    Returns:
      (points float32 [1, length, 3]: x, y, 1 on each stroke's last point,
      zero after the drawing; count int32 [1]). A drawing cut short ends its
      last stroke at the cut.
    """
    xs, ys, stroke_lengths = drawing
    count = min(len(xs), length)
    points = np.zeros((1, length, 3), np.float32)
    points[0, :count, 0] = np.asarray(xs[:count], np.float32)
    points[0, :count, 1] = np.asarray(ys[:count], np.float32)
    ends = np.cumsum([n for n in stroke_lengths if n > 0]) - 1
    points[0, ends[ends < count], 2] = 1.0
    points[0, count - 1, 2] = 1.0
    return points, np.array([count], np.int32)


class OnDevicePredictor(Predictor):
    """An export's on-device model; `predict` and `score` as `Predictor`'s."""

    def __init__(self, export_dir: str, int8: bool = False) -> None:
        """Raises IncompleteExport unless the export is complete, and
        MissingOnDeviceModel if it has no on-device model."""
        from ai_edge_litert.interpreter import Interpreter

        export_dir = str(export_dir)
        check_complete(export_dir, tf.io.gfile.exists, "--model")
        files = read_ondevice(export_dir, int8)
        if not files:
            raise MissingOnDeviceModel(no_ondevice_model(export_dir))
        metadata = json.loads(files[METADATA])
        [model] = metadata["models"].values()  # the variant asked for
        interpreter = Interpreter(model_content=files[model])
        self.classes = np.array(metadata["classes"], dtype=object)
        self.lengths = list(metadata["lengths"])
        self.max_k = int(metadata["k"])
        self._runners = {
            n: interpreter.get_signature_runner(metadata["signature"].format(length=n))
            for n in self.lengths
        }

    def probabilities(self, drawing: Points) -> np.ndarray | None:
        """float32 [classes] for a drawing of at least 2 points, or None
        when the model finds no usable ink (not finite numbers)."""
        length = next(
            (n for n in self.lengths if n >= len(drawing[0])), self.lengths[-1]
        )
        points, count = pack(drawing, length)
        out = self._runners[length](points=points, count=count)["probabilities"][0]
        return out if np.isfinite(out).all() else None

    def score(
        self, drawings: Sequence[Points], k: int = DEFAULT_K, batch_size: int = 0
    ) -> list[dict]:
        """`{"top_k": [...]}` for each drawing, or `{"error": ...}`; one call
        of the interpreter per drawing (`batch_size` is not used).

        Raises:
          ValueError: if k is out of range for this model.
        """
        self._check_k(k)
        results = []
        for drawing in drawings:
            out = self.probabilities(drawing) if len(drawing[0]) >= 2 else None
            if out is None:
                results.append(dict(UNUSABLE))
                continue
            # As tf.math.top_k orders ties: the lower class index first.
            top = np.argsort(-out, kind="stable")[:k]
            results.append(top_k_result(self.classes[top].tolist(), out[top]))
        return results
