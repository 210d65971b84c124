"""Pictures: ndjson and TFRecord grids, with predictions (the panels they are
made of: test_panels.py)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import orjson
import pytest

import serving
from drawing import features
from tests.shared_data import requires_sample
from tests.tools.pictures import assert_picture
from tools import panels, render, sample


def test_renders_synthetic_ndjson_from_a_glob(ndjson_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    render.main([str(ndjson_dir / "*.ndjson"), "--output", str(out), "--limit", "8"])
    assert_picture(out)


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
