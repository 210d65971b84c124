"""Coverage-guided fuzzing of the pipeline's line parser with atheris (libFuzzer).

    pip install atheris   # optional; only this script needs it
    .venv/bin/python bench/fuzz_parser.py --seconds 60 [--mode lines] [--simplify]

Every line must give a drawing or a `BadDrawing` with a reason, an accepted
drawing must encode to finite ink of the right shape, and a batch must encode
each drawing as it encodes alone: the contract of
`tests/pipeline/test_fuzz_ink.py`, whose checks this runs, guided by coverage
of `drawing.ink` and `drawing.simplify`, for as long as one likes.

Two modes. `records` (default): the fuzzer's bytes drive the choices of a
record builder (strokes, their lengths and layout, numbers at float32's edges),
so mutations land on strokes and values. `lines`: the bytes are the ndjson
lines, with a seed corpus and a dictionary of the format's tokens; this one
mostly exercises the JSON and UTF-8 layer, which is orjson's C code and gives
the fuzzer little coverage to follow.

Prints the executions, the coverage, what the lines turned into, and any
crash: libFuzzer saves the crashing input as WORK/crash-<sha1>, which
`--mode MODE --replay FILE` runs again outside the fuzzer.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

SEEDS = [
    b'{"word":"cat","countrycode":"US","recognized":true,"key_id":"5201136883597312",'
    b'"drawing":[[[130,113,99],[72,40,27]],[[76,28,7],[136,128,128]]]}',
    b'{"word":"dog","key_id":"2","drawing":[[[1.5,2.25,9e2],[3,4,5],[0,10,20]]]}',
    b'{"word":"cat","key_id":3,"drawing":[[[0],[0]],[[5,6],[7,8]],[[],[]]]}',
    b'{"word":"cat","key_id":"4","drawing":[[[3.0e38,-3.0e38],[1,2]]]}',
    b'{"word":"cat","key_id":"5","drawing":[[[[1],[2]],[[3],[4]]]]}',
    b'{"word":"emu","key_id":"6","drawing":[[[1,2],[3]]]}\n'
    b'{"word":"dog","key_id":"7","drawing":[[[1,2],[3,4]]]}',
]
TOKENS = [
    b'"word"', b'"key_id"', b'"drawing"', b'"recognized"', b'"cat"', b'"dog"',
    b'"\\u00e7a"', b"[", b"]", b"[[", b"]]", b"{", b"}", b":", b",", b"true",
    b"false", b"null", b"\n", b"1e400", b"-1e400", b"NaN", b"3.4028235e38",
    b"-3.4028235e38", b"3e38", b"-3e38", b"18446744073709551615",
    b"-9223372036854775809", b"1e-45", b"-0", b"0.5", b"\xff", b"\xed\xa0\x80",
]  # fmt: skip
STATS_EVERY_S = 2.0
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_COVERAGE = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)")
_PROGRESS = re.compile(r"^#(\d+)\s", re.MULTILINE)


def _lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line.strip()]


# --mode records: the input drives the choices that build one record, as the
# structured hypothesis strategies do.
WORDS = ['"cat"', '"dog"', '"\\u00e7a"', '"emu"', '""', "5", "null", "[]"]
KEY_IDS = ['"1"', "7", '""', "null", "1180591620717411303424", "true"]
NUMBERS = [
    "0", "-0", "1", "255", "3e38", "-3e38", "3.4028235e38", "-3.4028235e38",
    "1e38", "1e308", "-1e308", "1e400", "18446744073709551615", "-9223372036854775809",
    "1e-45", "NaN", "true", "null", '"7"', "[1]", "[]", "{}",
]  # fmt: skip


def _record(data: bytes) -> bytes:
    """One ndjson record whose every choice comes from the fuzzer's bytes."""
    import atheris

    fdp = atheris.FuzzedDataProvider(data)

    def pick(options: list[str]) -> str:
        return options[fdp.ConsumeIntInRange(0, len(options) - 1)]

    def number() -> str:
        kind = fdp.ConsumeIntInRange(0, 3)
        if kind == 0:
            return str(fdp.ConsumeIntInRange(0, 255))
        if kind == 1:
            return repr(fdp.ConsumeRegularFloat())
        if kind == 2:
            return str(fdp.ConsumeInt(9))
        return pick(NUMBERS)

    strokes = []
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        n = fdp.ConsumeIntInRange(0, 50)
        xs = ",".join(number() for _ in range(n))
        ys = ",".join(number() for _ in range(n + (fdp.ConsumeIntInRange(0, 9) == 9)))
        layout = fdp.ConsumeIntInRange(0, 5)
        if layout == 4:  # lists where the numbers belong
            xs, ys = (",".join(f"[{v}]" for v in c.split(",") if v) for c in (xs, ys))
        strokes.append(f"[[{xs}],[{ys}]]" if layout != 5 else f"[[{xs}]]")
    return (
        f'{{"word":{pick(WORDS)},"key_id":{pick(KEY_IDS)},'
        f'"recognized":{pick(["true", "false", "0"])},'
        f'"drawing":[{",".join(strokes)}]}}'
    ).encode()


def decode(data: bytes, mode: str) -> list[bytes]:
    """The lines one fuzzer input stands for."""
    return _lines(data) if mode == "lines" else [_record(data)]


