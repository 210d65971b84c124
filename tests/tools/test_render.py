"""Pictures: ndjson and TFRecord grids, predictions, and the demo's charts."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import orjson
import pytest

import serving
from drawing import features, ink
from tests.shared_data import requires_sample
from tests.synthetic import example
from tests.tools.pictures import assert_picture
from tools import panels, render, sample, synth


@pytest.fixture(scope="module")
def ndjson_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ndjson")
    synth.write_dataset(out, 4, 5, seed=3)
    return out


def test_renders_synthetic_ndjson_from_a_glob(ndjson_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    render.main([str(ndjson_dir / "*.ndjson"), "--output", str(out), "--limit", "8"])
    assert_picture(out)


def test_panels_are_taken_in_turn_from_each_file(ndjson_dir: Path) -> None:
    paths = panels.expand_inputs([str(ndjson_dir)])
    shown = panels.load_panels(paths, limit=8)
    assert [p.label for p in shown] == sorted(synth.CLASSES[:4]) * 2
    first_line = (ndjson_dir / f"{shown[0].label}.ndjson").read_bytes().split(b"\n")[0]
    assert shown[0].line == first_line
    first = orjson.loads(first_line)
    assert [s.tolist() for s in shown[0].strokes] == [
        np.array(s).T.tolist() for s in first["drawing"]
    ]


def test_bad_lines_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = synth.to_line(next(synth.generate("circle", 1)))
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"{not json\n" + good + b"\n" + b'{"word": "x"}\n')
    shown = panels.load_panels([path], limit=5)
    assert [p.label for p in shown] == ["circle"]
    assert "skipped" in capsys.readouterr().err


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        panels.expand_inputs([str(tmp_path / "nothing*.ndjson")])


@requires_sample
def test_renders_the_real_sample(tmp_path: Path) -> None:
    out = tmp_path / "real.png"
    inputs = [
        str(sample.SAMPLE / "cat.ndjson"),
        str(sample.SAMPLE / "The Great Wall of China.ndjson"),
    ]
    render.main([*inputs, "--output", str(out), "--limit", "6", "--color_by_stroke"])
    assert_picture(out)


def _fake_predictor(monkeypatch: pytest.MonkeyPatch) -> list:
    """Stands in for serving.predict: right on circles, wrong otherwise, one error."""
    calls: list = []

    class Model:
        def predict(self, lines, k=3):
            calls.append((list(lines), k))
            out = []
            for i, line in enumerate(lines):
                word = orjson.loads(line)["word"]
                guess = word if word == "circle" else "circle"
                top = [{"class": guess, "probability": 0.8}]
                out.append({"error": "bad drawing"} if i == 1 else {"top_k": top})
            return out

    fake = types.ModuleType("serving.predict")
    fake.load = lambda model_dir: Model()
    monkeypatch.setitem(sys.modules, "serving.predict", fake)
    monkeypatch.setattr(serving, "predict", fake, raising=False)
    return calls


def test_predictions_are_shown_for_ndjson(
    ndjson_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_predictor(monkeypatch)
    out = tmp_path / "pred.png"
    args = [str(ndjson_dir), "--output", str(out), "--limit", "6", "--model", "m"]
    render.main(args)
    assert_picture(out)
    assert len(calls) == 1 and len(calls[0][0]) == 6
    assert all(isinstance(line, bytes) for line in calls[0][0])


def test_prediction_text_colours() -> None:
    right = panels.Panel(
        [], "cat", b"", {"top_k": [{"class": "cat", "probability": 0.9}]}
    )
    wrong = panels.Panel(
        [], "cat", b"", {"top_k": [{"class": "dog", "probability": 0.6}]}
    )
    error = panels.Panel([], "cat", b"", {"error": "unparseable"})
    assert render.prediction_text(right) == ("cat 90%", render.RIGHT)
    assert render.prediction_text(wrong) == ("dog 60%", render.WRONG)
    assert render.prediction_text(error)[1] == render.NEUTRAL


# --------------------------------------------------------------------------
# TFRecord input.


def _points(record: dict) -> tuple[np.ndarray, np.ndarray, list[int]]:
    strokes = [np.array(s[:2], dtype=np.float32).T for s in record["drawing"]]
    lengths = [len(s) for s in strokes]
    pen_up = np.zeros(sum(lengths), np.float32)
    pen_up[np.cumsum(lengths) - 1] = 1
    return np.concatenate(strokes), pen_up, lengths


@pytest.fixture(scope="module")
def tfrecords(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """A small TFRecord like the pipeline's; the first example has no `word`."""
    tf = pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp("records")
    classes = list(synth.CLASSES[:3])
    (out / features.CLASSES_FILE).write_text("\n".join(classes) + "\n")
    records = [r for c in classes for r in synth.generate(c, 2, seed=9)]
    path = out / f"{features.TRAIN_PREFIX}-00000-of-00001"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i, r in enumerate(records):
            points, pen_up, _ = _points(r)
            delta = ink.normalize_and_delta(points, pen_up)
            record = example(
                delta,
                classes.index(r["word"]),
                r["key_id"],
                word=r["word"] if i > 0 else None,
            )
            writer.write(record.SerializeToString())
    return path, records


def test_tfrecord_strokes_match_the_normalised_drawing(tfrecords) -> None:
    path, records = tfrecords
    shown = panels.load_panels([path], limit=len(records))
    assert [p.label for p in shown] == [r["word"] for r in records]
    assert all(p.line is None for p in shown)
    for panel, record in zip(shown, records, strict=True):
        points, _, lengths = _points(record)
        lower = points.min(0)
        scale = points.max(0) - lower
        scale[scale == 0] = 1
        normalised = (points - lower) / scale
        decoded = np.concatenate(panel.strokes)
        assert decoded.shape == normalised.shape
        np.testing.assert_allclose(decoded, normalised - normalised[0], atol=1e-5)
        if lengths[0] > 1:  # a leading one-point stroke merges with the next
            assert [len(s) for s in panel.strokes] == lengths


def test_tfrecord_labels_come_from_the_classes_file(tfrecords, tmp_path: Path) -> None:
    path, records = tfrecords
    names = tmp_path / "names.txt"
    names.write_text("zero\none\ntwo\n")
    panel = panels.load_panels([path], limit=1, classes_file=names)[0]
    assert (
        panel.label == ["zero", "one", "two"][synth.CLASSES.index(records[0]["word"])]
    )
    # Without a classes file, the one beside the records is used.
    assert panels.load_panels([path], limit=1)[0].label == records[0]["word"]


def test_renders_tfrecords(tfrecords, tmp_path: Path) -> None:
    path, _ = tfrecords
    out = tmp_path / "records.png"
    pattern = str(path.parent / f"{features.TRAIN_PREFIX}-*")
    render.main([pattern, "--output", str(out), "--cols", "3", "--color_by_stroke"])
    assert_picture(out)


def test_predictions_need_ndjson(tfrecords, tmp_path: Path) -> None:
    path, _ = tfrecords
    with pytest.raises(SystemExit, match="ndjson"):
        render.main([str(path), "--output", str(tmp_path / "x.png"), "--model", "m"])
