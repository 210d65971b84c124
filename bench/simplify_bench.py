"""What `--simplify` costs, and how closely it reproduces Google's simplified files.

Cost: parsing raw-format lines with the simplification
(`ndjson.parse_drawing(..., simplify=True)`) against parsing the same lines
without it, in the same run, on the sample's raw drawings (raw_extra/, 2,289
drawings) and on its simplified ones (17,989).

Simplified again: how many of the sample's simplified drawings come back
unchanged when simplified a second time (why `serving.request_parser` passes
simplified drawings as they are).

Fidelity, with --raw_dirs: raw-format ndjson files whose drawings also appear,
simplified by Google, in the sample (checkouts of borismus/exupery and
peter-grajcar/drawtomat; see the sample's README) are simplified here and
compared with Google's lines.

    .venv/bin/python bench/simplify_bench.py [--raw_dirs DIR ...]
"""

from __future__ import annotations

import argparse
import ast
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from drawing import ndjson
from drawing.simplify import simplify_strokes
from tools import sample


def per_drawing_seconds(fn: Callable[[bytes], object], lines: list[bytes]) -> float:
    """Best of 3 passes over `lines`, CPU seconds per line."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for line in lines:
            fn(line)
        best = min(best, time.process_time() - start)
    return best / len(lines)


def cost(label: str, lines: list[bytes]) -> None:
    plain = per_drawing_seconds(ndjson.parse_drawing, lines)
    simplified = per_drawing_seconds(
        lambda line: ndjson.parse_drawing(line, simplify=True), lines
    )
    print(
        f"{label}: {len(lines):,} drawings; parse {plain * 1e6:.0f} us, "
        f"parse + simplify {simplified * 1e6:.0f} us per drawing "
        f"({simplified / plain:.1f}x)"
    )


def read_records(path: Path) -> list[dict]:
    records = []
    for line in path.read_bytes().splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:  # drawtomat's first files: Python reprs
            try:
                records.append(ast.literal_eval(line.decode()))
            except (ValueError, SyntaxError, UnicodeDecodeError):
                continue
    return [r for r in records if isinstance(r, dict)]


def simplified_again() -> None:
    drawings = [orjson.loads(line)["drawing"] for line in sample.all_lines()]
    same = sum(simplify_strokes(d) == d for d in drawings)
    print(
        f"simplified again: {same:,} of {len(drawings):,} simplified drawings "
        f"({same / len(drawings):.1%}) come back unchanged"
    )


def fidelity(raw_dirs: list[Path]) -> None:
    google = {}
    for line in sample.all_lines():
        record = orjson.loads(line)
        google[(record["word"], str(record["key_id"]))] = record["drawing"]
    raw = {}
    for directory in raw_dirs:
        for path in sorted(directory.rglob("*.ndjson")):
            for record in read_records(path):
                key = (record.get("word"), str(record.get("key_id")))
                if key in google and key not in raw:
                    raw[key] = record["drawing"]
    exact = sum(simplify_strokes(d) == google[key] for key, d in raw.items())
    print(
        f"fidelity: {len(raw):,} raw drawings with Google's simplified line in "
        f"the sample; {exact:,} ({exact / max(len(raw), 1):.1%}) reproduced exactly"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw_dirs", nargs="*", type=Path, default=[])
    args = parser.parse_args()
    cost("raw_extra", sample.all_lines(sample.RAW_EXTRA))
    cost("simplified sample", sample.all_lines())
    simplified_again()
    if args.raw_dirs:
        fidelity(args.raw_dirs)


if __name__ == "__main__":
    main()
