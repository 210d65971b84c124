"""Classifies Quick, Draw! ndjson lines with an exported model.

  python -m trainer.predict --model EXPORT_DIR drawings.ndjson [--k 3]

prints one JSON line per input line, in order:
`{"key_id": ..., "word": ... (when the line has one), "top_k": [{"class": ...,
"probability": ...}, ...]}`, or `{"line": n, "error": ...}` (plus `key_id`
when there is one) for a line that is not a usable drawing: one bad line never
stops the run. `-` reads stdin.

The Python API, for tools that render predictions:

  predictor = trainer.predict.load(export_dir)
  predictor.predict(lines, k=3)  # -> list of dicts as above, without "line"

The drawing is parsed and encoded by the SavedModel's `predict_ndjson`
signature itself (see `trainer.export`), so this exercises exactly what a
served model does; Python only reads key_id/word and words the errors.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # before TensorFlow's import prints its notices
    from pipeline import logs

    logs.setup(sys.argv[1:], stderr_filter=True)

import argparse
import json
from collections.abc import Iterable, Iterator, Sequence

import tensorflow as tf

from pipeline import features as F
from pipeline import logs
from pipeline.ink import BadDrawing, loads

DEFAULT_BATCH = 256
DEFAULT_K = 3  # classes per drawing


def _json_object(line: bytes) -> tuple[dict | None, str | None]:
    """The line's JSON object, or the pipeline's reason why it is not one."""
    try:
        return loads(line), None
    except BadDrawing as err:
        return None, str(err)


class Predictor:
    """A loaded serving model; `predict` classifies ndjson lines."""

    def __init__(self, export_dir: str) -> None:
        self._model = tf.saved_model.load(str(export_dir))
        self._fn = self._model.predict_ndjson
        outputs = self._model.signatures["predict_ndjson"].structured_outputs
        self.max_k = int(outputs["classes"].shape[-1])

    def predict(
        self,
        lines: Sequence[bytes | str],
        k: int = DEFAULT_K,
        batch_size: int = DEFAULT_BATCH,
    ) -> list[dict]:
        """Top-k classes of each line's drawing, or an error for that line.

        Args:
          lines: ndjson lines (bytes or str), without the trailing newline.
          k: Classes per drawing, at most the model's exported top-k.

        Raises:
          ValueError: if k is out of range for this model.
        """
        if not 1 <= k <= self.max_k:
            raise ValueError(f"k must be in 1..{self.max_k} for this model, got {k}")
        encoded = [
            line.encode() if isinstance(line, str) else bytes(line) for line in lines
        ]
        results: list[dict] = []
        for start in range(0, len(encoded), batch_size):
            batch = encoded[start : start + batch_size]
            outputs = self._fn(tf.constant(batch, dtype=tf.string))
            classes = outputs["classes"].numpy()
            probabilities = outputs["probabilities"].numpy()
            valid = outputs["valid"].numpy()
            for i, line in enumerate(batch):
                results.append(
                    self._result(line, classes[i], probabilities[i], bool(valid[i]), k)
                )
        return results

    @staticmethod
    def _result(line: bytes, classes, probabilities, valid: bool, k: int) -> dict:
        record, error = _json_object(line)
        result: dict = {}
        if record is not None:
            if F.KEY_ID in record:
                result[F.KEY_ID] = str(record[F.KEY_ID])
            if isinstance(record.get(F.WORD), str):
                result[F.WORD] = record[F.WORD]
        if error is None and not valid:
            error = (
                "no usable drawing: `drawing` must be a list of [xs, ys] strokes of "
                "numbers, xs and ys of equal length, with at least 2 points"
            )
        if error is not None:
            result["error"] = error
            return result
        result["top_k"] = [
            {"class": c.decode(), "probability": float(p)}
            for c, p in zip(classes[:k], probabilities[:k], strict=True)
        ]
        return result


def load(model_dir: str) -> Predictor:
    """Loads an exported model (the `--export_dir` of `trainer.task`)."""
    return Predictor(model_dir)


def _read_lines(paths: Iterable[str]) -> Iterator[bytes]:
    for path in paths:
        if path == "-":
            stream = sys.stdin.buffer
            yield from (line.rstrip(b"\r\n") for line in stream)
        else:
            with tf.io.gfile.GFile(path, "rb") as f:
                yield from (line.rstrip(b"\r\n") for line in f)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.predict", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", required=True, help="exported model directory")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="classes per drawing")
    parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("inputs", nargs="+", help="ndjson files (local, gs://, or -)")
    parser.add_argument(logs.VERBOSE_FLAG, action="store_true", help=logs.VERBOSE_HELP)
    args = parser.parse_args(argv)
    logs.setup(argv)
    predictor = load(args.model)
    if not 1 <= args.k <= predictor.max_k:
        parser.error(f"--k must be in 1..{predictor.max_k} for this model")
    number = 0
    batch: list[bytes] = []

    def flush() -> None:
        nonlocal number
        for result in predictor.predict(batch, args.k, args.batch_size):
            number += 1
            if "error" in result:
                result = {**result, "line": number}
            sys.stdout.write(json.dumps(result) + "\n")
        batch.clear()

    for line in _read_lines(args.inputs):
        batch.append(line)
        if len(batch) >= args.batch_size:
            flush()
    flush()


if __name__ == "__main__":
    main()
