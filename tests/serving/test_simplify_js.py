"""The page's simplification (serving/static/simplify.js) is the server's
(drawing/simplify.py), point for point, so the model in the tab sees what the
server's model sees. Run by Node.js (V8, Chromium's engine) on the sample's
raw drawings and on random ones, with the two hypot twins checked against
numpy's and Python's over a wide range of values.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest

from drawing.simplify import simplify_strokes
from serving.ondevice_predictor import pack
from tests.product import REPO
from tests.shared_data import requires_sample
from tools import sample

SIMPLIFY_JS = REPO / "serving" / "static" / "simplify.js"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None,
    reason="Node.js is absent (apt-get install npm; .ci/run does)",
)


def _node(function: str, arguments: list) -> list:
    """`function` of simplify.js applied to each argument list, in Node.js."""
    script = (
        f"import * as page from {json.dumps(SIMPLIFY_JS.as_uri())};"
        "import fs from 'fs';"
        "const calls = JSON.parse(fs.readFileSync(0, 'utf8'));"
        f"const out = calls.map((args) => page.{function}(...args));"
        "process.stdout.write(JSON.stringify(out, (k, v) =>"
        " v instanceof Float32Array ? Array.from(v) : v));"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=json.dumps(arguments),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout, parse_int=float)  # JS writes 1e18 as digits


def _random_drawings(count: int, seed: int) -> list[list]:
    """Raw drawings as a page or a tablet records them: random walks in
    canvas pixels, rounded to 0.1 px (the page's) or 1 px, in 1-5 strokes, and
    the corner cases: one spot, a repeated point, a single-point stroke."""
    rng = np.random.default_rng(seed)
    drawings = [[[[5.0], [5.0]]], [[[5, 5, 5], [1, 1, 1]], [[5], [1]]]]
    for i in range(count):
        strokes = []
        for _ in range(rng.integers(1, 6)):
            n = int(rng.integers(1, 80))
            step = rng.choice([0.5, 3.0, 20.0])
            walk = np.cumsum(rng.normal(0, step, (n, 2)), axis=0)
            walk = np.round(walk + rng.uniform(0, 800, 2), 1 if i % 2 else 0)
            strokes.append([walk[:, 0].tolist(), walk[:, 1].tolist()])
        drawings.append(strokes)
    return drawings


def test_random_drawings_simplify_as_the_server_does():
    drawings = _random_drawings(1500, seed=0)
    got = _node("simplifyStrokes", [[d] for d in drawings])
    want = [simplify_strokes(d) for d in drawings]
    assert [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w] == []


@requires_sample
def test_the_sample_s_raw_drawings_simplify_as_the_server_does():
    drawings = [
        json.loads(line)["drawing"]
        for path in sorted(sample.RAW_EXTRA.glob("*.ndjson"))
        for line in sample.file_lines(path)
    ]
    assert len(drawings) > 1000
    got = _node("simplifyStrokes", [[d] for d in drawings])
    want = [simplify_strokes(d) for d in drawings]
    assert [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w] == []


def test_the_hypot_twins_are_numpy_s_and_python_s():
    rng = np.random.default_rng(1)
    pairs = np.concatenate(
        [
            rng.uniform(-300, 300, (20000, 2)),
            np.round(rng.uniform(-300, 300, (20000, 2)), 1),
            rng.normal(0, 1, (20000, 2)) * 10.0 ** rng.integers(-300, 300, (20000, 1)),
            [[0.0, 0.0], [0.0, 5.0], [3.0, 4.0], [1e308, 1e308]],
        ]
    ).tolist()
    assert _node("glibcHypot", pairs) == np.hypot(*np.array(pairs).T).tolist()
    assert _node("pythonHypot", pairs) == [math.hypot(x, y) for x, y in pairs]
    halves = [[v] for v in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 254.5, 3.0)]
    assert _node("rint", halves) == np.rint([v for [v] in halves]).tolist()


def test_the_page_packs_points_as_the_python_engine_does():
    strokes = [[[1, 5, 9], [2, 6, 1]], [[4], [4]], [[7, 8], [0, 3]]]
    xs = [x for s in strokes for x in s[0]]
    ys = [y for s in strokes for y in s[1]]
    lengths = [len(s[0]) for s in strokes]
    for length in (8, 4):  # room to spare, and a cut inside the second stroke
        [got] = _node("toModelPoints", [[strokes, length]])
        points, count = pack((xs, ys, lengths), length)
        assert got["count"] == int(count[0])
        assert got["points"] == points.ravel().tolist()
