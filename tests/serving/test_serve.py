"""`python -m serving.serve` as clients see it: the REST API over HTTP.

One server on the tiny synthetic model answers most tests. The server hands
the model numbers; its answers are held against what stock TF Serving would
answer for the same drawing sent as an ndjson line: the exported model's
`predict_ndjson` signature, which parses the line in the graph.
"""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import urllib.request

import numpy as np
import orjson
import pytest

from drawing.simplify import simplify_strokes
from serving import request_parser as I
from serving.serve import model_info
from tests.serving.server import PREDICT_ROUTE as PREDICT
from tests.serving.server import STATUS_ROUTE as STATUS
from tests.serving.server import (
    free_port,
    predict,
    request,
    serve_process,
)
from tests.synthetic import CLASSES, draw

METADATA = "/v1/models/quickdraw/metadata"

# A trained model and a server process; the tiny model is shared with test_page.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_export")]


def raw_drawing(label: int, seed: int) -> list:
    """A synthetic shape on a canvas of about 600 px: float strokes with times."""
    rng = np.random.default_rng(seed)
    strokes = []
    for points in draw(label, rng):
        xy = points + rng.uniform(0, 1, points.shape)  # floats, as pointers give
        ts = np.arange(len(points)) * 16
        strokes.append([xy[:, 0].tolist(), xy[:, 1].tolist(), ts.tolist()])
    return strokes


@pytest.fixture(scope="module")
def server(tiny_export):
    with serve_process(tiny_export) as url:
        yield url


