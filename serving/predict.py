"""Classifies Quick, Draw! drawings with an exported model.

  python -m serving.predict --model EXPORT_DIR drawings.ndjson [--k 3]
      [--engine litert [--int8]]

prints one JSON line per input line: `{"key_id", "word" (when the line has
them), "top_k": [{"class", "probability"}, ...]}`, or `{"line": n, "error":
...}` for a line that is not a usable drawing; a bad line never stops the
run. `-` reads stdin. Each line is parsed once, with the pipeline's reader
and checks (`drawing.ndjson`), so it gets the pipeline's reason; the model
gets numbers through its `predict_example` signature. The Python API, for
the server and the tools: `load(export_dir)` gives a `Predictor` whose
`predict(lines, k)` takes ndjson lines and `score(drawings, k)` checked
(xs, ys, stroke_lengths) drawings. `--engine litert` scores them with the
export's on-device model instead (`serving.ondevice_predictor`), with the
same output.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # before TensorFlow's import prints its notices
    from drawing import logs

    logs.setup(sys.argv[1:], stderr_filter=True)

import dataclasses
import json
import os
from collections.abc import Iterable, Iterator, Sequence

import tensorflow as tf

from drawing import features as F
from drawing import flags, logs, ndjson, raw_example
from drawing.export_marker import IncompleteExport, check_complete
from drawing.flags import flag

DEFAULT_BATCH = 256
DEFAULT_K = 3  # classes per drawing
# Points per drawing (the server's bound too, serving.request_parser.Limits).
MAX_POINTS = 100_000
SIGNATURE = "predict_example"
NOT_USABLE = "no usable drawing: the model found no ink in it"
UNUSABLE = {"error": NOT_USABLE}
ENGINES = ("savedmodel", "litert")

# (xs, ys, points per stroke): a drawing's strokes, concatenated.
Points = tuple[Sequence[float], Sequence[float], Sequence[int]]


def read_line(line: bytes) -> tuple[dict, Points | None, str | None]:
    """A line's JSON object, its checked points, and why it cannot be scored."""
    try:
        record = ndjson.loads(line)
    except ndjson.BadDrawing as err:
        return {}, None, str(err)
    try:
        xs, ys, lengths = ndjson.flatten_strokes(record.get(F.DRAWING), MAX_POINTS)
        ndjson.checked_points(xs, ys)
    except ndjson.BadDrawing as err:
        return record, None, str(err)
    return record, (xs, ys, lengths), None


def _echo(record: dict) -> dict:
    """The line's key_id and word, as the answer repeats them."""
    echo = {}
    if F.KEY_ID in record:
        echo[F.KEY_ID] = str(record[F.KEY_ID])
    if isinstance(record.get(F.WORD), str):
        echo[F.WORD] = record[F.WORD]
    return echo


def top_k_result(names: Sequence[str], values: Sequence[float]) -> dict:
    """A usable drawing's answer: its classes, most probable first."""
    top = zip(names, values, strict=True)
    return {"top_k": [{"class": c, "probability": float(p)} for c, p in top]}


class Predictor:
    """A loaded serving model; `predict` classifies ndjson lines."""

    def __init__(self, export_dir: str) -> None:
        """Raises IncompleteExport (an OSError) unless the export is complete."""
        check_complete(str(export_dir), tf.io.gfile.exists, "--model")
        self._model = tf.saved_model.load(str(export_dir))
        self._fn = getattr(self._model, SIGNATURE)
        outputs = self._model.signatures[SIGNATURE].structured_outputs
        self.max_k = int(outputs["classes"].shape[-1])

    def _check_k(self, k: int) -> None:
        if not 1 <= k <= self.max_k:
            raise ValueError(f"k must be in 1..{self.max_k} for this model, got {k}")

    def score(
        self, drawings: Sequence[Points], k: int = DEFAULT_K, batch_size: int = 0
    ) -> list[dict]:
        """`{"top_k": [...]}` for each drawing, or `{"error": ...}`.

        Raises:
          ValueError: if k is out of range for this model.
        """
        self._check_k(k)
        batch_size = batch_size or max(len(drawings), 1)
        results: list[dict] = []
        for start in range(0, len(drawings), batch_size):
            chunk = drawings[start : start + batch_size]
            batch = [raw_example.raw_example(*d) for d in chunk]
            outputs = self._fn(tf.constant(batch, dtype=tf.string))
            classes = outputs["classes"].numpy()[:, :k]
            probabilities = outputs["probabilities"].numpy()[:, :k]
            for names, values, valid in zip(
                classes, probabilities, outputs["valid"].numpy(), strict=True
            ):
                names = [c.decode() for c in names]
                results.append(top_k_result(names, values) if valid else dict(UNUSABLE))
        return results

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
        self._check_k(k)
        read = [read_line(x.encode() if isinstance(x, str) else x) for x in lines]
        scored = iter(self.score([p for _, p, _ in read if p], k, batch_size))
        results = []
        for record, points, error in read:
            outcome = next(scored) if points else {"error": error}
            results.append({**_echo(record), **outcome})
        return results


