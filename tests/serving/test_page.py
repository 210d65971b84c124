"""The drawing page of `serving.serve` in a real browser: Debian's headless
Chromium, driven by Playwright, on the real server and a trained model.

A real Quick, Draw! drawing is drawn onto the canvas with the mouse, point by
point; every wait is on the page's state (`#guesses` says which strokes and
points its guesses were computed for), never on a clock.

The README's screenshot comes from this test, on the demo's model (`make demo`):

  QUICKDRAW_SCREENSHOT=docs/serve.png QUICKDRAW_MODEL=demo_out/export \\
    .venv/bin/pytest -q tests/serving/test_page.py
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

from tests.serving.server import serve_process
from tests.shared_data import requires_sample
from tools import sample

CHROMIUM = Path("/usr/bin/chromium")
# This machine's closed network refuses Chromium's background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1100, "height": 720}
WAIT_MS = 60_000  # a model answer on a busy 2-core machine
MARGIN = 0.1  # of the canvas, around the drawing
METADATA = "/v1/models/quickdraw/metadata"
PREDICT = "/v1/models/quickdraw:predict"

BROWSER = [  # the marks of every browser test
    pytest.mark.slow,
    requires_sample,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is absent (apt-get install chromium; .ci/run does)",
    ),
]
pytestmark = [*BROWSER, pytest.mark.xdist_group("tiny_export")]

# Counts the predict requests in flight, seen from the page's own fetch calls.
COUNT_FETCHES = """
(() => {
  const fetch = window.fetch;
  window.inFlight = 0;
  window.maxInFlight = 0;
  window.fetch = async (...args) => {
    const predict = String(args[0]).includes(":predict");
    if (predict) window.maxInFlight = Math.max(window.maxInFlight, ++window.inFlight);
    try { return await fetch(...args); } finally { if (predict) window.inFlight--; }
  };
})();
"""


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as p:
        yield p


@pytest.fixture
def page(playwright, tmp_path):
    """A page in a fresh headless Chromium with its own empty profile."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=VIEWPORT,
    )
    page = context.new_page()
    page.add_init_script(COUNT_FETCHES)
    page.on("dialog", lambda dialog: pytest.fail(f"the page opened a {dialog.type}"))
    yield page
    context.close()


@pytest.fixture(scope="module")
def server(request):
    """The real server's base URL, on $QUICKDRAW_MODEL or the tiny test model."""
    model = os.environ.get("QUICKDRAW_MODEL") or request.getfixturevalue("tiny_export")
    with serve_process(model) as url:
        yield url


