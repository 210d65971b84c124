"""The tutorial's `create_dataset.py` conversion, transcribed as plainly as possible.

This is the oracle of the format family's arithmetic (docs/layout.md): the
ink of `drawing.ink`, and so of every record, is held to it bit for bit by
tests/drawing/test_ink.py on every real drawing, and tests/pipeline/test_main.py
reads the pipeline's shards as the tutorial does and compares each ink with
it. It is also the single-process baseline of the benchmarks in `bench/`;
people comparing our records with the tutorial's can use it too. It keeps
the tutorial's per-stroke loop, `json.loads` and literal feature names on
purpose; only the infinite retry loop on a bad line is gone (it returns None
instead). Do not optimise this file.
"""

from __future__ import annotations

import json

import numpy as np


def tutorial_parse_line(
    ndjson_line: str | bytes,
) -> tuple[np.ndarray | None, str | None]:
    """`parse_line` from the tutorial's published `create_dataset.py`."""
    sample = json.loads(ndjson_line)
    class_name = sample["word"]
    if not class_name:
        return None, None
    inkarray = sample["drawing"]
    stroke_lengths = [len(stroke[0]) for stroke in inkarray]
    total_points = sum(stroke_lengths)
    np_ink = np.zeros((total_points, 3), dtype=np.float32)
    current_t = 0
    if not inkarray:
        return None, None
    for stroke in inkarray:
        if len(stroke[0]) != len(stroke[1]):
            return None, None
        for i in [0, 1]:
            np_ink[current_t : (current_t + len(stroke[0])), i] = stroke[i]
        current_t += len(stroke[0])
        np_ink[current_t - 1, 2] = 1  # stroke_end
    # Preprocessing.
    # 1. Size normalization.
    lower = np.min(np_ink[:, 0:2], axis=0)
    upper = np.max(np_ink[:, 0:2], axis=0)
    scale = upper - lower
    scale[scale == 0] = 1
    np_ink[:, 0:2] = (np_ink[:, 0:2] - lower) / scale
    # 2. Compute deltas.
    np_ink[1:, 0:2] -= np_ink[0:-1, 0:2]
    np_ink = np_ink[1:, :]
    return np_ink, class_name


def tutorial_example(ink: np.ndarray, class_index: int):
    """The tutorial's tf.train.Example for one drawing (imports TF lazily)."""
    import tensorflow as tf

    features = {
        "class_index": tf.train.Feature(
            int64_list=tf.train.Int64List(value=[class_index])
        ),
        "ink": tf.train.Feature(float_list=tf.train.FloatList(value=ink.flatten())),
        "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=ink.shape)),
    }
    return tf.train.Example(features=tf.train.Features(feature=features))
