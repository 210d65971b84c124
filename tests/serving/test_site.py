"""`serving.site`, and the page running the model in the tab.

The writer's checks need no model. The page is tested in real headless
Chromium (as tests/serving/test_page.py does) on the tiny test model: its
static site served by a plain static file server, every request routed
through Playwright and refused unless it goes to that host; and the page of
`serving.serve` switched to the tab. In both, the guesses for a real sample
drawing equal the server's, and drawing makes no request. The README's
screenshot of the site comes from here, on the demo's model (`make demo`):

  QUICKDRAW_SITE_SCREENSHOT=docs/site.png QUICKDRAW_MODEL=demo_out/export \\
    .venv/bin/pytest -q tests/serving/test_site.py -k static
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from serving import site
from tests.serving import test_page as P
from tests.serving.server import serve_process
from tests.serving.static_site import (
    HostGuard,
    requires_runtime,
    static_server,
    write_site,
)

playwright, page = P.playwright, P.page  # the page test's fixtures
BROWSER = [*P.BROWSER, requires_runtime, pytest.mark.xdist_group("tiny_export")]
ENGINE = "#guesses[data-engine='{}'][data-points='{}']"


def fake_export(root: Path) -> Path:
    """A folder that passes for a complete export with an on-device model."""
    (root / "assets.extra").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"")
    (root / "assets.extra" / "export_complete").write_text("complete\n")
    (root / "ondevice").mkdir()
    models = {"float32": "model.tflite", "int8": "model_int8.tflite"}
    meta = {"models": models, "classes": ["a", "b"], "k": 2, "threshold": 0.5}
    (root / "ondevice" / "model.json").write_text(json.dumps(meta))
    for variant, name in models.items():
        (root / "ondevice" / name).write_bytes(variant.encode())
    return root


@requires_runtime
def test_the_site_holds_the_page_the_runtime_and_one_model(tmp_path):
    export = fake_export(tmp_path / "export")
    out = tmp_path / "site"
    for int8 in (False, True):  # the second writes over the first
        site.main(["--model", str(export), "--out", str(out)] + ["--int8"] * int8)
        index = (out / "index.html").read_text()
        assert '<html lang="en" data-site="static">' in index
        assert {p.name for p in out.iterdir()} == {
            *site.PAGE_FILES,
            "litert",
            "ondevice",
        }
        for name in site.RUNTIME_FILES:
            assert (out / "litert" / name).is_file()
        assert "Apache License" in (out / "litert" / "LICENSE").read_text()
        variant = "int8" if int8 else "float32"
        meta = json.loads((out / "ondevice" / "model.json").read_text())
        assert meta["models"] == {variant: f"model{'_int8' * int8}.tflite"}
        assert (out / "ondevice" / meta["models"][variant]).read_bytes() == (
            variant.encode()
        )
        assert sorted(p.name for p in (out / "ondevice").iterdir()) == sorted(
            ["model.json", meta["models"][variant]]
        )


def test_what_stops_the_site_is_named(tmp_path):
    export = fake_export(tmp_path / "export")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    older = tmp_path / "older"
    older.mkdir()
    (older / "saved_model.pb").write_bytes(b"")
    (older / "assets.extra").mkdir()
    (older / "assets.extra" / "export_complete").write_text("complete\n")
    cases = {
        "holds other files than a site": ["--out", str(other)],
        "LiteRT.js is not installed in": ["--node_modules", str(tmp_path)],
        "has no on-device model (ondevice/model.json)": ["--model", str(older)],
        "cannot be written": ["--out", str(other / "notes.txt" / "site")],
    }
    for message, args in cases.items():
        argv = ["--model", str(export), "--out", str(tmp_path / "new"), *args]
        if "LiteRT.js" not in message and not site.runtime_files():
            continue  # checked after the runtime
        with pytest.raises(SystemExit) as refused:
            site.main(argv)
        assert str(refused.value.code).startswith("serving.site: error: ")
        assert message in str(refused.value.code)
    assert (other / "notes.txt").read_text() == "mine"  # left alone


# ---------------------------------------------------------------------------
# In real Chromium


@pytest.fixture(scope="module")
def model(request) -> str:
    return os.environ.get("QUICKDRAW_MODEL") or str(
        request.getfixturevalue("tiny_export")
    )


@pytest.fixture(scope="module")
def server(model):
    with serve_process(model) as url:
        yield url


@pytest.fixture(scope="module")
def static_site(model, tmp_path_factory):
    folder = write_site(model, tmp_path_factory.mktemp("site") / "site")
    with static_server(folder) as url:
        yield url


def in_chromium(test):
    """The marks of a browser test on the tiny model."""
    for mark in BROWSER:
        test = mark(test)
    return test


def shown(page) -> list[tuple[str, float]]:
    return [tuple(pair) for pair in page.evaluate(P.SHOWN_STATE)["guesses"]]


def assert_like_the_server(shown: list, expected: list) -> None:
    """The same classes, the probabilities of the float32 model within 1e-4."""
    assert [c for c, _ in shown] == [c for c, _ in expected]
    assert [p for _, p in shown] == pytest.approx([p for _, p in expected], abs=1e-4)


@in_chromium
def test_the_static_site_guesses_as_the_server_does(page, static_site, server):
    guard = HostGuard(page.context, static_site)
    classes = P.api(server, P.METADATA)["classes"]
    page.goto(static_site + "/")
    expect(page.locator("#classes > li")).to_have_count(len(classes), timeout=P.WAIT_MS)
    expect(page.locator("#model-info")).to_contain_text("on-device model in this tab")
    loaded = len(guard.requests)
    _, drawing = P.pick_drawing(classes)
    box = page.locator("#canvas").bounding_box()
    strokes = P.canvas_strokes(drawing, min(box["width"], box["height"]))
    drawn = P.draw(page, box, strokes, midway=len(strokes) - 1)
    guesses = P.guesses_for(page, len(strokes), sum(map(len, strokes)))
    assert_like_the_server(guesses, P.predict(server, drawn, k=len(guesses)))
    assert guard.requests[loaded:] == []  # no request while drawing
    assert guard.refused == []
    assert page.evaluate("window.maxInFlight") == 0  # the page never fetched one
    page.click("#mode-game")  # the game needs no server either
    expect(page.locator("#game[data-state='ready']")).to_have_count(1)
    assert guard.refused == [] and all(
        r.startswith(static_site + "/") for r in guard.requests
    )
    if os.environ.get("QUICKDRAW_SITE_SCREENSHOT"):
        page.click("#mode-free")
        P.draw(page, box, strokes)
        P.guesses_for(page, len(strokes), sum(map(len, strokes)))
        path = os.environ["QUICKDRAW_SITE_SCREENSHOT"]
        page.screenshot(path=path, animations="disabled")


@in_chromium
def test_the_served_page_switches_the_model_to_the_tab(page, server):
    page.goto(server + "/?engine=tab")
    classes = P.api(server, P.METADATA)["classes"]
    expect(page.locator("#classes > li")).to_have_count(len(classes), timeout=P.WAIT_MS)
    expect(page.locator("#engine-tab")).to_have_attribute("aria-pressed", "true")
    _, drawing = P.pick_drawing(classes)
    box = page.locator("#canvas").bounding_box()
    strokes = P.canvas_strokes(drawing, min(box["width"], box["height"]))
    points = sum(map(len, strokes))
    drawn = P.draw(page, box, strokes)
    tab = page.locator(ENGINE.format("tab", points))
    expect(tab).to_have_count(1, timeout=P.WAIT_MS)
    assert page.evaluate("window.maxInFlight") == 0  # no predict request
    expected = P.predict(server, drawn, k=len(shown(page)))
    assert_like_the_server(shown(page), expected)

    page.click("#engine-server")  # the same drawing, asked of the server
    expect(page.locator(ENGINE.format("server", points))).to_have_count(1)
    assert page.evaluate("window.maxInFlight") == 1
    assert "engine" not in page.url
    assert_like_the_server(shown(page), expected)
    page.click("#engine-tab")
    expect(tab).to_have_count(1, timeout=P.WAIT_MS)
    assert page.url.endswith("?engine=tab")
    assert_like_the_server(shown(page), expected)
