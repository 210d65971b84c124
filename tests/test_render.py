"""Pictures: ndjson and TFRecord grids, predictions, and the demo's charts."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import matplotlib.image
import numpy as np
import orjson
import pytest

import trainer
from pipeline import features, ink, render, synth

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLE = SHARED / "quickdraw_sample"


def assert_picture(path: Path, min_w: int = 150, min_h: int = 150) -> np.ndarray:
    """The PNG exists, has a sensible size and is not blank."""
    assert path.is_file()
    image = matplotlib.image.imread(path)
    h, w = image.shape[:2]
    assert min_w <= w <= 6000 and min_h <= h <= 8000, (w, h)
    gray = image[..., :3].mean(axis=2)
    assert gray.std() > 0.02  # something was drawn
    assert (gray < 0.5).mean() > 0.001  # dark ink or text, not only pale frames
    return image


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
    paths = render.expand_inputs([str(ndjson_dir)])
    panels = render.load_panels(paths, limit=8)
    assert [p.label for p in panels] == sorted(synth.CLASSES[:4]) * 2
    first_line = (ndjson_dir / f"{panels[0].label}.ndjson").read_bytes().split(b"\n")[0]
    assert panels[0].line == first_line
    first = orjson.loads(first_line)
    assert [s.tolist() for s in panels[0].strokes] == [
        np.array(s).T.tolist() for s in first["drawing"]
    ]


def test_bad_lines_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = synth.to_line(next(synth.generate("circle", 1)))
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"{not json\n" + good + b"\n" + b'{"word": "x"}\n')
    panels = render.load_panels([path], limit=5)
    assert [p.label for p in panels] == ["circle"]
    assert "skipped" in capsys.readouterr().err


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        render.expand_inputs([str(tmp_path / "nothing*.ndjson")])


@pytest.mark.skipif(
    not SAMPLE.is_dir(), reason=f"real Quick, Draw! sample not found at {SAMPLE}"
)
def test_renders_the_real_sample(tmp_path: Path) -> None:
    out = tmp_path / "real.png"
    inputs = [
        str(SAMPLE / "cat.ndjson"),
        str(SAMPLE / "The Great Wall of China.ndjson"),
    ]
    render.main([*inputs, "--output", str(out), "--limit", "6", "--color_by_stroke"])
    assert_picture(out)


def _fake_predictor(monkeypatch: pytest.MonkeyPatch) -> list:
    """Stands in for trainer.predict: right on circles, wrong otherwise, one error."""
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

    fake = types.ModuleType("trainer.predict")
    fake.load = lambda model_dir: Model()
    monkeypatch.setitem(sys.modules, "trainer.predict", fake)
    monkeypatch.setattr(trainer, "predict", fake, raising=False)
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
    right = render.Panel(
        [], "cat", b"", {"top_k": [{"class": "cat", "probability": 0.9}]}
    )
    wrong = render.Panel(
        [], "cat", b"", {"top_k": [{"class": "dog", "probability": 0.6}]}
    )
    error = render.Panel([], "cat", b"", {"error": "unparseable"})
    assert render._prediction_text(right) == ("cat 90%", render._RIGHT)
    assert render._prediction_text(wrong) == ("dog 60%", render._WRONG)
    assert render._prediction_text(error)[1] == render._NEUTRAL


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
            feats = {
                features.INK: tf.train.Feature(
                    float_list=tf.train.FloatList(value=delta.ravel())
                ),
                features.SHAPE: tf.train.Feature(
                    int64_list=tf.train.Int64List(value=delta.shape)
                ),
                features.CLASS_INDEX: tf.train.Feature(
                    int64_list=tf.train.Int64List(value=[classes.index(r["word"])])
                ),
                features.KEY_ID: tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[r["key_id"].encode()])
                ),
            }
            if i > 0:
                feats[features.WORD] = tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[r["word"].encode()])
                )
            example = tf.train.Example(features=tf.train.Features(feature=feats))
            writer.write(example.SerializeToString())
    return path, records


def test_tfrecord_strokes_match_the_normalised_drawing(tfrecords) -> None:
    path, records = tfrecords
    panels = render.load_panels([path], limit=len(records))
    assert [p.label for p in panels] == [r["word"] for r in records]
    assert all(p.line is None for p in panels)
    for panel, record in zip(panels, records, strict=True):
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
    panel = render.load_panels([path], limit=1, classes_file=names)[0]
    assert (
        panel.label == ["zero", "one", "two"][synth.CLASSES.index(records[0]["word"])]
    )
    # Without a classes file, the one beside the records is used.
    assert render.load_panels([path], limit=1)[0].label == records[0]["word"]


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


# --------------------------------------------------------------------------
# Charts.


def _stats(num_classes: int) -> dict:
    rng = np.random.default_rng(0)
    names = [f"class {i}" for i in range(num_classes)]
    return {
        "lines_read": 12345,
        "written": {"train": 9000, "eval": 1000},
        "dropped_by_cap": {"train": 10, "eval": 0},
        "filtered": 300,
        "rejected": {"malformed_json": 3, "single_point": 7},
        "per_class": {
            n: {"train": int(rng.integers(50, 500)), "eval": int(rng.integers(5, 50))}
            for n in names
        },
        "point_length_histogram": {
            "bin_edges": [0, 10, 20, 40, 80, 160, 320],
            "counts": [5, 120, 400, 300, 90, 12],
        },
    }


@pytest.mark.parametrize("num_classes", [5, 345])
def test_plot_stats(tmp_path: Path, num_classes: int) -> None:
    out = render.plot_stats(_stats(num_classes), tmp_path / "stats.png")
    assert_picture(out, 500, 300)


def test_plot_stats_tolerates_missing_keys(tmp_path: Path) -> None:
    assert_picture(render.plot_stats({}, tmp_path / "empty.png"), 500, 300)
    partial = {"per_class": {"cat": {"train": 3}}, "point_length_histogram": {}}
    assert_picture(render.plot_stats(partial, tmp_path / "partial.png"), 500, 300)


def test_plot_history(tmp_path: Path) -> None:
    history = {
        "loss": [2.3, 1.5, 1.1, 0.9],
        "val_loss": [2.0, 1.6, 1.3, 1.2],
        "accuracy": [0.2, 0.5, 0.65, 0.7],
        "val_accuracy": [0.3, 0.5, 0.6, 0.62],
        "top_3_accuracy": [0.4, 0.7, 0.85, 0.9],
        "val_top_3_accuracy": [0.5, 0.7, 0.8, 0.82],
        "learning_rate": [1e-3, 1e-3, 5e-4, 2.5e-4],
    }
    assert_picture(render.plot_history(history, tmp_path / "history.png"), 400, 300)
    assert_picture(render.plot_history({}, tmp_path / "no_history.png"), 200, 150)


def test_plot_confusion(tmp_path: Path) -> None:
    def strokes(word: str) -> list[np.ndarray]:
        record = next(synth.generate(word, 1))
        return [np.array(s).T for s in record["drawing"]]

    report = {
        "confused_pairs": [
            {"true": "circle", "predicted": "hexagon", "count": 12},
            {"true": "house", "predicted": "square", "count": 5},
            {"true": "smiley face", "predicted": "circle", "count": 3},
            {"true": "zigzag", "predicted": "lightning", "count": 2},
            {"true": "mystery", "predicted": "circle", "count": 1},
        ]
    }
    words = ["circle", "hexagon", "house", "square", "smiley face", "zigzag"]
    examples: dict[str, object] = {w: strokes(w) for w in words}
    examples["lightning"] = [strokes("lightning"), strokes("lightning")]  # several
    out = render.plot_confusion(report, examples, tmp_path / "confusion.png")
    assert_picture(out, 400, 300)
    assert_picture(render.plot_confusion({}, {}, tmp_path / "none.png"), 200, 100)