def _fuzz(args: argparse.Namespace) -> None:
    """The child: runs libFuzzer until --seconds, never returns."""
    import atheris

    with atheris.instrument_imports(include=["drawing", "pipeline"]):
        from drawing import ink, ndjson, simplify  # noqa: F401 (instrumented)
    from tests.pipeline.test_fuzz_ink import CLASS_INDEX, MAX_POINTS, check_batch

    outcomes: collections.Counter = collections.Counter()
    last_dump = [time.monotonic()]
    stats_path = Path(args.work) / "outcomes.json"

    def one_input(data: bytes) -> None:
        lines = decode(data, args.mode)
        check_batch(lines, args.simplify)  # raises on a broken contract
        for line in lines:  # tally what the lines became, for the report
            try:
                drawing = ndjson.parse_drawing(
                    line, CLASS_INDEX, MAX_POINTS, args.simplify
                )
            except ndjson.BadDrawing as err:
                outcomes[err.reason.value] += 1
                continue
            inks, errors = ink.encode_batch([drawing])
            encoded = inks[0] is not None
            outcomes["encoded" if encoded else errors[0].reason.value] += 1
        if time.monotonic() - last_dump[0] > STATS_EVERY_S:
            stats_path.write_text(json.dumps(outcomes))
            last_dump[0] = time.monotonic()

    work = Path(args.work)
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={args.seconds}",
            "-timeout=20",
            "-rss_limit_mb=4096",
            "-max_len=4096",
            f"-dict={work / 'json.dict'}",
            f"-artifact_prefix={work}/",
            "-print_final_stats=1",
            str(work / "corpus"),
        ],
        one_input,
    )
    atheris.Fuzz()


def _prepare(work: Path) -> None:
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(SEEDS):
        (work / "corpus" / f"seed-{i}").write_bytes(seed)
    (work / "json.dict").write_text("".join(f'"{_escape(t)}"\n' for t in TOKENS))


def _escape(token: bytes) -> str:
    """A libFuzzer dictionary entry's body: printable ASCII as is, else \\xNN."""
    return "".join(
        chr(c) if 32 <= c < 127 and c not in b'"\\' else f"\\x{c:02x}" for c in token
    )


def _replay(path: str, mode: str, simplify: bool) -> int:
    from tests.pipeline.test_fuzz_ink import check_batch

    lines = decode(Path(path).read_bytes(), mode)
    print(f"replaying {path}: {lines!r:.2000}")
    check_batch(lines, simplify)  # a traceback if it still fails
    print("no failure")
    return 0


def _report(run: subprocess.CompletedProcess, work: Path, args) -> int:
    log = run.stdout
    (work / "fuzz.log").write_text(log)
    done = _DONE.findall(log)
    coverage = _COVERAGE.findall(log)
    crashes = sorted(work.glob("crash-*")) + sorted(work.glob("timeout-*"))
    crashes += sorted(work.glob("oom-*"))
    outcomes_file = work / "outcomes.json"
    outcomes = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else {}
    if done:
        runs, secs = map(int, done[-1])
        print(f"executions: {runs:,} in {secs} s ({runs / max(secs, 1):,.0f}/s)")
    elif progress := _PROGRESS.findall(log):
        print(f"executions: {int(progress[-1]):,}+ (stopped, exit {run.returncode})")
    else:
        print(f"executions: none counted (fuzzer exit {run.returncode})")
    if coverage:
        cov, features, corpus = coverage[-1]
        print(f"coverage: {cov} edges, {features} features, corpus {corpus} inputs")
    if outcomes:
        total = sum(outcomes.values())
        print(f"lines seen (sampled every {STATS_EVERY_S:.0f} s): {total:,}")
        for name, n in sorted(outcomes.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<16} {n:>10,}")
    if crashes:
        print(f"CRASH: {len(crashes)} input(s) saved:")
        for path in crashes:
            print(f"  {path}  (replay: --mode {args.mode} --replay {path})")
        start = log.find("=== Uncaught Python exception")
        if start >= 0:
            print("\n".join(log[start:].splitlines()[:25]))
        return 1
    print(f"no crash in {args.seconds} s; full log: {work / 'fuzz.log'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--mode",
        choices=("records", "lines"),
        default="records",
        help="records: inputs drive a record builder; lines: inputs are the lines",
    )
    parser.add_argument(
        "--simplify", action="store_true", help="parse with --simplify's path"
    )
    parser.add_argument("--work", help="corpus, crashes and log (default: a temp dir)")
    parser.add_argument("--replay", help="run one saved input through the checks")
    parser.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay:
        return _replay(args.replay, args.mode, args.simplify)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install atheris", file=sys.stderr)
        return 2
    if args._child:
        _fuzz(args)
    work = Path(args.work or tempfile.mkdtemp(prefix="fuzz_parser-"))
    _prepare(work)
    print(
        f"fuzzing drawing.ink ({args.mode}) for {args.seconds} s in {work}", flush=True
    )
    child = [sys.executable, __file__, "--_child", f"--seconds={args.seconds}"]
    child += [f"--work={work}", f"--mode={args.mode}"]
    child += ["--simplify"] if args.simplify else []
    # libFuzzer ends the process itself; the parent reads its final stats.
    run = subprocess.run(child, capture_output=True, text=True, cwd=REPO, check=False)
    run.stdout += run.stderr
    return _report(run, work, args)


if __name__ == "__main__":
    sys.exit(main())
