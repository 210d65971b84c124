"""Pipeline benchmark: ours against a tutorial-style conversion, in one run.

    .venv/bin/python bench/pipeline_bench.py [--repeats 28] [--sizes 1,2] [--binary]

Input: the real sample in ../shared/quickdraw_sample repeated with fresh key_ids
(28 x 17,989 = 503,692 drawings), so that fixed start-up costs do not dominate.

Reports, each as a ratio against the baseline measured in the same run:
- the core per-drawing path (parse -> validate -> normalise -> serialised
  Example), drawings per CPU-second, in this process;
- the whole conversion: the baseline is single-process `json.loads` + the
  tutorial's numpy + `tf.train.Example` + writes to random shards; ours is
  `python -m pipeline.main` on the default local runner (all cores), with caps
  off so that both write every drawing, with and without tf.Transform;
- peak memory (RSS of the whole process tree) of ours at growing input sizes,
  and tf.Transform's cost (wall with / without it) at each size.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tools import sample

REPO = Path(__file__).resolve().parents[1]
CORE_PATHS = ("ours", "baseline", "binary")  # binary: ours from .bin input


def build_input(directory: Path, repeats: int) -> int:
    """The sample repeated `repeats` times per class file, each copy a new key_id."""
    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    for path in sorted(sample.SAMPLE.glob("*.ndjson")):
        lines = path.read_bytes().splitlines()
        out = []
        for r in range(repeats):
            for line in lines:
                record = json.loads(line)
                record["key_id"] = f"{record['key_id']}{r:03d}"
                out.append(json.dumps(record, separators=(",", ":")))
        (directory / path.name).write_text("\n".join(out) + "\n")
        total += len(out)
    return total


def all_lines(directory: Path) -> list[bytes]:
    return [
        line
        for path in sorted(directory.glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
    ]


def core_ours(lines: list[bytes], classes: dict[str, int]) -> None:
    """parse -> validate -> normalise -> serialised Example, as EncodeStripeFn does."""
    from drawing import ink, ndjson
    from pipeline import records

    for i in range(0, len(lines), 512):
        drawings = [ndjson.parse_drawing(line, classes) for line in lines[i : i + 512]]
        inks, _ = ink.encode_batch(drawings)
        for drawing, encoded in zip(drawings, inks, strict=True):
            records.serialize(drawing, encoded, classes[drawing.word])


def core_binary(files: list[tuple[str, bytes]], classes: dict[str, int]) -> None:
    """The same path from `.bin` bytes, as pipeline.binary and EncodeStripeFn do."""
    from drawing import binary, ink
    from pipeline import records

    drawings = []  # every file's drawings, as a work unit's reader gives them
    for word, data in files:
        starts, stop, _ = binary.scan(data)
        ends = [*starts[1:], stop]
        drawings += [(word, data[s:e]) for s, e in zip(starts, ends, strict=True)]
    for i in range(0, len(drawings), 512):
        batch = [binary.to_drawing(d, w, classes) for w, d in drawings[i : i + 512]]
        inks, _ = ink.encode_batch(batch)
        for drawing, encoded in zip(batch, inks, strict=True):
            records.serialize(drawing, encoded, classes[drawing.word])


def as_binary(lines: list[bytes]) -> list[tuple[str, bytes]]:
    """The lines as one `<class>.bin` file's bytes per class (untimed)."""
    from drawing import binary

    per_class: dict[str, list[bytes]] = {}
    for line in lines:
        record = json.loads(line)
        packed = binary.pack(binary.from_record(record))
        per_class.setdefault(record["word"], []).append(packed)
    return [(word, b"".join(parts)) for word, parts in sorted(per_class.items())]


def core_baseline(lines: list[bytes], classes: dict[str, int]) -> None:
    """The same path as the tutorial writes it."""
    from tools.tutorial import tutorial_example, tutorial_parse_line

    for line in lines:
        ink, word = tutorial_parse_line(line)
        tutorial_example(ink, classes[word]).SerializeToString()


def measure_core(name: str, input_dir: Path, count: int) -> float:
    """Drawings per CPU-second of one core path, on a fixed shuffled subset."""
    lines = all_lines(input_dir)
    random.Random(0).shuffle(lines)
    lines = lines[:count]
    classes = {p.stem: i for i, p in enumerate(sorted(input_dir.glob("*.ndjson")))}
    import tensorflow  # noqa: F401  (its import cost stays outside the timing)

    fn = {"ours": core_ours, "baseline": core_baseline, "binary": core_binary}[name]
    data = as_binary(lines) if name == "binary" else lines
    gc.freeze()  # as EncodeStripeFn.setup does; the same for both sides
    start = time.process_time()
    fn(data, classes)
    return len(lines) / (time.process_time() - start)


def baseline_conversion(input_dir: Path, output_dir: Path) -> None:
    """The tutorial's conversion loop: one process, random shard per example."""
    import tensorflow as tf

    from tools.tutorial import tutorial_example, tutorial_parse_line

    output_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(input_dir.glob("*.ndjson"))
    classes = {p.stem: i for i, p in enumerate(files)}
    writers = [
        tf.io.TFRecordWriter(str(output_dir / f"training.tfrecord-{i:05d}-of-00010"))
        for i in range(10)
    ]
    rng = random.Random(0)
    for path in files:
        with open(path, "rb") as f:
            for line in f:
                ink, word = tutorial_parse_line(line)
                example = tutorial_example(ink, classes[word])
                writers[rng.randrange(10)].write(example.SerializeToString())
    for w in writers:
        w.close()


