"""The synthetic dataset: deterministic, valid, dataset-like and learnable."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import orjson
import pytest

from drawing import ink, ndjson
from tools import synth

NUM_CLASSES = len(synth.CLASSES)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return synth.write_dataset(
        tmp_path_factory.mktemp("synth"), NUM_CLASSES, 30, seed=7
    )


def _records(paths: list[Path]) -> list[dict]:
    return [orjson.loads(line) for p in paths for line in p.read_bytes().splitlines()]


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    first = synth.write_dataset(tmp_path / "a", 4, 6, seed=11)
    again = synth.write_dataset(tmp_path / "b", 4, 6, seed=11)
    other = synth.write_dataset(tmp_path / "c", 4, 6, seed=12)
    for a, b, c in zip(first, again, other, strict=True):
        assert a.name == b.name == c.name
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()


def test_a_class_file_does_not_depend_on_how_many_classes_or_drawings(
    tmp_path: Path,
) -> None:
    # Each drawing has its own generator, so smaller datasets are prefixes.
    small = synth.write_dataset(tmp_path / "small", 2, 3, seed=5)
    big = synth.write_dataset(tmp_path / "big", 5, 6, seed=5)
    for s, b in zip(small, big, strict=False):
        assert b.read_bytes().startswith(s.read_bytes())


def test_one_file_per_class_in_order(dataset: list[Path]) -> None:
    assert [p.name for p in dataset] == [f"{c}.ndjson" for c in synth.CLASSES]
    assert len(synth.write_dataset(dataset[0].parent / "three", 3, 1)) == 3


@pytest.mark.parametrize("bad", [0, NUM_CLASSES + 1])
def test_rejects_impossible_class_counts(tmp_path: Path, bad: int) -> None:
    with pytest.raises(ValueError, match="num_classes"):
        synth.write_dataset(tmp_path, bad, 1)


def test_every_line_passes_the_pipeline_parser(dataset: list[Path]) -> None:
    for path in dataset:
        lines = path.read_bytes().split(b"\n")
        assert lines[-1] == b""  # newline-terminated, no blank lines inside
        for line in lines[:-1]:
            drawing = ndjson.parse_drawing(
                line, {c: i for i, c in enumerate(synth.CLASSES)}
            )
            assert drawing.word == path.stem
            encoded = ink.drawing_to_ink(drawing)  # also checks the values
            assert encoded.shape == (drawing.num_points - 1, 3)


def test_fields_look_like_the_dataset(dataset: list[Path]) -> None:
    records = _records(dataset)
    timestamp = re.compile(r"^2017-\d\d-\d\d \d\d:\d\d:\d\d\.\d{5} UTC$")
    for r in records:
        assert list(r) == [
            "word",
            "countrycode",
            "timestamp",
            "recognized",
            "key_id",
            "drawing",
        ]
        assert re.fullmatch(r"[A-Z]{2}", r["countrycode"])
        assert timestamp.match(r["timestamp"]), r["timestamp"]
        assert isinstance(r["recognized"], bool)
        assert re.fullmatch(r"\d{16}", r["key_id"])
    key_ids = [r["key_id"] for r in records]
    assert len(set(key_ids)) == len(key_ids)
    assert any(not r["recognized"] for r in records)  # like the real data


def test_coordinates_are_fitted_ints_in_the_canvas(dataset: list[Path]) -> None:
    for r in _records(dataset):
        xs = [v for stroke in r["drawing"] for v in stroke[0]]
        ys = [v for stroke in r["drawing"] for v in stroke[1]]
        assert all(type(v) is int and 0 <= v <= 255 for v in xs + ys)
        # Aligned to the top-left corner, the longer side scaled to 255.
        assert min(xs) == 0 and min(ys) == 0
        assert max(max(xs), max(ys)) == 255


def test_point_and_stroke_counts_are_realistic(dataset: list[Path]) -> None:
    records = _records(dataset)
    points = np.array([sum(len(s[0]) for s in r["drawing"]) for r in records])
    strokes = np.array([len(r["drawing"]) for r in records])
    assert points.min() >= 4 and points.max() <= 250
    assert 10 <= np.median(points) <= 100
    assert (strokes == 1).any() and (strokes >= 3).any()
    assert 1.3 <= strokes.mean() <= 6


def test_cli_writes_the_files(tmp_path: Path) -> None:
    synth.main(["--output", str(tmp_path), "--classes", "2", "--per_class", "3"])
    files = sorted(tmp_path.glob("*.ndjson"))
    assert [f.stem for f in files] == sorted(synth.CLASSES[:2])
    assert all(len(f.read_bytes().splitlines()) == 3 for f in files)


def _raster(record: dict, size: int = 12) -> np.ndarray:
    """A coarse image of the drawing: ink density on a size x size grid."""
    image = np.zeros((size, size))
    for xs, ys in record["drawing"]:
        xy = np.array([xs, ys], dtype=float).T / 256.0
        if len(xy) > 1:  # points along each segment, not only the vertices
            t = np.linspace(0, 1, 8)[:, None, None]
            xy = (xy[:-1] + t * (xy[1:] - xy[:-1])).reshape(-1, 2)
        cells = np.minimum((xy * size).astype(int), size - 1)
        np.add.at(image, (cells[:, 1], cells[:, 0]), 1.0)
    return np.minimum(image, 3.0).ravel() / 3.0


def _features(seed: int, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for label, word in enumerate(synth.CLASSES):
        for r in synth.generate(word, per_class, seed):
            rows.append(np.append(_raster(r), min(len(r["drawing"]), 6) / 6))
            labels.append(label)
    return np.array(rows), np.array(labels)


def test_classes_are_learnable_but_not_trivial() -> None:
    """Softmax regression on a coarse raster clearly beats chance, short of 100 %."""
    x_train, y_train = _features(seed=0, per_class=60)
    x_test, y_test = _features(seed=1, per_class=30)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    weights = np.zeros((x_train.shape[1], NUM_CLASSES))
    onehot = np.eye(NUM_CLASSES)[y_train]
    for _ in range(200):
        logits = x_train @ weights
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        grad = x_train.T @ (probs - onehot) / len(x_train) + 1e-3 * weights
        weights -= 0.5 * grad
    accuracy = float(((x_test @ weights).argmax(1) == y_test).mean())
    chance = 1 / NUM_CLASSES
    assert accuracy > 4 * chance, accuracy
    assert accuracy < 0.98, accuracy
