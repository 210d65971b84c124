"""`serving.predict`: each line read once, the model handed numbers.

An untrained model is enough: these tests compare the exported model's two
ways in (`predict_example`, which `serving.predict` uses, and
`predict_ndjson`, which parses lines in the graph for stock TF Serving) and
what the command line makes of bad lines.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from drawing import features as F
from drawing import ndjson
from serving import predict
from tests.product import REPO, product_env

pytestmark = pytest.mark.slow  # exports a model

DRAWING = b"[[[10,20,30],[5,6,7]],[[1,2],[3,4]]]"
PLAIN_LINE = b'{"word":"cat","key_id":"7","drawing":' + DRAWING + b"}"
CLASSES = ["a", "b", "c", "d", "e"]


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """An untrained model of five classes, exported with every signature."""
    from trainer.config import ModelConfig
    from trainer.export import export_model
    from trainer.model import build_model

    config = ModelConfig(
        num_classes=5, num_layers=1, num_nodes=8, num_conv=(8,), conv_len=(3,)
    )
    path = tmp_path_factory.mktemp("export")
    export_model(build_model(config), CLASSES, str(path), top_k=5)
    return path


def _lines(n: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        strokes = [
            [rng.integers(0, 256, k).tolist(), rng.integers(0, 256, k).tolist()]
            for k in rng.integers(2, 30, rng.integers(1, 4))
        ]
        record = {"key_id": str(i), "word": "a", "drawing": strokes}
        lines.append(json.dumps(record).encode())
    return lines


def test_lines_read_once_score_as_predict_ndjson_does(export, monkeypatch):
    lines = _lines(40, seed=3)
    reads = []
    original = ndjson.loads

    def counted(line: bytes) -> dict:
        reads.append(line)
        return original(line)

    monkeypatch.setattr(ndjson, "loads", counted)
    results = predict.load(str(export)).predict(lines, k=5, batch_size=16)
    assert reads == lines  # each line parsed once, in order
    signature = tf.saved_model.load(str(export)).signatures["predict_ndjson"]
    graph = signature(lines=tf.constant(lines))
    assert graph["valid"].numpy().all()
    for i, result in enumerate(results):
        assert result["key_id"] == str(i) and result["word"] == "a"
        names = [c["class"] for c in result["top_k"]]
        assert names == [c.decode() for c in graph["classes"].numpy()[i]]
        np.testing.assert_allclose(
            [c["probability"] for c in result["top_k"]],
            graph["probabilities"].numpy()[i],
            atol=1e-6,
        )


def test_a_bad_line_gets_the_pipelines_reason(export, tmp_path):
    lines = [
        PLAIN_LINE,
        b'{"key_id": "u", "drawing": [[[1, 2], [3]]]}',
        b"{not json}",
        b'{"key_id": "one", "drawing": [[[1], [2]]]}',
    ]
    path = tmp_path / "lines.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    done = subprocess.run(
        [sys.executable, "-m", "serving.predict", "--model", str(export), str(path)],
        cwd=REPO,
        env=product_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    good, unequal, not_json, single = map(json.loads, done.stdout.splitlines())
    assert good["key_id"] == "7" and len(good["top_k"]) == 3
    assert unequal == {"key_id": "u", "error": "unequal_xy: 2 x vs 1 y", "line": 2}
    assert not_json["line"] == 3 and not_json["error"].startswith("malformed_json")
    assert single == {"key_id": "one", "error": "single_point", "line": 4}


def test_the_exported_model_scores_the_top_level_drawing(export):
    decoy = b"[[[0,255,0,255,0],[0,0,255,255,0]]]"  # differs from DRAWING
    lines = [
        PLAIN_LINE,
        b'{"meta":{"drawing":' + decoy + b'},"word":"cat","key_id":"7","drawing":'
        + DRAWING + b"}",
        b'{"word":"cat","key_id":"7","drawing":' + DRAWING + b',"x":[{"drawing":'
        + decoy + b"}]}",
        b'{"word":"cat","key_id":"7","drawing":' + decoy + b"}",
    ]  # fmt: skip
    loaded = tf.saved_model.load(str(export))
    out = loaded.signatures["predict_ndjson"](lines=tf.constant(lines))
    assert out["valid"].numpy().all()
    probabilities = out["probabilities"].numpy()
    for row in (1, 2):
        assert (
            out["classes"].numpy()[row].tolist() == out["classes"].numpy()[0].tolist()
        )
        np.testing.assert_array_equal(probabilities[row], probabilities[0])
    assert not np.array_equal(probabilities[3], probabilities[0])  # decoy differs
    assert out["key_id"].numpy().tolist() == [b"7"] * 4

    results = predict.load(str(export)).predict(lines, k=2)
    assert [r["key_id"] for r in results] == ["7"] * 4
    assert results[1]["top_k"] == results[0]["top_k"] == results[2]["top_k"]
    assert len(results[0]["top_k"]) == 2


# ---------------------------------------------------------------------------
# The on-device model (`--engine litert`): what the export's LiteRT model says.


def test_the_on_device_engine_answers_as_the_savedmodel_does(export, tmp_path):
    lines = [
        *_lines(12, seed=5),
        b'{"key_id": "u", "drawing": [[[1, 2], [3]]]}',
        b'{"key_id": "one", "drawing": [[[1], [2]]]}',
        b'{"key_id": "huge", "drawing": [[[0, 3e38], [0, 1]], [[-3e38], [5]]]}',
    ]
    path = tmp_path / "lines.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    command = [sys.executable, "-m", "serving.predict", "--model", str(export)]
    outputs = [
        subprocess.run(
            [*command, *engine, "--k=4", str(path)],
            cwd=REPO,
            env=product_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        for engine in ([], ["--engine=litert"], ["--engine=litert", "--int8"])
    ]
    saved, ondevice, int8 = (
        [json.loads(x) for x in o.stdout.splitlines()] for o in outputs
    )
    assert not outputs[1].stderr and not outputs[2].stderr  # quiet by default
    assert len(saved) == len(ondevice) == len(int8) == len(lines)
    for want, got, small in zip(saved, ondevice, int8, strict=True):
        if "error" in want:  # the same lines fail the same way
            assert got == small == want
            continue
        assert got.keys() == small.keys() == want.keys()
        assert [c["class"] for c in got["top_k"]] == [c["class"] for c in want["top_k"]]
        np.testing.assert_allclose(
            [c["probability"] for c in got["top_k"]],
            [c["probability"] for c in want["top_k"]],
            atol=1e-5,
        )
        assert len(small["top_k"]) == 4
    # Points that float32 holds but whose span it does not: no usable ink.
    span = ([0.0, 3e38, -3e38], [0.0, 1.0, 5.0], [2, 1])
    for engine in ("savedmodel", "litert"):
        scored = predict.load(str(export), engine=engine).score([span], k=2)
        assert scored == [{"error": predict.NOT_USABLE}]


def test_a_drawing_longer_than_the_on_device_model_is_cut(export):
    """Beyond the longest signature the on-device model sees the drawing's
    first points, its last stroke ending there: the SavedModel's answer for
    that drawing. (Here the shortest signature stands for the longest: an
    untrained model's answers for a thousand points are all 1 and 0.)"""
    ondevice = predict.load(str(export), engine="litert")
    ondevice.lengths = ondevice.lengths[:1]
    longest = ondevice.lengths[-1]
    rng = np.random.default_rng(7)
    xs, ys = rng.integers(0, 256, (2, longest + 20)).tolist()
    drawing = (xs, ys, [longest - 10, 30])  # the cut falls in the 2nd stroke
    first = (xs[:longest], ys[:longest], [longest - 10, 10])
    saved = predict.load(str(export))
    [got], [cut], [whole] = (
        engine.score([d], k=5)
        for engine, d in ((ondevice, drawing), (saved, first), (saved, drawing))
    )
    assert [c["class"] for c in got["top_k"]] == [c["class"] for c in cut["top_k"]]
    np.testing.assert_allclose(
        [c["probability"] for c in got["top_k"]],
        [c["probability"] for c in cut["top_k"]],
        atol=1e-5,
    )
    assert got != whole  # it did not see the whole drawing


def test_an_export_without_an_on_device_model_is_named(export, tmp_path):
    older = tmp_path / "older"
    shutil.copytree(export, older, ignore=shutil.ignore_patterns("ondevice"))
    with pytest.raises(SystemExit) as refused:
        predict.main(["--model", str(older), "--engine", "litert", "-"])
    assert refused.value.code == (
        f"serving.predict: error: --model {older} has no on-device model "
        "(ondevice/model.json): export it again with this version of trainer.task"
    )
    with pytest.raises(SystemExit) as usage:
        predict.main(["--model", str(export), "--int8", "-"])
    assert usage.value.code == 2


def test_a_reader_that_stops_early_ends_it_quietly(export, tmp_path):
    """`serving.predict ... | head -1`: no traceback when the pipe closes."""
    drawings = tmp_path / "many.ndjson"
    drawings.write_bytes(b"\n".join(_lines(2000, seed=3)) + b"\n")
    command = [sys.executable, "-m", "serving.predict", "--model", str(export)]
    process = subprocess.Popen(
        [*command, "--batch_size=8", str(drawings)],
        cwd=REPO,
        env=product_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert json.loads(process.stdout.readline())["top_k"]
    process.stdout.close()  # as `head -1` does
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_a_missing_input_is_named_before_the_model_loads(tmp_path):
    missing = tmp_path / "drawings.ndjson"
    with pytest.raises(SystemExit) as refused:
        predict.main(["--model", str(tmp_path / "no_model"), "-", str(missing)])
    assert refused.value.code == (
        f"serving.predict: error: input {missing} does not exist: name an ndjson file"
    )


def _eval_lines(export) -> list[bytes]:
    """The ndjson lines of the drawings in the eval records beside `export`
    (conftest's sample model: its pipeline input and output are there)."""
    root = export.parent
    spec = {F.KEY_ID: tf.io.FixedLenFeature([], tf.string)}
    records = tf.data.TFRecordDataset(
        [str(p) for p in sorted((root / "data").glob(f"{F.EVAL_PREFIX}-*"))]
    )
    keys = {tf.io.parse_single_example(r, spec)[F.KEY_ID].numpy() for r in records}
    lines = [
        line
        for path in sorted((root / "ndjson").glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
        if json.loads(line)[F.KEY_ID].encode() in keys
    ]
    assert len(lines) == len(keys)
    return lines


@pytest.mark.xdist_group("sample_export")
def test_the_on_device_model_agrees_with_the_savedmodel_on_the_eval_set(
    sample_export,
):
    lines = _eval_lines(sample_export.export)
    export = str(sample_export.export)
    saved = predict.load(export).predict(lines, k=1)
    ondevice = predict.load(export, engine="litert").predict(lines, k=1)
    tops = [
        (a["top_k"][0], b["top_k"][0]) for a, b in zip(saved, ondevice, strict=True)
    ]
    agree = sum(a["class"] == b["class"] for a, b in tops) / len(tops)
    gap = max(abs(a["probability"] - b["probability"]) for a, b in tops)
    assert agree >= 0.99 and gap <= 0.02, (agree, gap)