class TreeMemory:
    """Samples the summed RSS of a process and its descendants (Linux /proc)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
        todo, seen = [self.pid], []
        while todo:
            pid = todo.pop()
            seen.append(pid)
            todo += children.get(pid, [])
        return seen

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.2):
            total = 0
            for pid in self._tree():
                with contextlib.suppress(OSError):  # the process may have exited
                    total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            self.peak = max(self.peak, total * page)


def timed(argv: list[str]) -> dict:
    """Wall, CPU (children) and peak tree RSS of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    with TreeMemory(proc.pid) as mem:
        output, _ = proc.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"{argv} failed:\n{output.decode()[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "peak_rss_mb": mem.peak >> 20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=28)
    parser.add_argument(
        "--sizes", default="1,2", help="input multiples, for memory and tf.Transform"
    )
    parser.add_argument("--core_lines", type=int, default=100_000)
    parser.add_argument("--work", default=None, help="scratch directory")
    parser.add_argument(
        "--binary", action="store_true", help="also the core path from .bin input"
    )
    parser.add_argument("--core", choices=CORE_PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.core:
        print(measure_core(args.core, Path(args.work) / "input_x1", args.core_lines))
        return
    if args.baseline:
        work = Path(args.work)
        baseline_conversion(work / "input_x1", work / "base_out")
        return
    if not sample.available():
        sys.exit(f"needs the real sample at {sample.SAMPLE}")
    work = Path(args.work or tempfile.mkdtemp(prefix="qd-bench-"))
    report: dict = {"machine": f"{os.cpu_count()} CPUs", "repeats": args.repeats}

    sizes = [int(s) for s in args.sizes.split(",")]
    inputs = {}
    for size in sizes:
        inputs[size] = work / f"input_x{size}"
        report[f"drawings_x{size}"] = build_input(inputs[size], args.repeats * size)
    n = report["drawings_x1"]
    print(f"input: {n:,} drawings ({args.repeats} x sample)", flush=True)

    # Each core measurement runs in a fresh process, so that neither side pays
    # for the other's heap (building the inputs above leaves a fragmented one).
    core = {"baseline": [], "ours": [], **({"binary": []} if args.binary else {})}
    for _ in range(2):  # alternate, to share any background load
        for name in core:
            out = subprocess.run(
                [sys.executable, __file__, "--core", name, "--work", str(work),
                 "--core_lines", str(args.core_lines)],
                cwd=REPO, capture_output=True, text=True, check=True,
            )  # fmt: skip
            core[name].append(float(out.stdout.strip().splitlines()[-1]))
    report["core_drawings_per_cpu_s"] = {k: round(max(v)) for k, v in core.items()}
    report["core_speedup"] = round(max(core["ours"]) / max(core["baseline"]), 2)
    if args.binary:
        report["core_binary_vs_ndjson"] = round(
            max(core["binary"]) / max(core["ours"]), 2
        )
    print(f"core path: {report['core_speedup']}x baseline per CPU-second", flush=True)

    base = timed([sys.executable, __file__, "--baseline", "--work", str(work)])
    report["baseline"] = {**base, "drawings_per_cpu_s": round(n / base["cpu_s"])}
    print(f"baseline conversion: {base}", flush=True)

    def ours_run(size: int, *extra: str) -> dict:
        result = timed(
            [
                sys.executable,
                "-m",
                "pipeline.main",
                "--input",
                str(inputs[size]),
                "--output",
                str(work / f"ours_x{size}"),
                "--train_per_class",
                "0",
                "--eval_per_class",
                "0",
                "--overwrite",
                *extra,
            ]
        )
        drawings = report[f"drawings_x{size}"]
        return {**result, "drawings_per_cpu_s": round(drawings / result["cpu_s"])}

    for size in sizes:
        report[f"ours_x{size}"] = ours_run(size)
        print(
            f"ours x{size} (with tf.Transform): {report[f'ours_x{size}']}", flush=True
        )
    # tf.Transform's cost is mostly fixed per run (imports, graph building), so
    # its ratio is reported at every size.
    for size in sizes:
        without = report[f"ours_x{size}_without_tft"] = ours_run(
            size, "--analysis_fraction", "0"
        )
        print(f"ours x{size} without tf.Transform: {without}", flush=True)
        with_tft = report[f"ours_x{size}"]
        report[f"tft_x{size}"] = {
            "wall_ratio_with_over_without": round(
                with_tft["wall_s"] / without["wall_s"], 3
            ),
            "extra_wall_s": round(with_tft["wall_s"] - without["wall_s"], 1),
            "extra_cpu_s": round(with_tft["cpu_s"] - without["cpu_s"], 1),
        }
    ours = report["ours_x1"]
    report["wall_ratio_ours_over_baseline"] = round(ours["wall_s"] / base["wall_s"], 3)
    report["cpu_efficiency_ratio"] = round(
        ours["drawings_per_cpu_s"] / report["baseline"]["drawings_per_cpu_s"], 2
    )
    if len(sizes) > 1:
        report["peak_rss_ratio_largest_over_smallest"] = round(
            report[f"ours_x{sizes[-1]}"]["peak_rss_mb"] / ours["peak_rss_mb"], 2
        )
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
