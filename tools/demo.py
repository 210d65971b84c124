"""`make demo`: the whole product, offline, on a small default, in a few minutes.

    python -m tools.demo [--output demo_out] [--synthetic] [--quick]

1. data: the real drawings in ../shared/quickdraw_sample when present (the 15
   classes with at least 500 drawings, `cat` capped like the others), else the
   project's synthetic generator;
2. the Beam pipeline on the local runner, with tf.Transform;
3. training on CPU;
4. evaluation and export;
5. predictions through the exported serving signature, and the drawing page
   and game as a static site, the model in the tab (`serving.site`);
6. pictures and a summary.

Every step is the product's own command line, run as a subprocess, so that the
demo exercises exactly what a user runs (and so that tf.Transform's switch of
tf.keras in the pipeline process never reaches the Keras 3 trainer).
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from drawing import features as F
from drawing import flags, logs
from drawing.flags import InputError, flag
from tools import recognition_chart, sample
from trainer.config import HISTORY_FILE, REPORT_FILE  # no TensorFlow import

REPO = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """The demo's settings; each field is a flag."""

    output: Path = flag(REPO / "demo_out", "where everything goes", type=Path)
    synthetic: bool = flag(False, "ignore ../shared; use synth", action="store_true")
    quick: bool = flag(False, "tiny sizes (tests)", action="store_true")

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", Path(self.output).resolve())

    @property
    def train_args(self) -> list[str]:
        """A small model and a short schedule: minutes on 2 CPU cores."""
        if self.quick:
            size = ["--num_layers=1", "--num_nodes=16", "--num_conv=[16]"]
            return [*size, "--conv_len=[5]", "--batch_size=32", "--steps=60",
                    "--eval_every=30", "--warmup_steps=10"]  # fmt: skip
        size = ["--num_layers=2", "--num_nodes=64", "--num_conv=[32, 48, 64]"]
        return [*size, "--conv_len=[5, 5, 3]", "--batch_size=64", "--steps=1500",
                "--eval_every=250", "--warmup_steps=100"]  # fmt: skip

    def path(self, name: str) -> Path:
        """data, model, export, pictures, ... under the demo's output."""
        return self.output / name


def _step(number: int, title: str) -> float:
    print(f"\n=== [{number}/6] {title}", flush=True)
    return time.monotonic()


def _run(args: Sequence[str], stdout=None) -> None:
    """Runs `python -m ARGS`, one of the product's commands, streaming its output."""
    print(f"$ python -m {' '.join(args)}", flush=True)
    # Each command keeps the libraries' notices out of the demo's progress by
    # itself (drawing.logs); --verbose reaches them through the environment.
    done = subprocess.run([sys.executable, "-m", *args], cwd=REPO, stdout=stdout)
    if done.returncode:
        raise InputError(
            f"the step `python -m {args[0]}` failed (exit status "
            f"{done.returncode}): its own error is above; fix that, then run "
            "tools.demo again"
        )


def prepare_data(config: DemoConfig) -> tuple[list[str], list[str], str]:
    """(input files, pipeline caps args, a description)."""
    if not config.synthetic and sample.available():
        inputs = [str(sample.SAMPLE / f"{c}.ndjson") for c in sample.big_classes()]
        per_class = 100 if config.quick else sample.BIG_CLASS_MIN
        train = int(per_class * 0.9)
        caps = [f"--train_per_class={train}", f"--eval_per_class={per_class - train}"]
        return (
            inputs,
            caps,
            (
                f"real Quick, Draw! drawings: {len(inputs)} classes from "
                f"{sample.SAMPLE} (CC BY 4.0, Google), up to {per_class} per class"
            ),
        )
    ndjson = config.path("ndjson")
    classes, per_class = (4, 60) if config.quick else (8, 400)
    _run(
        [
            "tools.synth",
            f"--output={ndjson}",
            f"--classes={classes}",
            f"--per_class={per_class}",
        ]
    )
    inputs = sorted(str(p) for p in ndjson.glob("*.ndjson"))
    return inputs, [], f"synthetic drawings: {classes} classes x {per_class}"


def _train(config: DemoConfig) -> None:
    data = config.path("data")
    _run(
        [
            "trainer.task",
            f"--training_data={data}/{F.TRAIN_PREFIX}-*",
            f"--eval_data={data}/{F.EVAL_PREFIX}-*",
            f"--classes_file={data}/{F.CLASSES_FILE}",
            f"--transform_dir={data}/{F.TRANSFORM_DIR}",
            f"--model_dir={config.path('model')}",
            f"--export_dir={config.path('export')}",
            *config.train_args,
        ]
    )


def _predict(config: DemoConfig, inputs: list[str]) -> Path:
    """Two drawings of each class and one bad line through the exported model."""
    probe = config.path("predict_me.ndjson")
    lines = []
    for path in inputs:
        with open(path, "rb") as f:
            lines += [next(f).rstrip(b"\n") for _ in range(2)]
    # One bad line on purpose: it gets an error line, not a crash.
    probe.write_bytes(b"\n".join(lines[:12]) + b"\n{not json}\n")
    predictions = config.path("predictions.jsonl")
    with open(predictions, "w") as out:
        export = str(config.path("export"))
        _run(["serving.predict", "--model", export, str(probe)], stdout=out)
    for line in predictions.read_text().splitlines()[:4]:
        print(line)
    return predictions


def _site(config: DemoConfig) -> str:
    """The page as a static site (serving.site), or why there is none."""
    from serving.site import runtime_files

    if not runtime_files():
        return "no static site: LiteRT.js is not installed (npm ci; make venv does)"
    site = config.path("site")
    _run(["serving.site", f"--model={config.path('export')}", f"--out={site}"])
    return f"static site {site}"


