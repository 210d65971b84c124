"""Accuracy proxy: the trainer's default config on the real sample's big classes.

The 15 classes of ../shared/quickdraw_sample that have at least 500 drawings
(cat capped at its first 500) go through `pipeline.main` (deterministic key_id
split, 10% eval, tf.Transform statistics), then `trainer.task` trains with its
defaults plus the few flags given here, on whatever device is present, and the
eval top-1 / top-3 are printed and written to bench/out/train_accuracy.json.

  .venv/bin/python bench/train_accuracy.py [--steps 6000] [-- more trainer flags]

The tutorial-size model (3x128 BiLSTM, conv 48/64/96) without augmentation and
with a constant learning rate peaks near 81% top-1 here and then overfits; the
defaults (augmentation, AdamW weight decay, label smoothing, warmup + cosine
schedule) are what this benchmark measures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SAMPLE = REPO.parent / "shared" / "quickdraw_sample"
OUT = REPO / "bench" / "out"
MIN_DRAWINGS = 500
CAP = 500


def big_classes(sample: Path = SAMPLE) -> dict[str, list[bytes]]:
    """{class: its first CAP lines} for the classes with >= MIN_DRAWINGS lines."""
    classes = {}
    for path in sorted(sample.glob("*.ndjson")):
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        if len(lines) >= MIN_DRAWINGS:
            classes[path.stem] = lines[:CAP]
    return classes


def build_records(out: Path, sample: Path = SAMPLE) -> Path:
    """Runs the pipeline on the big classes; returns its output directory."""
    from pipeline import main as pipeline_main

    data = out / "data"
    if (data / "_SUCCESS").exists():
        return data
    raw = out / "ndjson"
    raw.mkdir(parents=True, exist_ok=True)
    for name, lines in big_classes(sample).items():
        (raw / f"{name}.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    code = pipeline_main.main(
        [
            "--input",
            str(raw),
            "--output",
            str(data),
            "--overwrite",
            "--train_per_class",
            "0",
            "--eval_per_class",
            "0",
            "--runner=FnApiRunner",
        ]
    )
    if code != 0:
        raise SystemExit(f"pipeline.main failed with exit code {code}")
    return data


def main() -> None:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--eval_every", type=int, default=500)
    parser.add_argument("--out", type=Path, default=OUT / "train_accuracy")
    args = parser.parse_args(argv)
    if not SAMPLE.is_dir():
        raise SystemExit(f"the real sample is not at {SAMPLE}")

    from trainer import task

    start = time.time()
    data = build_records(args.out)
    prepared = time.time()
    model_dir = args.out / f"model-{int(start)}"
    flags = [
        f"--training_data={data}/training.tfrecord-*",
        f"--eval_data={data}/eval.tfrecord-*",
        f"--transform_dir={data}/transform",
        f"--model_dir={model_dir}",
        f"--steps={args.steps}",
        f"--eval_every={args.eval_every}",
        *extra,
    ]
    config = task.parse_args(flags)
    task.logging.basicConfig(level="INFO")
    report = task.train(config)
    done = time.time()
    history = json.loads((model_dir / task.HISTORY_FILE).read_text())
    best = max(history, key=lambda h: h.get("val_top1", 0))
    summary = {
        "flags": flags,
        "drawings": {"eval": report["num_examples"]},
        "top1": report["top1"],
        "top3": report["top3"],
        "map3": report["map3"],
        "best_period": {"step": best["step"], "val_top1": best.get("val_top1")},
        "prepare_seconds": round(prepared - start, 1),
        "train_seconds": round(done - prepared, 1),
        "most_confused": report["most_confused"][:5],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "train_accuracy.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
