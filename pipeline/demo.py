"""`make demo`: the whole product, offline, on a small default, in a few minutes.

    python -m pipeline.demo [--output demo_out] [--synthetic] [--quick]

1. data: the real drawings in ../shared/quickdraw_sample when present (the 15
   classes with at least 500 drawings, `cat` capped like the others), else the
   project's synthetic generator;
2. the Beam pipeline on the local runner, with tf.Transform;
3. training on CPU;
4. evaluation and export;
5. predictions through the exported serving signature;
6. pictures and a summary.

Every step is the product's own command line, run as a subprocess, so that the
demo exercises exactly what a user runs (and so that tf.Transform's switch of
tf.keras in the pipeline process never reaches the Keras 3 trainer).
"""

from __future__ import annotations

import argparse
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

from pipeline import features as F

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "quickdraw_sample"
REAL_MIN_PER_CLASS = 500


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    output: Path
    synthetic: bool
    quick: bool  # the reduced size the tests use

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


def _step(number: int, title: str) -> float:
    print(f"\n=== [{number}/6] {title}", flush=True)
    return time.monotonic()


def _run(args: Sequence[str], stdout=None) -> None:
    """Runs `python -m ARGS`, one of the product's commands, streaming its output."""
    print(f"$ python -m {' '.join(args)}", flush=True)
    # TensorFlow's C++ INFO/WARNING lines (oneDNN, CUDA probing on a CPU
    # machine) would bury the demo's own progress; errors still show.
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ}
    subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, check=True, stdout=stdout, env=env
    )


def _real_inputs() -> list[str]:
    big = []
    for path in sorted(SAMPLE.glob("*.ndjson")):
        with open(path, "rb") as f:
            if sum(1 for _ in f) >= REAL_MIN_PER_CLASS:
                big.append(str(path))
    return big


def prepare_data(config: DemoConfig) -> tuple[list[str], list[str], str]:
    """(input files, pipeline caps args, a description)."""
    if not config.synthetic and SAMPLE.is_dir():
        inputs = _real_inputs()
        per_class = 100 if config.quick else REAL_MIN_PER_CLASS
        train = int(per_class * 0.9)
        caps = [f"--train_per_class={train}", f"--eval_per_class={per_class - train}"]
        return (
            inputs,
            caps,
            (
                f"real Quick, Draw! drawings: {len(inputs)} classes from {SAMPLE} "
                f"(CC BY 4.0, Google), up to {per_class} per class"
            ),
        )
    ndjson = config.output / "ndjson"
    classes, per_class = (4, 60) if config.quick else (8, 400)
    _run(
        [
            "pipeline.synth",
            f"--output={ndjson}",
            f"--classes={classes}",
            f"--per_class={per_class}",
        ]
    )
    inputs = sorted(str(p) for p in ndjson.glob("*.ndjson"))
    return inputs, [], f"synthetic drawings: {classes} classes x {per_class}"