def draw_pictures(config: DemoConfig, inputs: list[str]) -> None:
    """Predictions and eval records as grids, data counts and lengths, training
    curves, and the most confused pairs."""
    from tools import charts, panels

    data, model, pictures = (config.path(d) for d in ("data", "model", "pictures"))
    pictures.mkdir()
    probe, export = config.path("predict_me.ndjson"), config.path("export")
    _run(
        [
            "tools.render",
            str(probe),
            f"--model={export}",
            "--color_by_stroke",
            f"--output={pictures / 'predictions.png'}",
        ]
    )
    _run(
        [
            "tools.render",
            *sorted(glob.glob(f"{data}/{F.EVAL_PREFIX}-*")),
            "--limit=24",
            "--color_by_stroke",
            f"--output={pictures / 'eval_records.png'}",
        ]
    )
    stats = json.loads((data / F.STATS_FILE).read_text())
    print(charts.plot_stats(stats, pictures / "data_stats.png"))
    # history.json holds one entry per evaluation period, across restarts.
    entries = json.loads((model / HISTORY_FILE).read_text())
    metrics = [k for k in entries[0] if k not in ("epoch", "step")]
    history = {k: [e.get(k, float("nan")) for e in entries] for k in metrics}
    print(charts.plot_history(history, pictures / "training_curves.png"))
    report = json.loads((model / REPORT_FILE).read_text())
    pairs = report.get("most_confused", [])
    wanted = {p[side] for p in pairs for side in ("true", "predicted")}
    confusion = {**report, "confused_pairs": pairs}
    # The first drawing of each wanted class (a file holds one class).
    examples = {
        p.label: p.strokes
        for path in inputs
        for p in panels.read_ndjson(Path(path), 1)
        if p.label in wanted
    }
    print(charts.plot_confusion(confusion, examples, pictures / "confusion.png"))
    print(recognition_chart.plot_recognition(report, pictures / "recognition.png"))


def _summary(config: DemoConfig, started: float) -> str:
    data, model, export, pictures = (
        config.path(d) for d in ("data", "model", "export", "pictures")
    )
    written = json.loads((data / F.STATS_FILE).read_text())["written"]
    report = json.loads((model / REPORT_FILE).read_text())
    lines = [
        f"=== Done in {time.monotonic() - started:.0f} s",
        f"data         {data}",
        f"             {written[F.TRAIN]:,} train / {written[F.EVAL]:,} eval "
        "records, stats.json, transform/",
        f"model        {model}",
        f"             eval top-1 {report['top1']:.3f}, top-3 {report['top3']:.3f}",
        *[f"{'':13}{line}" for line in recognition_chart.summary(report).splitlines()],
        f"export       {export}  (takes raw ndjson lines or raw strokes)",
        f"predictions  {config.path('predictions.jsonl')}",
        f"pictures     {pictures}/",
        *[f"             {p.name}" for p in sorted(pictures.glob("*.png"))],
        "",
        "Draw for the model you just trained (a page that guesses while you draw):",
        f"  .venv/bin/python -m serving.serve --model {export}",
        "  then open http://127.0.0.1:8080/",
        *_site_lines(config.path("site")),
        "",
        "Next:",
        f"  .venv/bin/python -m serving.predict --model {export} YOUR.ndjson",
        "  .venv/bin/python -m pipeline.main --output out/full \\",
        "      --input 'gs://quickdraw_dataset/full/simplified/*.ndjson'",
        "  ./dataflow_launch.sh --help                  # the pipeline on Dataflow",
        "  .venv/bin/python -m trainer.submit --help    # training on Vertex AI",
    ]
    return "\n".join(lines)


def _site_lines(site: Path) -> list[str]:
    """How to open the static site, if the demo wrote one."""
    return [
        "or the same page and game as a static site, the model in your browser tab",
        "(no server code: any static file host serves the folder as it is):",
        f"  python3 -m http.server -d {site} 8000",
        "  then open http://127.0.0.1:8000/",
    ] * (site / "index.html").exists()


def parse_args(argv: Sequence[str] | None = None) -> DemoConfig:
    """Flags -> DemoConfig."""
    description = __doc__.split("\n\n")[0]
    return flags.parse(DemoConfig, argv, "python -m tools.demo", description)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the six steps, each the product's own command."""
    config = parse_args(argv)
    if logs.setup(argv):
        os.environ[logs.VERBOSE_ENV] = "1"  # for the commands the demo runs
    started = time.monotonic()
    shutil.rmtree(config.output, ignore_errors=True)  # running twice starts afresh
    with flags.writing("--output", config.output):
        config.output.mkdir(parents=True)

    _step(1, "Drawings")
    inputs, caps, description = prepare_data(config)
    print(description)
    _step(2, "Beam pipeline (local runner, tf.Transform)")
    data = config.path("data")
    _run(
        ["pipeline.main", *[f"--input={i}" for i in inputs], f"--output={data}", *caps]
    )
    _step(3, "Training on CPU")
    _train(config)
    _step(4, "Evaluation report")
    report = json.loads((config.path("model") / REPORT_FILE).read_text())
    scores = "  ".join(f"{k} {report[k]:.3f}" for k in ("top1", "top3", "map3"))
    print(f"eval ({report['num_examples']} drawings): {scores}")
    print(recognition_chart.summary(report))
    _step(5, "Predictions through the exported serving signature; the static site")
    _predict(config, inputs)
    print(_site(config))
    _step(6, "Pictures")
    draw_pictures(config, inputs)
    print("\n" + _summary(config, started))
    return 0


if __name__ == "__main__":
    with flags.one_line_errors("tools.demo"):
        sys.exit(main())
