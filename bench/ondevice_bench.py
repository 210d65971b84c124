"""The on-device model against the SavedModel: size, latency, accuracy.

On the 15-class proxy of `bench/train_accuracy.py` (its pipeline output and
a model it trained, export and all):

* size: the export's on-device models (float32, int8) against its SavedModel;
* latency per drawing, raw strokes in and top-k out, simplification included,
  on the same eval drawings one at a time: in a Chromium tab (LiteRT.js, the
  static site of `serving.site` on a plain static server), through the
  Python interpreter (`serving.predict --engine litert`'s predictor), and
  through `serving.serve` (one HTTP request a drawing, as its page asks).
  The three run in turns, `--rounds` times, as the host's speed varies; the
  medians are compared as ratios to serve's in the same round;
* top-1 on the proxy's eval set of the SavedModel, the float32 and the int8
  on-device models, and how often each agrees with the SavedModel's top-1.

  .venv/bin/python bench/ondevice_bench.py --proxy bench/out/train_accuracy

Writes bench/out/ondevice_bench.json and prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from drawing import features as F

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
CHROMIUM = "/usr/bin/chromium"
TAB_SCORE = """async (drawings) => {
  const tab = await import("./ondevice.js");
  const meta = await tab.load();
  const times = [], tops = [];
  for (const drawing of drawings) {
    const start = performance.now();
    const answer = await tab.predict(drawing, meta.k);
    times.push(performance.now() - start);
    tops.push(answer.classes[0]);
  }
  return { times, tops };
}"""


def load() -> float:
    return os.getloadavg()[0]


def eval_lines(proxy: Path) -> list[bytes]:
    """The proxy's eval drawings: the ndjson lines of the eval records' key_ids."""
    import tensorflow as tf

    spec = {F.KEY_ID: tf.io.FixedLenFeature([], tf.string)}
    files = sorted(str(p) for p in (proxy / "data").glob(f"{F.EVAL_PREFIX}-*"))
    keys = {
        tf.io.parse_single_example(r, spec)[F.KEY_ID].numpy().decode()
        for r in tf.data.TFRecordDataset(files)
    }
    return [
        line
        for path in sorted((proxy / "ndjson").glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
        if json.loads(line)[F.KEY_ID] in keys
    ]


def sizes(export: Path) -> dict:
    saved = sum(
        p.stat().st_size
        for p in [export / "saved_model.pb", *(export / "variables").iterdir()]
    )
    ondevice = export / "ondevice"
    return {
        "savedmodel_bytes": saved,
        "float32_bytes": (ondevice / "model.tflite").stat().st_size,
        "int8_bytes": (ondevice / "model_int8.tflite").stat().st_size,
    }


def accuracy(export: Path, lines: list[bytes]) -> dict:
    """Top-1 of each engine on the eval lines, and agreement with the SavedModel."""
    from serving import predict

    words = [json.loads(line)[F.WORD] for line in lines]
    results = {}
    for name, engine, int8 in (
        ("savedmodel", "savedmodel", False),
        ("float32", "litert", False),
        ("int8", "litert", True),
    ):
        answers = predict.load(str(export), engine, int8).predict(lines, k=1)
        results[name] = [a["top_k"][0] for a in answers]
    out = {"eval_drawings": len(lines)}
    for name, tops in results.items():
        saved = results["savedmodel"]
        pairs = list(zip(tops, saved, strict=True))
        out[name] = {
            "top1": sum(t["class"] == w for t, w in zip(tops, words, strict=True))
            / len(lines),
            "agrees_with_savedmodel": sum(a["class"] == b["class"] for a, b in pairs)
            / len(lines),
            "max_top1_gap": max(
                abs(a["probability"] - b["probability"]) for a, b in pairs
            ),
        }
    return out


def raw(line: bytes) -> list:
    """A dataset drawing as a page sends it: strokes with times."""
    strokes = json.loads(line)[F.DRAWING]
    return [[xs, ys, [10 * i for i in range(len(xs))]] for xs, ys in strokes]


@contextlib.contextmanager
def process(args: list[str], url: str):
    """A server subprocess, until `url` answers."""
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        for _ in range(600):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=2).close()
                break
            time.sleep(0.2)  # a bench: waiting on start-up by polling is fine
        yield
    finally:
        proc.terminate()
        proc.wait()


def python_times(predictor, drawings: list) -> list[float]:
    """Per drawing: the server's simplification, then the LiteRT interpreter."""
    from drawing.simplify import simplify_strokes

    times = []
    for drawing in drawings:
        start = time.perf_counter()
        strokes = simplify_strokes(drawing)
        xs = [x for s in strokes for x in s[0]]
        ys = [y for s in strokes for y in s[1]]
        predictor.score([(xs, ys, [len(s[0]) for s in strokes])], predictor.max_k)
        times.append(1000 * (time.perf_counter() - start))
    return times