def load(model_dir: str, engine: str = ENGINES[0], int8: bool = False) -> Predictor:
    """Loads an exported model (the `--export_dir` of `trainer.task`): its
    SavedModel, or with `engine="litert"` its on-device model (float32, or
    int8 with `int8`)."""
    if engine == "litert":
        from serving.ondevice_predictor import OnDevicePredictor

        return OnDevicePredictor(model_dir, int8=int8)
    return Predictor(model_dir)


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    """The command line's settings; each default lives here."""

    model: str = flag(help="exported model directory", required=True)
    k: int = flag(DEFAULT_K, "classes per drawing", type=int)
    batch_size: int = flag(DEFAULT_BATCH, type=int)
    engine: str = flag(
        ENGINES[0], "the export's SavedModel, or its on-device model (LiteRT)",
        choices=ENGINES,
    )  # fmt: skip
    int8: bool = flag(
        False, "with --engine litert: its int8 variant", action="store_true"
    )
    inputs: tuple[str, ...] = flag(
        (), "ndjson files (local, gs://, or -)", names=["inputs"], nargs="+"
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if self.k < 1 or self.batch_size < 1:
            raise ValueError("--k and --batch_size must be >= 1")
        if self.int8 and self.engine != "litert":
            raise ValueError("--int8 needs --engine litert")


def _read_lines(paths: Iterable[str]) -> Iterator[bytes]:
    for path in paths:
        if path == "-":
            yield from (line.rstrip(b"\r\n") for line in sys.stdin.buffer)
        else:
            with tf.io.gfile.GFile(path, "rb") as f:
                yield from (line.rstrip(b"\r\n") for line in f)


def _check_inputs(paths: Iterable[str]) -> None:
    """Each input file exists, before the model loads (not a traceback after
    the first file's predictions)."""
    for path in paths:
        if path != "-" and not tf.io.gfile.exists(path):
            raise flags.InputError(f"input {path} does not exist: name an ndjson file")


def parse_args(argv: Sequence[str] | None = None) -> PredictConfig:
    """Flags -> PredictConfig."""
    description = __doc__.split("\n\n")[0]
    return flags.parse(PredictConfig, argv, "python -m serving.predict", description)


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: one JSON line out per line in."""
    config = parse_args(argv)
    logs.setup(argv)
    # An input that is not there, or no (on-device) model: one line.
    with flags.one_line_errors("serving.predict", IncompleteExport, FileNotFoundError):
        _check_inputs(config.inputs)
        predictor = load(config.model, config.engine, config.int8)
    if config.k > predictor.max_k:
        flags.fail("serving.predict", f"--k must be in 1..{predictor.max_k}")
    number = 0
    batch: list[bytes] = []

    def flush() -> None:
        nonlocal number
        for result in predictor.predict(batch, config.k, config.batch_size):
            number += 1
            if "error" in result:
                result = {**result, "line": number}
            sys.stdout.write(json.dumps(result) + "\n")
        batch.clear()

    try:
        for line in _read_lines(config.inputs):
            batch.append(line)
            if len(batch) >= config.batch_size:
                flush()
        flush()
    except BrokenPipeError:
        # The reader stopped (`| head`): end quietly, as Python's docs advise
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
