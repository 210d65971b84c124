"""The page's game mode in headless Chromium, on the sample model and the real
server: six rounds at the served recognition threshold, with a short timer.

A real sample drawing of the asked class is drawn point by point, and the
round is won exactly at the first point where the API says the class passes
the threshold, before the drawing's last point; a round left blank is lost
when the timer runs out; the summary shows the six rounds. A round played on
the static site of `serving.site`, the model in the tab, is won at the same
point. Every wait is on the page's state (`#game[data-state]`), never on a
clock. The README's
screenshots come from this test, on the demo's model (`make demo`):

  QUICKDRAW_GAME_SCREENSHOTS=docs QUICKDRAW_MODEL=demo_out/export \\
    .venv/bin/pytest -q tests/serving/test_game.py
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from serving.request_parser import Limits
from tests.product import SAMPLE_SEEN
from tests.serving import test_page as P
from tests.serving.server import serve_process
from tests.serving.static_site import (
    HostGuard,
    requires_runtime,
    static_server,
    write_site,
)
from tools import sample

pytestmark = [*P.BROWSER, pytest.mark.xdist_group("sample_export")]
playwright, page = P.playwright, P.page  # the page test's fixtures
SECONDS = 8  # the game's timer here: drawing up to a win takes ~1-2 s
MAX_INSTANCES = Limits().max_instances  # per request
SCREENED = 100  # unseen sample drawings per class, ranked by the whole drawing
CANDIDATES = 40  # the most confident of them searched for an early pass
WON_ROUNDS = 5  # the rounds drawn (one is left blank)


@pytest.fixture(scope="module")
def game_model(request) -> str:
    """$QUICKDRAW_MODEL or the sample model of the suite."""
    model = os.environ.get("QUICKDRAW_MODEL")
    return str(model or request.getfixturevalue("sample_export").export)


@pytest.fixture(scope="module")
def game_server(game_model):
    """The real server on the game's model."""
    with serve_process(game_model) as url:
        yield url


def raw(strokes: list, points: int) -> list:
    """The first `points` canvas points as the page sends them, [xs, ys, ts]."""
    out, left = [], points
    for stroke in strokes:
        if left <= 0:
            break
        taken = stroke[:left]
        left -= len(taken)
        xs, ys = [x for x, _ in taken], [y for _, y in taken]
        out.append([xs, ys, [10 * i for i in range(len(taken))]])
    return out


def scores(url: str, drawings: list, asked: list[str], k: int) -> list[float]:
    """The probability of each drawing's asked class (0 outside the top k)."""
    out = []
    for start in range(0, len(drawings), MAX_INSTANCES):
        chunk = drawings[start : start + MAX_INSTANCES]
        body = {"instances": [{"drawing": d} for d in chunk], "parameters": {"k": k}}
        answers = P.api(url, P.PREDICT, body)["predictions"]
        names = asked[start : start + MAX_INSTANCES]
        for answer, name in zip(answers, names, strict=True):
            classes = answer["classes"]
            out.append(
                answer["probabilities"][classes.index(name)] if name in classes else 0.0
            )
    return out


def passes(url: str, drawings: list, asked: str, threshold: float, k: int) -> list:
    """Whether the asked class passes the threshold, for each drawing."""
    return [p >= threshold for p in scores(url, drawings, [asked] * len(drawings), k)]


def first_pass(url: str, strokes: list, asked: str, meta: dict) -> int | None:
    """The first prefix (points) whose class passes the threshold, as the page
    asks: one drawing per request. None unless before the last point."""
    total = sum(map(len, strokes))
    args = (asked, meta["threshold"], meta["k"])
    batch = passes(url, [raw(strokes, n) for n in range(2, total + 1)], *args)
    if True not in batch[:-1]:
        return None
    for n in range(2, total):  # as the page asks: one drawing a request
        if passes(url, [raw(strokes, n)], *args)[0]:
            return n
    return None


def most_confident(url: str, size: float, meta: dict) -> list[tuple[str, list]]:
    """The unseen sample drawings of the model's classes, as canvas strokes, the
    most confident of their class (whole) first: where a small model's strict
    threshold is most likely passed before the end."""
    drawings = []
    for name in meta["classes"]:
        path = sample.SAMPLE / f"{name}.ndjson"
        lines = sample.file_lines(path) if path.exists() else []
        lines = lines[SAMPLE_SEEN:] or lines  # unseen by the sample model
        for line in lines[:SCREENED]:
            drawings.append((name, P.canvas_strokes(json.loads(line)["drawing"], size)))
    whole = [raw(strokes, sum(map(len, strokes))) for _, strokes in drawings]
    ranks = scores(url, whole, [name for name, _ in drawings], meta["k"])
    order = sorted(range(len(drawings)), key=lambda i: -ranks[i])
    return [drawings[i] for i in order]


def recognized_early(
    url: str, size: float, meta: dict, wanted: int = WON_ROUNDS
) -> list[tuple]:
    """Sample drawings of up to `wanted` of the model's classes, one each, and
    their first point at which the class passes the threshold, before the end."""
    found: dict[str, tuple] = {}
    for name, strokes in most_confident(url, size, meta)[:CANDIDATES]:
        if name in found:
            continue
        won_at = first_pass(url, strokes, name, meta)
        if won_at and won_at > 2:
            found[name] = (name, strokes, won_at)
        if len(found) == wanted:
            break
    if not found:
        pytest.fail(f"no sample drawing passes {meta['threshold']} before its end")
    return list(found.values())


