"""The tools tests' inputs: a synthetic ndjson folder, and a small TFRecord
like the pipeline's (its fixtures are in tests/tools/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drawing import features, ink
from tests.synthetic import example
from tools import synth


def record_points(record: dict) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(points, pen-up bits, points per stroke) of an ndjson record."""
    strokes = [np.array(s[:2], dtype=np.float32).T for s in record["drawing"]]
    lengths = [len(s) for s in strokes]
    pen_up = np.zeros(sum(lengths), np.float32)
    pen_up[np.cumsum(lengths) - 1] = 1
    return np.concatenate(strokes), pen_up, lengths


def write_records(out: Path) -> tuple[Path, list[dict]]:
    """Six synthetic drawings of three classes as one training shard, with the
    classes file beside it; the first example has no `word`."""
    import tensorflow as tf

    classes = list(synth.CLASSES[:3])
    (out / features.CLASSES_FILE).write_text("\n".join(classes) + "\n")
    records = [r for c in classes for r in synth.generate(c, 2, seed=9)]
    path = out / f"{features.TRAIN_PREFIX}-00000-of-00001"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i, r in enumerate(records):
            points, pen_up, _ = record_points(r)
            delta = ink.normalize_and_delta(points, pen_up)
            record = example(
                delta,
                classes.index(r["word"]),
                r["key_id"],
                word=r["word"] if i > 0 else None,
            )
            writer.write(record.SerializeToString())
    return path, records