def draw_pictures(data: Path, model: Path, inputs: list[str], pictures: Path) -> None:
    """Data counts and lengths, training curves, and the most confused pairs."""
    from pipeline import ink, render

    stats = json.loads((data / F.STATS_FILE).read_text())
    print(render.plot_stats(stats, pictures / "data_stats.png"))
    # history.json holds one entry per evaluation period, across restarts.
    entries = json.loads((model / "history.json").read_text())
    metrics = [k for k in entries[0] if k not in ("epoch", "step")]
    history = {k: [e.get(k, float("nan")) for e in entries] for k in metrics}
    print(render.plot_history(history, pictures / "training_curves.png"))
    report = json.loads((model / "eval_report.json").read_text())
    pairs = report.get("most_confused", [])
    wanted = {p[side] for p in pairs for side in ("true", "predicted")}
    examples: dict[str, list] = {}
    for path in inputs:
        with open(path, "rb") as f:
            for line in f:
                drawing = ink.parse_drawing(line)
                if drawing.word in wanted:
                    examples[drawing.word] = render.record_strokes(
                        ink.loads(line)["drawing"]
                    )
                break
    print(
        render.plot_confusion(
            {**report, "confused_pairs": pairs}, examples, pictures / "confusion.png"
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(REPO / "demo_out"))
    parser.add_argument(
        "--synthetic", action="store_true", help="ignore ../shared; use synth"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    args = parser.parse_args(argv)
    config = DemoConfig(Path(args.output).resolve(), args.synthetic, args.quick)
    started = time.monotonic()
    shutil.rmtree(config.output, ignore_errors=True)  # running twice starts afresh
    config.output.mkdir(parents=True)
    data, model, export = (config.output / d for d in ("data", "model", "export"))
    pictures = config.output / "pictures"

    _step(1, "Drawings")
    inputs, caps, description = prepare_data(config)
    print(description)

    _step(2, "Beam pipeline (local runner, tf.Transform)")
    _run(
        ["pipeline.main", *[f"--input={i}" for i in inputs], f"--output={data}", *caps]
    )

    _step(3, "Training on CPU")
    _run(
        [
            "trainer.task",
            f"--training_data={data}/{F.TRAIN_PREFIX}-*",
            f"--eval_data={data}/{F.EVAL_PREFIX}-*",
            f"--classes_file={data}/{F.CLASSES_FILE}",
            f"--transform_dir={data}/{F.TRANSFORM_DIR}",
            f"--model_dir={model}",
            f"--export_dir={export}",
            *config.train_args,
        ]
    )

    _step(4, "Evaluation report")
    report = json.loads((model / "eval_report.json").read_text())
    scores = "  ".join(f"{k} {report[k]:.3f}" for k in ("top1", "top3", "map3"))
    print(f"eval ({report['num_examples']} drawings): {scores}")

    _step(5, "Predictions through the exported serving signature")
    probe = config.output / "predict_me.ndjson"
    lines = []
    for path in inputs:
        with open(path, "rb") as f:
            lines += [next(f).rstrip(b"\n") for _ in range(2)]
    # One bad line on purpose: it gets an error line, not a crash.
    probe.write_bytes(b"\n".join(lines[:12]) + b"\n{not json}\n")
    predictions = config.output / "predictions.jsonl"
    with open(predictions, "w") as out:
        _run(["trainer.predict", "--model", str(export), str(probe)], stdout=out)
    for line in predictions.read_text().splitlines()[:4]:
        print(line)

    _step(6, "Pictures")
    pictures.mkdir()
    _run(
        [
            "pipeline.render",
            str(probe),
            f"--model={export}",
            "--color_by_stroke",
            f"--output={pictures / 'predictions.png'}",
        ]
    )
    _run(
        [
            "pipeline.render",
            *sorted(glob.glob(f"{data}/{F.EVAL_PREFIX}-*")),
            "--limit=24",
            "--color_by_stroke",
            f"--output={pictures / 'eval_records.png'}",
        ]
    )
    draw_pictures(data, model, inputs, pictures)

    stats = json.loads((data / F.STATS_FILE).read_text())
    written = stats["written"]
    summary = [
        f"=== Done in {time.monotonic() - started:.0f} s",
        f"data         {data}",
        f"             {written['train']:,} train / {written['eval']:,} eval records,"
        f" stats.json, transform/",
        f"model        {model}",
        f"             eval top-1 {report['top1']:.3f}, top-3 {report['top3']:.3f}",
        f"export       {export}  (takes raw ndjson lines or raw strokes)",
        f"predictions  {predictions}",
        f"pictures     {pictures}/",
        *[f"             {p.name}" for p in sorted(pictures.glob("*.png"))],
        "",
        "Next:",
        f"  .venv/bin/python -m trainer.predict --model {export} YOUR.ndjson",
        "  .venv/bin/python -m pipeline.main --output out/full \\",
        "      --input 'gs://quickdraw_dataset/full/simplified/*.ndjson'",
        "  ./dataflow_launch.sh --help                  # the pipeline on Dataflow",
        "  .venv/bin/python -m trainer.submit --help    # training on Vertex AI",
    ]
    print("\n" + "\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
