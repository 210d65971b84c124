"""Trainer input benchmark: the old input path against the new, stage by
stage, on 1 core and on 2, in one run.

    .venv/bin/python bench/input_bench.py [--records 400000] [--batch_size 512]
        [--seconds 8] [--rounds 2]

Data: the real sample in ../shared/quickdraw_sample (all 345 classes) through
`pipeline.main` (caps off), its 16,223 training records repeated, shuffled,
into 8 shards of --records in all (written once under --work).

Each stage (bench/input_paths.py) runs in a child process pinned to its
cores (`os.sched_setaffinity`, set before TensorFlow starts, so tf.data
sizes its threads to them), with nothing consuming the batches: warm-up,
then --seconds of batches counted. Children run in rounds: all stages on
all cores, then the reference and both trainer inputs on one core, so that
each round sees the same background load. Per stage it prints examples/s
(wall), examples per CPU-second of the child (what the stage costs,
whatever else the host runs) and the padding share: padded steps over all
steps of the batches, as the LSTMs would run them. Then the ratios the
trainer needs: each trainer input against the reference (read + parse) on
the same cores in the same round, and 2 cores against 1. The cached
variant is measured over a whole first pass (streaming, filling the cache)
and then a second (from memory). Results: bench/out/input_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import struct
import subprocess
import sys
import time
from pathlib import Path

from tools import sample

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "out" / "input_bench"
ALL_STAGES = (
    "read,parse,old_padded,old_bucketed,old_trainer,"
    "new_read,new_parse,new_sorted,new_linear,new_trainer,new_eval"
)
CORE_STAGES = "parse,old_trainer,new_trainer"
LABELS = {
    "read": "read + batch",
    "parse": "read + batch + parse_example (the reference)",
    "old_padded": "old: + unbatch + padded_batch",
    "old_bucketed": "old: + unbatch + bucket_by_sequence_length",
    "old_trainer": "old: + point dropping + linear map (the trainer's input)",
    "new_read": "new: read in blocks, windows of records",
    "new_parse": "new: + one parse_example per window",
    "new_sorted": "new: + sorted by bucket, cut, each batch padded",
    "new_linear": "new: + linear map per batch",
    "new_trainer": "new: + points dropped per window (the trainer's input)",
    "new_eval": "new: eval input (fixed order, no augmentation)",
}
SHARDS = 8


def _load() -> str:
    """The load average (1, 5, 15 minutes), as `uptime` prints it."""
    return ", ".join(Path("/proc/loadavg").read_text().split()[:3])


def _tfrecords(path: Path) -> list[bytes]:
    """The records of one TFRecord file (the framing read, CRCs not checked)."""
    raw, out, at = path.read_bytes(), [], 0
    while at < len(raw):
        (size,) = struct.unpack_from("<Q", raw, at)
        out.append(raw[at + 12 : at + 12 + size])
        at += 12 + size + 4
    return out


def build(work: Path, records: int) -> tuple[str, str]:
    """(replicated shards' glob, the sample's training glob), built once."""
    from pipeline.records import tfrecords

    data = work / "sample"
    if not (data / "_SUCCESS").exists():
        subprocess.run(
            [sys.executable, "-m", "pipeline.main", "--input", str(sample.SAMPLE),
             "--output", str(data), "--train_per_class", "0", "--eval_per_class",
             "0", "--overwrite", "--runner=FnApiRunner"],
            cwd=REPO, check=True, capture_output=True,
        )  # fmt: skip
    source = f"{data}/training.tfrecord-*"
    out = work / f"x{records}"
    if not (out / "_SUCCESS").exists():
        out.mkdir(parents=True, exist_ok=True)
        real = [
            r for p in sorted(data.glob("training.tfrecord-*")) for r in _tfrecords(p)
        ]
        rng = random.Random(0)
        every = [real[i % len(real)] for i in range(records)]
        rng.shuffle(every)
        for shard in range(SHARDS):
            path = out / f"training.tfrecord-{shard:05d}-of-{SHARDS:05d}"
            path.write_bytes(tfrecords(every[shard::SHARDS]))
        (out / "_SUCCESS").touch()
    return f"{out}/training.tfrecord-*", source


# Stages whose elements are windows of records, not batches: no padding.
WINDOWS = ("new_read", "new_parse")


def _count(element) -> tuple[int, int, int]:
    """(examples, real steps, padded steps) of one element."""
    if not isinstance(element, tuple):  # serialized records
        return int(element.shape[0]), 0, 0
    features, labels = element
    lengths = features["lengths"].numpy()
    steps = features["ink"].shape[1]
    steps = int(lengths.max(initial=0)) if steps is None else int(steps)
    return len(labels), int(lengths.sum()), steps * len(lengths)


def _measure(it, seconds: float, batches: bool) -> dict:
    cpu0, start = time.process_time(), time.perf_counter()
    examples = real = padded = 0
    while time.perf_counter() - start < seconds:
        n, r, p = _count(next(it))
        examples, real, padded = examples + n, real + r * batches, padded + p * batches
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return {
        "examples_per_s": round(examples / wall),
        "examples_per_cpu_s": round(examples / cpu),
        "padding": round(1 - real / padded, 3) if padded else None,
    }


def child(args: argparse.Namespace) -> None:
    """Runs stages on the cores given; one JSON line per stage."""
    os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    import input_paths  # TensorFlow starts here, on those cores

    from trainer import statistics

    boundaries, _ = statistics.bucket_boundaries(args.source)
    for stage in args.stages.split(","):
        it = iter(input_paths.PATHS[stage](args.pattern, args.batch_size, boundaries))
        if stage == "new_cached":
            result = {}
            for name in ("first_pass", "second_pass"):
                result[name] = _measure_pass(it, args.records)
        else:
            start = time.perf_counter()
            while time.perf_counter() - start < args.warmup:
                next(it)
            result = _measure(it, args.seconds, stage not in WINDOWS)
        result.update(stage=stage, cpus=len(os.sched_getaffinity(0)), load=_load())
        print(json.dumps(result), flush=True)


def _measure_pass(it, records: int) -> dict:
    """Examples/s over one whole pass of `records` (training batches hold at
    least a batch each, so the pass ends within a batch of `records`)."""
    cpu0, start = time.process_time(), time.perf_counter()
    examples = 0
    while examples < records:
        examples += _count(next(it))[0]
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return {
        "examples": examples,
        "examples_per_s": round(examples / wall),
        "examples_per_cpu_s": round(examples / cpu),
    }


def _run_child(args: argparse.Namespace, cpus: str, stages: str) -> list[dict]:
    command = [
        sys.executable, __file__, "--child", "--cpus", cpus, "--stages", stages,
        "--pattern", args.pattern, "--source", args.source,
        "--records", str(args.records), "--batch_size", str(args.batch_size),
        "--seconds", str(args.seconds), "--warmup", str(args.warmup),
    ]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"input_bench: error: a child failed:\n{done.stderr[-3000:]}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line[:1] == "{"]
    for r in results:
        print(json.dumps(r), flush=True)
    return results


def _summary(rounds: list[dict], labels: dict[str, str]) -> list[str]:
    """The table: each stage's figures per round, and the trainer's ratios."""
    lines = [
        "| stage | cores | examples/s (each round) | examples per CPU-s | padding |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    keys = [k for k in rounds[0] if k[0] != "new_cached"]
    for stage, cpus in keys:
        runs = [r[(stage, cpus)] for r in rounds]
        rates = ", ".join(f"{x['examples_per_s']:,}" for x in runs)
        per_cpu = ", ".join(f"{x['examples_per_cpu_s']:,}" for x in runs)
        pad = runs[0]["padding"]
        pad = "" if pad is None else f"{pad:.1%}"
        lines.append(f"| {labels[stage]} | {cpus} | {rates} | {per_cpu} | {pad} |")
    lines.append("")
    for r, found in enumerate(rounds, 1):
        ratio = {
            key: found[key]["examples_per_s"]
            / found[("parse", key[1])]["examples_per_s"]
            for key in found
            if key[0] in ("old_trainer", "new_trainer")
        }
        scale = {
            name: found[(name, 2)]["examples_per_s"]
            / found[(name, 1)]["examples_per_s"]
            for name in ("parse", "old_trainer", "new_trainer")
            if (name, 1) in found and (name, 2) in found
        }
        lines.append(
            f"round {r}: trainer input / reference: "
            + ", ".join(f"{k[0]} on {k[1]} cores {v:.2f}x" for k, v in ratio.items())
            + "; 2 cores / 1 core: "
            + ", ".join(f"{k} {v:.2f}x" for k, v in scale.items())
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--batch_size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=8.0, help="per stage")
    parser.add_argument("--warmup", type=float, default=3.0, help="per stage")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=Path, default=WORK, help="data folder")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--cpus", "--stages", "--pattern", "--source"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(Path(__file__).parent))
        child(args)
        return
    if not sample.available():
        sys.exit(f"input_bench: error: no real sample at {sample.SAMPLE}")
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        sys.exit("input_bench: error: needs 2 cores: give it at least two")
    args.pattern, args.source = build(args.work, args.records)
    two, one = f"{cores[0]},{cores[1]}", str(cores[0])
    print(f"load before: {_load()}; {args.records:,} records, batch {args.batch_size}")
    rounds = []
    for _ in range(args.rounds):
        found = {}
        for cpus, stages in ((two, ALL_STAGES), (one, CORE_STAGES)):
            for r in _run_child(args, cpus, stages):
                found[(r["stage"], r["cpus"])] = r
        rounds.append(found)
    cached = _run_child(args, two, "new_cached")[0]
    print(f"load after: {_load()}")
    lines = _summary(rounds, LABELS)
    lines.append(
        f"cache on, 2 cores: first pass {cached['first_pass']['examples_per_s']:,} "
        f"examples/s (streaming), second {cached['second_pass']['examples_per_s']:,}"
    )
    print("\n".join(lines))
    out = REPO / "bench" / "out" / "input_bench.json"
    out.write_text(
        json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()},
             "rounds": [list(r.values()) for r in rounds], "cached": cached},
            indent=1,
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