@pytest.fixture(scope="module")
def predictor(tiny_export):
    """The export's `predict_ndjson` signature: what TF Serving runs on a line."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(tiny_export)).signatures["predict_ndjson"]
    return lambda line: signature(lines=tf.constant([line]))


def reference(predictor, strokes: list, k: int) -> dict:
    """What the exported model says of already simplified strokes, sent as a line."""
    out = predictor(orjson.dumps({"drawing": strokes}))
    assert out["valid"].numpy()[0]
    return {
        "classes": [c.decode() for c in out["classes"].numpy()[0][:k]],
        "probabilities": out["probabilities"].numpy()[0][:k].tolist(),
    }


def assert_same_scores(got: dict, want: dict) -> None:
    assert got["classes"] == want["classes"]
    np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-5)


# --------------------------------------------------------------------------
# Predictions.


def test_drawings_and_ndjson_lines_score_as_the_exported_model(server, predictor):
    simplified = [simplify_strokes(raw_drawing(i % 4, i)) for i in range(6)]
    instances = [{"drawing": s} for s in simplified[:3]]
    instances += [
        json.dumps({"word": CLASSES[i % 4], "countrycode": "FR", "drawing": s})
        for i, s in enumerate(simplified[3:], start=3)
    ]
    status, answer = predict(server, {"instances": instances})
    assert status == 200
    assert len(answer["predictions"]) == 6
    for got, strokes in zip(answer["predictions"], simplified, strict=True):
        assert_same_scores(got, reference(predictor, strokes, k=3))
        assert set(got["classes"]) <= set(CLASSES) and len(got["classes"]) == 3
        assert got["probabilities"] == sorted(got["probabilities"], reverse=True)


def test_raw_drawings_are_simplified_as_the_dataset_was(server, predictor):
    raws = [raw_drawing(label, 100 + label) for label in range(4)]
    without_times = [[s[:2] for s in raw] for raw in raws]
    assert all(I.needs_simplification(r) for r in without_times)
    status, answer = predict(
        server, {"instances": [{"drawing": r} for r in raws + without_times]}
    )
    assert status == 200
    predictions = answer["predictions"]
    for raw, got in zip(raws + raws, predictions, strict=True):
        assert_same_scores(got, reference(predictor, simplify_strokes(raw), k=3))


def test_simplified_drawings_are_not_simplified_again(server, predictor):
    strokes = simplify_strokes(raw_drawing(1, 7))
    again = simplify_strokes(strokes)
    assert again != strokes  # the case that matters: not idempotent
    _, answer = predict(server, {"instances": [{"drawing": strokes}]})
    assert_same_scores(answer["predictions"][0], reference(predictor, strokes, k=3))


def test_strokes_with_times_are_raw_even_in_whole_pixels_within_0_255(
    server, predictor
):
    """A small drawing in a canvas's top-left corner looks simplified but for
    its times, which the simplified format never has."""
    strokes = simplify_strokes(raw_drawing(1, 11))  # whole pixels in 0-255
    small = [[[x // 2 for x in xs], [y // 2 for y in ys]] for xs, ys in strokes]
    timed = [[xs, ys, list(range(len(xs)))] for xs, ys in small]
    assert simplify_strokes(small) != small
    _, answer = predict(server, {"instances": [{"drawing": timed}, {"drawing": small}]})
    with_times, without = answer["predictions"]
    assert_same_scores(with_times, reference(predictor, simplify_strokes(small), 3))
    assert_same_scores(without, reference(predictor, small, 3))


def test_key_id_and_word_are_echoed_when_given(server):
    strokes = simplify_strokes(raw_drawing(2, 3))
    instances = [
        {"drawing": strokes, "key_id": 5201136883597312, "word": "zigzag"},
        {"drawing": strokes, "key_id": "abc"},
        {"drawing": strokes},
        json.dumps({"key_id": "42", "word": "line", "drawing": strokes}),
    ]
    _, answer = predict(server, {"instances": instances})
    echoed = [
        {k: p[k] for k in ("key_id", "word") if k in p} for p in answer["predictions"]
    ]
    assert echoed == [
        {"key_id": "5201136883597312", "word": "zigzag"},
        {"key_id": "abc"},
        {},
        {"key_id": "42", "word": "line"},
    ]


def test_parameters_k_narrows_the_classes(server):
    strokes = simplify_strokes(raw_drawing(0, 1))
    payload = {"instances": [{"drawing": strokes}], "parameters": {"k": 1}}
    _, one = predict(server, payload)
    _, every = predict(server, {"instances": [{"drawing": strokes}]})
    assert len(one["predictions"][0]["classes"]) == 1
    assert len(every["predictions"][0]["classes"]) == 3  # the exported top-k
    assert one["predictions"][0]["classes"][0] == every["predictions"][0]["classes"][0]


def test_concurrent_requests_each_get_their_own_answer(server, predictor):
    drawings = [simplify_strokes(raw_drawing(i % 4, 200 + i)) for i in range(24)]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(
            pool.map(
                lambda d: predict(server, {"instances": [{"drawing": d}] * 2}),
                drawings,
            )
        )
    for drawing, (status, answer) in zip(drawings, answers, strict=True):
        assert status == 200 and len(answer["predictions"]) == 2
        for got in answer["predictions"]:
            assert_same_scores(got, reference(predictor, drawing, k=3))


# --------------------------------------------------------------------------
# Malformed requests: 400 naming the instance, 413, and the server lives on.

GOOD = {"drawing": [[[0, 100, 200], [0, 50, 10]]]}
BAD_REQUESTS = {
    "not JSON": (b'{"instances": [', None, "not JSON"),
    "not an object": (b"[1, 2]", None, '"instances"'),
    "no instances": (b'{"drawings": []}', None, 'no "instances"'),
    "columnar inputs": (b'{"inputs": {"lines": []}}', None, '"inputs"'),
    "empty instances": (b'{"instances": []}', None, "non-empty"),
    "too many instances": ({"instances": [GOOD] * 65}, None, "at most 64"),
    "k too large": ({"instances": [GOOD], "parameters": {"k": 4}}, None, "at most 3"),
    "k not a number": ({"instances": [GOOD], "parameters": {"k": "2"}}, None, "k"),
    "a number": ({"instances": [GOOD, 7]}, 1, "got int"),
    "ndjson not JSON": ({"instances": [GOOD, '{"drawing": [[[']}, 1, "not JSON"),
    "no drawing": ({"instances": [GOOD, {"word": "cat"}]}, 1, 'no "drawing"'),
    "drawing a string": ({"instances": [GOOD, {"drawing": "x"}]}, 1, "not a list"),
    "stroke not a pair": (
        {"instances": [GOOD, {"drawing": [[[1, 2]]]}]},
        1,
        "stroke 0 is not",
    ),  # fmt: skip
    "unequal lengths": (
        {"instances": [GOOD, GOOD, {"drawing": [[[1, 2], [3, 4]], [[1, 2], [3]]]}]},
        2,
        "stroke 1 has unequal lengths: 2 vs 1",
    ),  # fmt: skip
    "unequal times": (
        {"instances": [GOOD, {"drawing": [[[1, 2], [3, 4], [0]]]}]},
        1,
        "2 vs 2 vs 1",
    ),  # fmt: skip
    "not numbers": (
        {"instances": [GOOD, {"drawing": [[[1, "2"], [3, 4]]]}]},
        1,
        "stroke 0 xs",
    ),  # fmt: skip
    "booleans": (
        {"instances": [GOOD, {"drawing": [[[1, 2], [True, 4]]]}]},
        1,
        "stroke 0 ys",
    ),  # fmt: skip
    "one point": (
        {"instances": [GOOD, {"drawing": [[[1], [3]], [[], []]]}]},
        1,
        "1 point;",
    ),  # fmt: skip
    "too many points": (
        {"instances": [GOOD, {"drawing": [[list(range(50_001))] * 2] * 2}]},
        1,
        f"more than {I.Limits.max_points} points",
    ),  # fmt: skip
    "too wide to scale": (
        {"instances": [GOOD, {"drawing": [[[-1.7e308, 1.7e308], [0, 0]]]}]},
        1,
        "cannot simplify",
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_malformed_requests_get_400_naming_the_instance(server, case):
    body, index, words = BAD_REQUESTS[case]
    body = body if isinstance(body, bytes) else orjson.dumps(body)
    status, answer, headers = request(server + PREDICT, body)
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert words in answer["error"]
    if index is None:
        assert "instance" not in answer
    else:
        assert answer["instance"] == index
        assert answer["error"].startswith(f"instance {index}: ")


def test_a_body_over_the_bound_gets_413_and_the_server_lives_on(server):
    big = orjson.dumps({"instances": [GOOD] * 64, "pad": "x" * (5 << 20)})
    status, answer, _ = request(server + PREDICT, big)
    assert status == 413 and "request body over 4194304 bytes" in answer["error"]
    # Sent in chunks, without a Content-Length: refused while reading.
    pieces = [big[i : i + 65536] for i in range(0, len(big), 65536)]
    status, answer, _ = request(urllib.request.Request(server + PREDICT, iter(pieces)))
    assert status == 413 and "error" in answer
    status, answer = predict(server, {"instances": [GOOD]})
    assert status == 200 and len(answer["predictions"]) == 1


def test_unknown_routes_and_methods_answer_json(server):
    status, answer, _ = request(server + "/v1/models/other:predict", b"{}")
    assert status == 404 and "error" in answer
    status, answer, _ = request(server + "/nothing.js")
    assert status == 404 and "no such page" in answer["error"]
    status, answer, _ = request(server + PREDICT)  # GET
    assert status == 405 and "error" in answer


# --------------------------------------------------------------------------
# Status, metadata, the page.


def test_status_answers_like_tf_serving(server):
    status, answer, _ = request(server + STATUS)
    assert status == 200
    assert answer == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


def test_metadata_has_the_signatures_classes_k_and_threshold(server, tiny_export):
    status, answer, _ = request(server + METADATA)
    assert status == 200
    assert answer["model_spec"] == {
        "name": "quickdraw", "signature_name": "", "version": "1"
    }  # fmt: skip
    signatures = answer["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "predict_ndjson", "predict_example"} <= set(signatures)
    ndjson = signatures["predict_ndjson"]
    assert ndjson["method_name"] == "tensorflow/serving/predict"
    assert ndjson["inputs"]["lines"]["dtype"] == "DT_STRING"
    assert set(ndjson["outputs"]) >= {"classes", "probabilities", "key_id", "word"}
    assert answer["classes"] == list(CLASSES)
    assert answer["k"] == 3
    served = json.loads((tiny_export / "assets.extra/recognition.json").read_text())
    assert answer["threshold"] == served["threshold"] > 0


def test_the_page_is_served_with_its_content_types_and_no_cache(server):
    files = {"/": "text/html", "/index.html": "text/html"}
    files.update({"/app.js": "text/javascript", "/style.css": "text/css"})
    for path, content_type in files.items():
        with urllib.request.urlopen(server + path, timeout=60) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith(content_type)
            assert response.headers["Cache-Control"] == "no-cache"
            assert response.read()
    for path in ("/..%2Fserve.py", "/.hidden", "/static/../serve.py"):
        status, _, _ = request(server + path)
        assert status == 404


def test_the_on_device_model_and_its_runtime_are_served(server, tiny_export):
    """What the page's "in this tab" switch loads, from the same host."""
    from serving.site import runtime_files

    files = {
        "/ondevice/model.json": "application/json",
        "/ondevice/model.tflite": "application/octet-stream",
    }
    if runtime_files():
        files["/litert/litert.js"] = "text/javascript"
        files["/litert/wasm/litert_wasm_internal.wasm"] = "application/wasm"
    for path, content_type in files.items():
        with urllib.request.urlopen(server + path, timeout=60) as response:
            assert response.headers["Content-Type"].startswith(content_type)
            body = response.read()
    assert body  # the last file read
    with urllib.request.urlopen(server + "/ondevice/model.tflite") as response:
        model = response.read()
    assert model == (tiny_export / "ondevice" / "model.tflite").read_bytes()
    for path in ("/ondevice/model_int8.tflite", "/litert/index.js.map"):
        assert request(server + path)[0] == 404
    _, answer, _ = request(server + METADATA)
    assert answer["ondevice"] is bool(runtime_files())


