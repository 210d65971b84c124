"""The aiohttp application in-process: routes, TF Serving's answers, JSON
errors. A fake scorer stands in for the model (tests/serving/test_serve.py
runs the real server on a real export)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from aiohttp.test_utils import TestClient, TestServer

from serving import request_parser as I
from serving.rest_api import (
    METADATA_ROUTE,
    MODEL_ROUTE,
    PREDICT_ROUTE,
    AppSettings,
    ModelInfo,
    make_app,
)

INFO = ModelInfo(
    version="7",
    classes=("cat", "dog", "eye"),
    k=2,
    signature_def={"signature_def": {}},
    threshold=0.6,
)
GOOD = {"drawing": [[[0, 100, 200], [0, 50, 10]]], "key_id": 12, "word": "cat"}


class FakeScorer:
    """Answers the first classes; records what it was asked."""

    def __init__(self, broken: bool = False) -> None:
        self.asked: list[tuple[int, int]] = []  # (drawings, k)
        self.broken = broken
        self.closed = False

    async def score(self, drawings, k):
        if self.broken:
            raise RuntimeError("the model broke")
        self.asked.append((len(drawings), k))
        return [
            {"classes": list(INFO.classes[:k]), "probabilities": [0.5] * k}
            for _ in drawings
        ]

    async def close(self) -> None:
        self.closed = True


def call(tmp_path: Path, *requests, broken=False, **settings) -> list:
    """(status, JSON answer, headers) of each (method, path, body) request."""
    (tmp_path / "index.html").write_text("<p>draw</p>")
    scorer = FakeScorer(broken)
    app = make_app(
        lambda: scorer,
        INFO,
        AppSettings(limits=I.Limits(), static_dir=tmp_path, **settings),
    )

    async def main():
        async with TestClient(TestServer(app)) as client:
            answers = []
            for method, path, body in requests:
                response = await client.request(method, path, data=body)
                raw = await response.read()
                answers.append((response.status, raw, response.headers))
            return answers

    answers = asyncio.run(main())
    assert scorer.closed  # the app closes its scorer when it stops
    return [
        (status, orjson.loads(raw) if "json" in h["Content-Type"] else raw, h)
        for status, raw, h in answers
    ] + [scorer.asked]


def post(body: object) -> tuple[str, str, bytes]:
    return ("POST", PREDICT_ROUTE, orjson.dumps(body))


def test_predict_answers_each_instance_with_its_echo_and_k(tmp_path):
    (status, answer, _), (_, narrowed, _), asked = call(
        tmp_path,
        post({"instances": [GOOD, {"drawing": GOOD["drawing"]}]}),
        post({"instances": [GOOD], "parameters": {"k": 1}}),
    )
    assert status == 200
    assert answer["predictions"] == [
        {"classes": ["cat", "dog"], "probabilities": [0.5, 0.5], "key_id": "12",
         "word": "cat"},
        {"classes": ["cat", "dog"], "probabilities": [0.5, 0.5]},
    ]  # fmt: skip
    assert narrowed["predictions"][0]["classes"] == ["cat"]
    assert asked == [(2, INFO.k), (1, 1)]


def test_refusals_are_json_and_never_reach_the_model(tmp_path):
    *answers, asked = call(
        tmp_path,
        post({"instances": [GOOD], "parameters": {"k": 3}}),
        post({"instances": [GOOD, {"drawing": "x"}]}),
        post({"instances": [GOOD], "pad": "x" * 1000}),
        ("GET", "/nope", None),
        ("GET", "/.hidden", None),
        ("DELETE", PREDICT_ROUTE, None),
        max_body_bytes=600,
    )
    statuses = [status for status, _, _ in answers]
    assert statuses == [400, 400, 413, 404, 404, 405]
    errors = [answer["error"] for _, answer, _ in answers]
    assert errors[0] == '"parameters.k" is at most 2'
    assert errors[1].startswith("instance 1: ") and answers[1][1]["instance"] == 1
    assert errors[2] == "request body over 600 bytes"
    assert errors[3] == "no such page: /nope"
    assert all(h["Content-Type"] == "application/json" for _, _, h in answers)
    assert asked == []


def test_a_model_failure_is_a_json_500_and_the_app_goes_on(tmp_path):
    (status, answer, _), (after, _, _), _ = call(
        tmp_path, post({"instances": [GOOD]}), ("GET", MODEL_ROUTE, None),
        broken=True,
    )  # fmt: skip
    assert (status, answer) == (500, {"error": "internal error; see the server's log"})
    assert after == 200


def test_status_and_metadata_as_tf_serving_gives_them(tmp_path):
    (_, status, _), (_, metadata, _), (_, extra, _), _ = call(
        tmp_path,
        ("GET", MODEL_ROUTE, None),
        ("GET", METADATA_ROUTE, None),
        ("GET", "/health", None),
        extra_health_routes=("/health",),
    )
    [version] = status["model_version_status"]
    assert (version["version"], version["state"]) == ("7", "AVAILABLE")
    assert extra == status
    assert metadata["model_spec"] == {
        "name": "quickdraw",
        "signature_name": "",
        "version": "7",
    }
    assert metadata["metadata"] == {"signature_def": INFO.signature_def}
    assert (metadata["classes"], metadata["k"], metadata["threshold"]) == (
        ["cat", "dog", "eye"],
        2,
        0.6,
    )


def test_the_page_is_served_uncached_with_its_type(tmp_path):
    (status, body, headers), (same, _, _), _ = call(
        tmp_path, ("GET", "/", None), ("GET", "/index.html", None)
    )
    assert (status, same, body) == (200, 200, b"<p>draw</p>")
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-cache"


def test_an_extra_predict_route_predicts(tmp_path):
    method, _, body = post({"instances": [GOOD]})
    (status, answer, _), _ = call(
        tmp_path, (method, "/predict", body), extra_predict_routes=("/predict",)
    )
    assert status == 200 and len(answer["predictions"]) == 1
