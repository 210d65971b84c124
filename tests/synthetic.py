"""Synthetic drawings, ndjson lines and records for the tests: the one helper.

Two kinds of drawing: `random_line` is a valid drawing of random points (for
tests that count lines, splits and rejections), and `draw` is a noisy, rotated
shape of one of `CLASSES`, which a tiny model tells apart after a few hundred
steps (for tests that train). `example` builds a training record with
tf.train.Example itself, field by field, so it is also the reference that the
pipeline's hand-assembled bytes are held against. `pack` writes a drawing in
Google's binary layout (`binary_drawings`: a whole `<class>.bin`), which only
the tests and the benchmarks write.
"""

from __future__ import annotations

import datetime
import json
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import orjson

from drawing import binary
from drawing import features as F
from drawing.ink import normalize_and_delta

CLASSES = ("line", "circle", "zigzag", "square")


def random_line(word: str, key_id: str, rng: np.random.Generator) -> bytes:
    """One ndjson line: 1-3 strokes of 2-11 random canvas points."""
    strokes = []
    for _ in range(rng.integers(1, 4)):
        n = int(rng.integers(2, 12))
        strokes.append(
            [rng.integers(0, 256, n).tolist(), rng.integers(0, 256, n).tolist()]
        )
    return orjson.dumps({F.WORD: word, F.KEY_ID: key_id, F.DRAWING: strokes})


def random_file(path: Path, word: str, n: int, start_key: int) -> None:
    """`n` random drawings of `word`, key_ids from `start_key` on."""
    rng = np.random.default_rng(start_key)
    lines = [random_line(word, str(start_key + i), rng) for i in range(n)]
    path.write_bytes(b"\n".join(lines) + b"\n")


def unix_seconds(timestamp: str | None) -> int:
    """The ndjson's "2017-03-02 23:25:10.07453 UTC" as the binary's uint32."""
    if not timestamp:
        return 0
    when = datetime.datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S.%f UTC")
    return int(when.replace(tzinfo=datetime.UTC).timestamp())


class Strokes(NamedTuple):
    """One binary drawing as the file holds it; strokes are (xs, ys) bytes."""

    key_id: int
    countrycode: bytes
    recognized: int
    timestamp: int
    strokes: tuple[tuple[bytes, bytes], ...]


_U16 = struct.Struct("<H")


def pack(drawing: Strokes) -> bytes:
    """The bytes of one drawing in Google's binary layout (`drawing.binary`)."""
    parts = [
        binary.HEADER.pack(
            drawing.key_id,
            drawing.countrycode,
            drawing.recognized,
            drawing.timestamp,
            len(drawing.strokes),
        )
    ]
    for xs, ys in drawing.strokes:
        if len(xs) != len(ys):
            raise ValueError(f"{len(xs)} x vs {len(ys)} y")
        parts += [_U16.pack(len(xs)), bytes(xs), bytes(ys)]
    return b"".join(parts)


def from_record(record: Mapping, timestamp: int = 0) -> Strokes:
    """A simplified ndjson record (decoded) as its binary drawing, for writers.

    The ndjson `timestamp` is a date string; the binary one is Unix seconds,
    which the caller gives (records do not use it).
    """
    strokes: Sequence = record[F.DRAWING]
    return Strokes(
        key_id=int(record[F.KEY_ID]),
        countrycode=str(record.get("countrycode", "")).encode().ljust(2, b"\0")[:2],
        recognized=int(record.get(F.RECOGNIZED, True) is not False),
        timestamp=timestamp,
        strokes=tuple((bytes(s[0]), bytes(s[1])) for s in strokes),
    )


def binary_drawings(lines: Sequence[bytes]) -> bytes:
    """ndjson lines as the bytes of a `<class>.bin` file, in Google's layout."""
    return b"".join(
        pack(from_record(r, unix_seconds(r.get("timestamp"))))
        for r in map(orjson.loads, lines)
    )


def draw(label: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes (int canvas points [n, 2]) of one noisy, rotated shape."""
    n = int(rng.integers(8, 40))
    t = np.linspace(0, 1, n)
    if CLASSES[label] == "line":
        strokes = [np.stack([t, 0.1 * t], 1)]
    elif CLASSES[label] == "circle":
        a = 2 * np.pi * t
        strokes = [np.stack([np.cos(a), np.sin(a)], 1)]
    elif CLASSES[label] == "zigzag":
        strokes = [np.stack([t, (np.arange(n) % 2) * 0.3], 1)]
    else:
        corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], float)
        split = int(rng.integers(2, 4))
        strokes = [corners[: split + 1], corners[split:]]
    angle = rng.uniform(-0.3, 0.3)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    scale = rng.uniform(50, 250)
    return [
        np.rint((s @ rot.T + rng.normal(0, 0.01, s.shape)) * scale + 300).astype(int)
        for s in strokes
    ]


def to_ink(strokes: list[np.ndarray]) -> np.ndarray:
    """The pipeline's ink of canvas strokes."""
    points = np.concatenate(strokes).astype(np.float32)
    pen_up = np.zeros(len(points), np.float32)
    pen_up[np.cumsum([len(s) for s in strokes]) - 1] = 1
    return normalize_and_delta(points, pen_up)


def ndjson_line(strokes: list[np.ndarray], label: int, key_id: str) -> str:
    """A Quick, Draw! line of one `draw`n shape."""
    drawing = [[s[:, 0].tolist(), s[:, 1].tolist()] for s in strokes]
    return json.dumps({F.WORD: CLASSES[label], F.KEY_ID: key_id, F.DRAWING: drawing})


def example(
    ink: np.ndarray,
    class_index: int,
    key_id: str | None = None,
    recognized: bool | None = None,
    word: str | None = None,
):
    """A training record built with tf.train.Example; None leaves a field out
    (the tutorial's records have no key_id)."""
    import tensorflow as tf

    def ints(values) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def text(value: str) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))

    feature = {
        F.INK: tf.train.Feature(float_list=tf.train.FloatList(value=ink.ravel())),
        F.SHAPE: ints(ink.shape),
        F.CLASS_INDEX: ints([class_index]),
    }
    if key_id is not None:
        feature[F.KEY_ID] = text(key_id)
    if recognized is not None:
        feature[F.RECOGNIZED] = ints([int(recognized)])
    if word is not None:
        feature[F.WORD] = text(word)
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_records(
    out: Path, train: int, evals: int, tutorial_format: bool = False, seed: int = 0
) -> Path:
    """Training and eval shards of `draw`n shapes in our record layout (or the
    tutorial's, without key_id), with the classes file, in `out`."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / F.CLASSES_FILE).write_text("".join(f"{c}\n" for c in CLASSES))
    splits = {F.TRAIN_PREFIX: (train, 2), F.EVAL_PREFIX: (evals, 1)}
    for prefix, (count, shards) in splits.items():
        writers = [
            tf.io.TFRecordWriter(str(out / f"{prefix}-{i:05d}-of-{shards:05d}"))
            for i in range(shards)
        ]
        for i in range(count):
            label = i % len(CLASSES)
            key = None if tutorial_format else f"{prefix}-{i}"
            record = example(to_ink(draw(label, rng)), label, key)
            writers[i % shards].write(record.SerializeToString())
        for w in writers:
            w.close()
    return out