def test_version_is_the_directory_name_when_numeric(tiny_export, tmp_path):
    versioned = shutil.copytree(tiny_export, tmp_path / "models" / "17")
    info = model_info(str(versioned), k=3)
    assert info.version == "17" and info.classes == CLASSES
    assert model_info(str(tiny_export), k=3).version == "1"


# --------------------------------------------------------------------------
# Vertex AI's container conventions.


def test_vertex_ai_environment_sets_model_port_and_routes(tiny_export):
    port = free_port()
    env = {
        "AIP_STORAGE_URI": str(tiny_export),
        "AIP_HTTP_PORT": str(port),
        "AIP_HEALTH_ROUTE": "/health",
        "AIP_PREDICT_ROUTE": "/v1/endpoints/1/deployedModels/2:predict",
    }
    with serve_process(None, env=env, port=0, status_route="/health") as url:
        assert url.endswith(f":{port}")
        status, answer, _ = request(url + env["AIP_PREDICT_ROUTE"], orjson.dumps(
            {"instances": [GOOD, GOOD], "parameters": {"k": 2}}
        ))  # fmt: skip
        assert status == 200 and len(answer["predictions"]) == 2
        assert all(len(p["classes"]) == 2 for p in answer["predictions"])
        # The standard routes stay.
        assert request(url + STATUS)[0] == 200
        assert predict(url, {"instances": [GOOD]})[0] == 200
