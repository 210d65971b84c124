"""Drawings to show, read from ndjson lines or the pipeline's TFRecords.

A `Panel` is one drawing with its label and, for ndjson input, the raw line a
model can classify (`add_predictions`). TFRecord examples are decoded back to
strokes, so a picture of them checks the preprocessing by eye. TensorFlow is
imported only for TFRecord input and the trainer only for predictions, so
reading ndjson stays cheap.
"""

from __future__ import annotations

import dataclasses
import glob
import itertools
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from drawing import features, ink, ndjson


@dataclasses.dataclass
class Panel:
    """One drawing to show.

    Attributes:
      strokes: float [n, 2] arrays, x right, y down (as in the dataset).
      label: The true class, as shown in the title.
      line: The raw ndjson line, for predictions; None for TFRecord input.
      prediction: The model's answer for `line`, set by `add_predictions`.
    """

    strokes: list[np.ndarray]
    label: str
    line: bytes | None = None
    prediction: dict | None = None


def is_tfrecord(path: str | Path) -> bool:
    """TFRecord files are recognised by name: the pipeline writes `*.tfrecord*`."""
    name = Path(path).name
    return ".tfrecord" in name or name.endswith(".tfrecords")


def expand_inputs(patterns: Iterable[str]) -> list[Path]:
    """Expands globs and directories into files, keeping the order given.

    A directory stands for its ndjson and TFRecord files (not the classes file).

    Raises:
      FileNotFoundError: if a pattern matches nothing.
    """
    paths: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = [Path(p) for p in sorted(glob.glob(pattern))]
        elif Path(pattern).is_dir():
            matches = sorted(
                p
                for p in Path(pattern).iterdir()
                if p.is_file()
                and (p.suffix == ".ndjson" or is_tfrecord(p))
                and not p.name.endswith(".classes")
            )
        else:
            matches = [Path(pattern)] if Path(pattern).exists() else []
        if not matches:
            raise FileNotFoundError(f"no input matches {pattern!r}: check the path")
        paths.extend(m for m in matches if not m.name.endswith(".classes"))
    return paths


def record_strokes(drawing: object) -> list[np.ndarray]:
    """float [n, 2] strokes from a line's `drawing` field ([[xs], [ys], ...] each).

    Raises:
      ValueError: if a stroke's coordinates are not finite numbers.
    """
    strokes = []
    for stroke in drawing if isinstance(drawing, list) else []:
        try:
            xy = np.asarray(stroke[:2], dtype=float).T
        except (TypeError, ValueError, IndexError) as err:
            raise ValueError(f"bad stroke: {err}") from None
        if xy.ndim != 2 or xy.shape[1] != 2 or not np.isfinite(xy).all():
            raise ValueError("stroke coordinates are not finite numbers")
        if len(xy):
            strokes.append(xy)
    return strokes


def read_ndjson(path: Path, limit: int) -> Iterator[Panel]:
    """Up to `limit` drawings of one ndjson file; bad lines are skipped with a note."""
    shown = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            if shown >= limit:
                return
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                drawing = ndjson.parse_drawing(line)
                strokes = record_strokes(ndjson.loads(line).get(features.DRAWING))
            except ValueError as err:  # BadDrawing included
                print(f"{path}:{number}: skipped ({err})", file=sys.stderr)
                continue
            shown += 1
            yield Panel(strokes=strokes, label=drawing.word, line=line)


def read_classes(path: str | Path) -> list[str]:
    """The classes file: one class name per line, the line number is the index."""
    return features.parse_classes(Path(path).read_text(encoding="utf-8"))


def _find_classes_file(path: Path) -> Path | None:
    candidate = path.parent / features.CLASSES_FILE
    return candidate if candidate.is_file() else None


def read_tfrecord(
    path: Path, limit: int, classes: Sequence[str] | None = None
) -> Iterator[Panel]:
    """Up to `limit` examples of one TFRecord file, decoded back to strokes.

    The label is the example's `word` when it has one (the tutorial's records
    do not), else the class name from `classes`, else `class <index>`.
    """
    import tensorflow as tf  # heavy: only for TFRecord input

    compression = "GZIP" if path.name.endswith(".gz") else ""
    dataset = tf.data.TFRecordDataset(str(path), compression_type=compression)
    for raw in dataset.take(limit):
        example = tf.train.Example.FromString(raw.numpy())
        feats = example.features.feature
        values = np.asarray(feats[features.INK].float_list.value, dtype=np.float32)
        words = feats[features.WORD].bytes_list.value if features.WORD in feats else []
        index_list = feats[features.CLASS_INDEX].int64_list.value
        index = int(index_list[0]) if index_list else -1
        if words:
            label = words[0].decode("utf-8", "replace")
        elif classes is not None and 0 <= index < len(classes):
            label = classes[index]
        else:
            label = f"class {index}"
        yield Panel(strokes=ink.ink_to_strokes(values), label=label)


def load_panels(
    inputs: Sequence[Path], limit: int, classes_file: str | Path | None = None
) -> list[Panel]:
    """Reads up to `limit` drawings, taking them in turn from each input file.

    Taking them in turn means `render cats.ndjson dogs.ndjson --limit 8` shows
    both classes, not eight cats.
    """
    classes = read_classes(classes_file) if classes_file else None
    readers = []
    for path in inputs:
        if is_tfrecord(path):
            file_classes = classes
            if file_classes is None and (found := _find_classes_file(path)):
                file_classes = read_classes(found)
            readers.append(read_tfrecord(path, limit, file_classes))
        else:
            readers.append(read_ndjson(path, limit))
    panels: list[Panel] = []
    for row in itertools.zip_longest(*readers):
        panels.extend(p for p in row if p is not None)
        if len(panels) >= limit:
            break
    return panels[:limit]


def add_predictions(panels: Sequence[Panel], model_dir: str | Path) -> None:
    """Sets each ndjson panel's `prediction` from the model saved in `model_dir`.

    Raises:
      ValueError: if a panel came from a TFRecord (no raw line to predict on).
    """
    if any(p.line is None for p in panels):
        raise ValueError("predictions are only supported for ndjson input")
    from serving import predict  # heavy: TensorFlow, only when asked for

    # The picture shows the top class only.
    results = predict.load(model_dir).predict([p.line for p in panels], k=1)
    for panel, result in zip(panels, results, strict=True):
        panel.prediction = result
