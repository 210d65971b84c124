"""Load test of `serving.serve` on loopback, against the model alone in-process.

  .venv/bin/python bench/serve_load.py --model demo_out/export \\
      [--clients 8] [--seconds 20] [--instances 1] [-- --gather false]

Starts `python -m serving.serve` on the model (args after `--` go to it), then
N clients send predict requests as fast as they are answered, each waiting for
its answer before the next (as the drawing page does), for T seconds. The
drawings are the sample's real raw-format drawings (`raw_extra/`: floats,
canvas coordinates), so the server simplifies each one before scoring, as it
would the page's.

Reports drawings per second, p50 and p99 latency, and every failed request
(status and answer, or the exception). Baseline, measured in the same run on
the same drawings: `serving.predict.Predictor` in this process on their
simplified lines (no HTTP, no simplification) in batches of 1, 8, 64 and 256,
so the server's throughput is also given as a ratio to the best of them and
to one drawing per call.

The clients run in this process on the same machine, so they take CPU from
the server: the figure is a lower bound of what the server does alone.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from tools import sample  # noqa: E402

PREDICT = "/v1/models/quickdraw:predict"
STATUS = "/v1/models/quickdraw"
MAX_SECONDS = 600
MAX_CLIENTS = 256
BASELINE_BATCHES = (1, 8, 64, 256)


def raw_drawings(limit: int) -> list[list]:
    """The sample's raw-format drawings (strokes of float canvas coordinates)."""
    lines = sample.all_lines(sample.RAW_EXTRA)[:limit]
    return [orjson.loads(line)["drawing"] for line in lines]


def baseline(model: str, drawings: list[list], seconds: float = 5.0) -> dict:
    """Drawings per second of the in-process Predictor on the simplified lines,
    at a few batch sizes (bigger is not always faster: a batch is padded to
    its longest drawing)."""
    from drawing.simplify import simplify_strokes
    from serving.predict import Predictor

    lines = [orjson.dumps({"drawing": simplify_strokes(d)}) for d in drawings]
    predictor = Predictor(model)
    predictor.predict(lines[:64])  # warm up
    rates = {}
    for batch in BASELINE_BATCHES:
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            i = done % len(lines)
            done += len(predictor.predict(lines[i : i + batch], batch_size=batch))
        rates[batch] = done / (time.perf_counter() - start)
    return rates


@contextlib.contextmanager
def running_server(model: str, args: list[str]):
    """`python -m serving.serve` on a free port; yields (url, process, its log)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "serving.serve", "--model", model,
               "--port", str(port), *args]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield f"http://127.0.0.1:{port}", process, log
        finally:
            process.terminate()
            process.wait(timeout=30)


async def ready(session, url: str, process, log, timeout: float = 180.0) -> None:
    """Returns once the server's status route answers; exits if it died."""
    import aiohttp

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            async with session.get(url + STATUS) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)  # polling a process that is starting
    log.seek(0)
    raise SystemExit(f"serving.serve did not start:\n{log.read()}")


async def client(session, url, bodies, seconds, latencies, failures) -> int:
    """Sends one request after another for `seconds`; returns drawings scored."""
    import aiohttp

    done = 0
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        body, count = bodies[i % len(bodies)]
        i += 1
        start = time.perf_counter()
        try:
            async with session.post(url, data=body) as response:
                answer = await response.read()
                if response.status != 200:
                    failures.append(f"{response.status}: {answer[:300]!r}")
                    continue
        except (TimeoutError, aiohttp.ClientError) as err:
            failures.append(f"{type(err).__name__}: {err}")
            continue
        latencies.append(time.perf_counter() - start)
        done += count
    return done


async def load(args, bodies) -> dict:
    import aiohttp

    latencies: list[float] = []
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=args.clients)
    timeout = aiohttp.ClientTimeout(total=60)
    with running_server(args.model, args.serve_args) as (base, process, log):
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
            await ready(s, base, process, log)
            url = base + PREDICT
            for body, _ in bodies[: args.clients]:  # warm up each connection
                async with s.post(url, data=body) as response:
                    await response.read()
            start = time.perf_counter()
            counts = await asyncio.gather(
                *(
                    client(s, url, bodies, args.seconds, latencies, failures)
                    for _ in range(args.clients)
                )  # fmt: skip
            )
            wall = time.perf_counter() - start
    return {
        "drawings": sum(counts),
        "requests": len(latencies),
        "wall": wall,
        "latencies": np.array(latencies),
        "failures": failures,
    }


def main() -> None:
    argv = sys.argv[1:]
    serve_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, serve_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(REPO / "demo_out" / "export"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--instances", type=int, default=1, help="per request")
    parser.add_argument("--drawings", type=int, default=1000, help="distinct ones")
    args = parser.parse_args(argv)
    args.serve_args = serve_args
    if not 0 < args.seconds <= MAX_SECONDS or not 0 < args.clients <= MAX_CLIENTS:
        parser.error(f"--seconds in (0, {MAX_SECONDS}], --clients in 1..{MAX_CLIENTS}")
    if not sample.available():
        raise SystemExit(f"needs the real sample at {sample.SAMPLE}")

    drawings = raw_drawings(args.drawings)
    n = args.instances
    bodies = [
        (orjson.dumps({"instances": [{"drawing": d} for d in drawings[i : i + n]]}), n)
        for i in range(0, len(drawings) - n + 1, n)
    ]
    points = [sum(len(s[0]) for s in d) for d in drawings]
    print(f"{len(drawings)} raw drawings, median {np.median(points):.0f} points; "
          f"{args.clients} clients x {args.seconds:.0f} s, {n} per request, "
          f"serving.serve {' '.join(serve_args)}", flush=True)  # fmt: skip
    result = asyncio.run(load(args, bodies))
    rates = baseline(args.model, drawings)
    best = max(rates, key=rates.get)
    rate = result["drawings"] / result["wall"]
    lat = result["latencies"] * 1000
    print(f"server:   {rate:8.1f} drawings/s  ({result['requests']} requests in "
          f"{result['wall']:.1f} s)  p50 {np.percentile(lat, 50):.1f} ms  "
          f"p99 {np.percentile(lat, 99):.1f} ms")  # fmt: skip
    for batch, base in rates.items():
        print(f"baseline: {base:8.1f} drawings/s  in-process Predictor, "
              f"batches of {batch}")  # fmt: skip
    print(f"ratio:    {rate / rates[best]:8.3f} of the best baseline (batches of "
          f"{best}); {rate / rates[1]:.3f} of one drawing per call")  # fmt: skip
    failures = result["failures"]
    print(f"failed requests: {len(failures)}")
    for failure, count in collections.Counter(failures).most_common():
        print(f"  {count} x {failure}")


if __name__ == "__main__":
    main()