class Pen:
    """Draws a drawing's points with the mouse, as far as asked, and keeps the
    button down where it stops (the page asks about the stroke so far)."""

    def __init__(self, page, box: dict, strokes: list) -> None:
        self.page, self.box, self.strokes = page, box, strokes
        self.drawn = 0

    def to(self, points: int) -> None:
        mouse, done = self.page.mouse, 0
        for stroke in self.strokes:
            for i, (x, y) in enumerate(stroke):
                done += 1
                if done <= self.drawn:
                    continue
                if done > points:
                    return
                mouse.move(self.box["x"] + x, self.box["y"] + y)
                if i == 0:
                    mouse.down()
                if i == len(stroke) - 1:
                    mouse.up()
                self.drawn = done


def state(page, wanted: str, round_: int) -> None:
    game = page.locator(f'#game[data-state="{wanted}"][data-round="{round_}"]')
    expect(game).to_have_count(1, timeout=P.WAIT_MS)


def test_a_game_of_six_rounds(page, game_server):
    meta = P.api(game_server, P.METADATA)
    assert 0 < meta["threshold"] < 1
    page.goto(game_server + "/")  # for the canvas's size
    box = page.locator("#canvas").bounding_box()
    found = recognized_early(game_server, box["height"], meta)
    drawings = [found[i % len(found)] for i in range(WON_ROUNDS)]
    drawings.insert(1, None)  # round 2 is left blank
    asked = [d[0] if d else meta["classes"][-1] for d in drawings]
    page.goto(f"{game_server}/?play&seconds={SECONDS}&classes={','.join(asked)}")
    shots = os.environ.get("QUICKDRAW_GAME_SCREENSHOTS")
    box = page.locator("#canvas").bounding_box()
    for number, drawing in enumerate(drawings, start=1):
        state(page, "ready", number)
        expect(page.locator("#game-class")).to_have_text(asked[number - 1])
        page.click("#game-go")
        state(page, "drawing", number)
        if drawing is None:  # left blank: lost when the timer runs out
            started = time.monotonic()
            state(page, "lost", number)
            assert time.monotonic() - started > SECONDS - 1
            expect(page.locator("#game-clock")).to_have_text("0 s")
        else:
            _, strokes, won_at = drawing
            pen = Pen(page, box, strokes)
            pen.to(won_at - 1)
            says_like_the_api(page, game_server, strokes, won_at - 1)
            if shots and number == 1:
                page.screenshot(path=Path(shots) / "game.png", animations="disabled")
            pen.to(won_at)
            state(page, "won", number)
            page.mouse.up()
            assert page.locator("#game").get_attribute("data-won-points") == str(won_at)
        page.click("#game-go")
    state(page, "over", 6)
    rounds = page.locator("#summary-rounds > li")
    expect(rounds).to_have_count(6)
    verdicts = rounds.evaluate_all("items => items.map(i => i.dataset.verdict)")
    assert verdicts == ["won", "lost", "won", "won", "won", "won"]
    expect(rounds.nth(1)).to_contain_text("best guess: none")
    expect(rounds.nth(0)).to_contain_text("best guess:")
    expect(page.locator("#summary-score")).to_have_text(
        "The model recognized 5 of your 6 drawings."
    )
    if shots:
        page.screenshot(path=Path(shots) / "game_summary.png", animations="disabled")


def says_like_the_api(page, url: str, strokes: list, points: int) -> None:
    """The game says the API's top guess for the drawing so far."""
    P.guesses_for(page, sum(1 for _ in _strokes_of(strokes, points)), points)
    body = {"instances": [{"drawing": raw(strokes, points)}], "parameters": {"k": 1}}
    top = P.api(url, P.PREDICT, body)["predictions"][0]["classes"][0]
    expect(page.locator("#game-says")).to_contain_text(f"I see … {top}")


def _strokes_of(strokes: list, points: int):
    """The strokes that the first `points` points touch."""
    for stroke in strokes:
        if points <= 0:
            return
        yield stroke
        points -= len(stroke)


@requires_runtime
def test_a_round_won_in_the_tab_at_the_server_s_point(
    page, game_model, game_server, tmp_path
):
    """The static site's game: a real drawing wins at the very point where
    the server's answer passes the threshold, with no request while drawing."""
    meta = P.api(game_server, P.METADATA)
    page.goto(game_server + "/")  # for the canvas's size
    box = page.locator("#canvas").bounding_box()
    [(asked, strokes, won_at)] = recognized_early(game_server, box["height"], meta, 1)
    with static_server(write_site(game_model, tmp_path / "site")) as url:
        guard = HostGuard(page.context, url)
        page.goto(f"{url}/?play&seconds={SECONDS}&classes={asked}")
        state(page, "ready", 1)
        loaded = len(guard.requests)
        page.click("#game-go")
        state(page, "drawing", 1)
        pen = Pen(page, box, strokes)
        pen.to(won_at - 1)
        says_like_the_api(page, game_server, strokes, won_at - 1)
        pen.to(won_at)
        state(page, "won", 1)
        page.mouse.up()
        assert page.locator("#game").get_attribute("data-won-points") == str(won_at)
        assert guard.requests[loaded:] == [] and guard.refused == []