def serve_times(url: str, drawings: list) -> tuple[list[float], list[str]]:
    times, tops = [], []
    for drawing in drawings:
        body = json.dumps({"instances": [{"drawing": drawing}]}).encode()
        request = urllib.request.Request(
            url + "/v1/models/quickdraw:predict",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        times.append(1000 * (time.perf_counter() - start))
        tops.append(answer["predictions"][0]["classes"][0])
    return times, tops


def latency(export: Path, lines: list[bytes], rounds: int) -> dict:
    from playwright.sync_api import sync_playwright

    from serving.ondevice_predictor import OnDevicePredictor

    drawings = [raw(line) for line in lines]
    predictor = OnDevicePredictor(str(export))
    python_times(predictor, drawings[:20])  # warm: each signature's first call
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        subprocess.run(
            [sys.executable, "-m", "serving.site", f"--model={export}",
             f"--out={site}"], cwd=REPO, check=True,
        )  # fmt: skip
        serve, static = "http://127.0.0.1:8781", "http://127.0.0.1:8782"
        serve_args = ["-m", "serving.serve", f"--model={export}", "--port=8781"]
        static_args = ["-m", "http.server", "8782", "--bind", "127.0.0.1"]
        with (
            process(serve_args, serve + "/v1/models/quickdraw"),
            process([*static_args, "--directory", str(site)], static + "/"),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            page.goto(static + "/")
            start = time.perf_counter()
            page.evaluate(TAB_SCORE, drawings[:1])  # loads runtime and model
            first_load_ms = 1000 * (time.perf_counter() - start)
            page.evaluate(TAB_SCORE, drawings[:20])  # warm, as the others
            serve_times(serve, drawings[:20])
            runs = {
                "tab": lambda: page.evaluate(TAB_SCORE, drawings),
                "python": lambda: {"times": python_times(predictor, drawings)},
                "serve": lambda: dict(
                    zip(("times", "tops"), serve_times(serve, drawings), strict=True)
                ),
            }
            for number in range(rounds):
                row: dict = {"round": number + 1, "load_before": load()}
                order = list(runs)[number % 3 :] + list(runs)[: number % 3]
                done = {name: runs[name]() for name in order}  # in turns
                for name, run in done.items():
                    row[f"{name}_ms"] = statistics.median(run["times"])
                pairs = zip(done["tab"]["tops"], done["serve"]["tops"], strict=True)
                row["tab_top1_equals_serve"] = sum(a == b for a, b in pairs) / len(
                    drawings
                )
                row["load_after"] = load()
                rows.append(row)
                print(json.dumps(row), flush=True)
            browser.close()
    return {"drawings": len(drawings), "first_tab_load_ms": first_load_ms,
            "rounds": rows, **_ratios(rows)}  # fmt: skip


def _ratios(rows: list[dict]) -> dict:
    """Medians over the rounds of each method's median, as ratios to serve's."""
    return {
        f"{name}_over_serve": statistics.median(
            r[f"{name}_ms"] / r["serve_ms"] for r in rows
        )
        for name in ("tab", "python")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proxy", type=Path, default=OUT / "train_accuracy",
                        help="bench/train_accuracy.py's --out")  # fmt: skip
    parser.add_argument("--model", type=Path, help="an export (default: the "
                        "newest model-*/export under --proxy)")  # fmt: skip
    parser.add_argument("--drawings", type=int, default=200, help="for latency")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    export = args.model or sorted(args.proxy.glob("model-*/export"))[-1]
    lines = eval_lines(args.proxy)
    result = {"export": str(export), "load_start": load(), **sizes(export)}
    result["accuracy"] = accuracy(export, lines)
    spread = lines[:: max(1, len(lines) // args.drawings)][: args.drawings]
    result["latency"] = latency(export, spread, args.rounds)
    result["load_end"] = load()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ondevice_bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