def api(url: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    with urllib.request.urlopen(
        urllib.request.Request(url + path, data=data, headers=headers), timeout=60
    ) as response:
        return json.loads(response.read())


def pick_drawing(classes: list[str]) -> tuple[str, list]:
    """The first recognised sample drawing of 3-6 strokes of a model's class."""
    for name in classes:
        path = sample.SAMPLE / f"{name}.ndjson"
        if not path.exists():
            continue
        for line in sample.file_lines(path):
            record = json.loads(line)
            strokes = record["drawing"]
            if record.get("recognized") and 3 <= len(strokes) <= 6:
                return name, strokes
    pytest.fail(f"no sample drawing of 3-6 strokes in any of {classes}")


def canvas_strokes(strokes: list, size: float) -> list[list[tuple[int, int]]]:
    """Sample strokes (0-255) scaled onto a canvas of `size` CSS pixels."""
    scale = size * (1 - 2 * MARGIN) / 255
    scaled = []
    for xs, ys in strokes:
        points: list[tuple[int, int]] = []
        for x, y in zip(xs, ys, strict=True):
            point = (round(size * MARGIN + x * scale), round(size * MARGIN + y * scale))
            if not points or point != points[-1]:
                points.append(point)
        scaled.append(points)
    return scaled


SHOWN_STATE = """() => {
  const guesses = document.getElementById("guesses");
  return {
    strokes: Number(guesses.dataset.strokes),
    points: Number(guesses.dataset.points),
    guesses: [...guesses.children].map(
      (item) => [item.dataset.class, Number(item.dataset.probability)]),
    error: document.getElementById("error").hidden
      ? null : document.getElementById("error").textContent,
  };
}"""


def guesses_for(page, strokes: int, points: int) -> list[tuple[str, float]]:
    """The page's (class, probability) guesses, once they are for this drawing."""
    wanted = {"strokes": strokes, "points": points}
    try:
        page.wait_for_function(
            f"""wanted => {{
              const shown = ({SHOWN_STATE})();
              return shown.strokes === wanted.strokes
                && shown.points === wanted.points && shown.guesses.length > 0;
            }}""",
            arg=wanted,
            timeout=WAIT_MS,
        )
    except PlaywrightTimeout:
        shown = page.evaluate(SHOWN_STATE)
        pytest.fail(f"the page shows no guesses for {wanted}, but {shown}")
    return [tuple(pair) for pair in page.evaluate(SHOWN_STATE)["guesses"]]


def draw(page, box: dict, strokes: list, midway: int | None = None) -> list:
    """Draws the strokes with the mouse; returns them as [xs, ys, ts] points.

    With `midway`, the mouse stays down halfway through that stroke until the
    page shows guesses for the drawing so far: guesses come while drawing.
    """
    drawn = []
    points = 0
    start = time.monotonic()
    for number, stroke in enumerate(strokes):
        xs, ys, ts = [], [], []
        drawn.append([xs, ys, ts])
        for i, (x, y) in enumerate(stroke):
            page.mouse.move(box["x"] + x, box["y"] + y)
            if i == 0:
                page.mouse.down()
            xs.append(x)
            ys.append(y)
            ts.append(round(1000 * (time.monotonic() - start)))
            points += 1
            if number == midway and i == len(stroke) // 2:
                guesses_for(page, number + 1, points)
        page.mouse.up()
    return drawn


def predict(url: str, drawing: list, k: int) -> list[tuple[str, float]]:
    body = {"instances": [{"drawing": drawing}], "parameters": {"k": k}}
    answer = api(url, PREDICT, body)["predictions"][0]
    return list(zip(answer["classes"], answer["probabilities"], strict=True))


def open_page(page, url: str) -> list[str]:
    """Opens the page once its class list is there; returns the model's classes."""
    classes = api(url, METADATA)["classes"]
    page.goto(url + "/")
    expect(page.locator("#classes > li")).to_have_count(len(classes), timeout=WAIT_MS)
    return classes


def test_guesses_follow_the_drawing_as_the_api_does(page, server, tmp_path):
    classes = open_page(page, server)
    _, drawing = pick_drawing(classes)
    box = page.locator("#canvas").bounding_box()
    strokes = canvas_strokes(drawing, min(box["width"], box["height"]))
    last = len(strokes) - 1
    drawn = draw(page, box, strokes, midway=last)

    shown = guesses_for(page, len(strokes), sum(map(len, strokes)))
    expected = predict(server, drawn, k=len(shown))
    assert [c for c, _ in shown] == [c for c, _ in expected]
    assert [p for _, p in shown] == pytest.approx([p for _, p in expected], abs=1e-5)
    top = shown[0][0]
    expect(page.locator("#verdict strong")).to_have_text(top)
    guessed = page.locator("#classes > li.guessed")
    assert sorted(guessed.evaluate_all("items => items.map(i => i.dataset.class)")) == (
        sorted(c for c, _ in shown)
    )
    expect(page.locator("#classes > li.top")).to_have_text(top)
    assert page.evaluate("window.maxInFlight") == 1
    page.screenshot(path=tmp_path / "page.png", animations="disabled")
    if os.environ.get("QUICKDRAW_SCREENSHOT"):
        page.screenshot(path=os.environ["QUICKDRAW_SCREENSHOT"], animations="disabled")

    page.keyboard.press("Control+z")
    shown = guesses_for(page, last, sum(map(len, strokes[:last])))
    assert shown[0][0] == predict(server, drawn[:last], k=len(shown))[0][0]

    page.click("#clear")
    expect(page.locator('#guesses[data-strokes="0"][data-points="0"]')).to_have_count(1)
    expect(page.locator("#guesses > li")).to_have_count(0)
    expect(page.locator("#classes > li.guessed")).to_have_count(0)
    expect(page.locator("#undo")).to_be_disabled()
    expect(page.locator("#clear")).to_be_disabled()


def test_search_filters_the_class_list(page, server):
    classes = open_page(page, server)
    query = classes[0][1:3].upper()
    matching = [c for c in classes if query.lower() in c.lower()]
    page.fill("#search", query)
    shown = page.locator("#classes > li:not([hidden])")
    expect(shown).to_have_count(len(matching))
    assert shown.evaluate_all("items => items.map(i => i.dataset.class)") == matching
    expect(page.locator("#class-count")).to_have_text(
        f"{len(matching)} of {len(classes)} match"
    )
    page.fill("#search", "no class is called this")
    expect(shown).to_have_count(0)
    expect(page.locator("#no-match")).to_be_visible()
    page.fill("#search", "")
    expect(shown).to_have_count(len(classes))


def test_api_errors_are_shown_on_the_page(page, server):
    open_page(page, server)
    error = {"error": "instance 0: the model is having a bad day"}
    page.route(
        f"**/{PREDICT.lstrip('/')}",
        lambda route: route.fulfill(status=400, json=error),
    )
    box = page.locator("#canvas").bounding_box()
    draw(page, box, [[(50, 50), (120, 80), (200, 90)]])
    expect(page.locator("#error")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#error")).to_contain_text(error["error"])
    expect(page.locator("#guesses > li")).to_have_count(0)


def test_guesses_do_not_depend_on_where_the_drawing_is(page, server):
    """A small drawing in the canvas's top-left corner is as raw as one in the
    opposite corner, although all its coordinates are whole pixels in 0-255,
    like a simplified drawing's: the page gets the same guesses for both."""
    classes = open_page(page, server)
    _, drawing = pick_drawing(classes)
    box = page.locator("#canvas").bounding_box()
    size = 200  # CSS pixels: the drawing spans 20-180
    far = int(min(box["width"], box["height"])) - size
    assert far > 255, "the canvas is too small for this test"
    strokes = canvas_strokes(drawing, size)
    points = sum(map(len, strokes))
    shown = []
    for offset in (0, far):
        draw(page, box, [[(x + offset, y + offset) for x, y in s] for s in strokes])
        shown.append(guesses_for(page, len(strokes), points))
        page.keyboard.press("Escape")
        expect(page.locator('#guesses[data-strokes="0"]')).to_have_count(1)
    near, far_away = shown
    assert [c for c, _ in near] == [c for c, _ in far_away]
    assert [p for _, p in near] == pytest.approx([p for _, p in far_away], abs=1e-5)
