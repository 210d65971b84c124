"""`python -m serving.serve` in a subprocess, and requests to it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import orjson
import pytest

from tests.product import REPO, product_env

STATUS_ROUTE = "/v1/models/quickdraw"
PREDICT_ROUTE = "/v1/models/quickdraw:predict"
START_TIMEOUT_S = 120.0  # loading TensorFlow and the SavedModel on a busy CPU


def free_port() -> int:
    """A TCP port nobody listens on right now (the server binds it next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_until_up(process: subprocess.Popen, url: str, timeout: float) -> bool:
    """True once `url` answers 200; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        # Wait on the process, not a sleep: returns at once if it exits.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)
    return True


@contextlib.contextmanager
def serve_process(
    export_dir: str | Path | None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    status_route: str = STATUS_ROUTE,
) -> Iterator[str]:
    """Runs `python -m serving.serve --model EXPORT_DIR --port P` until exit.

    Yields the base URL (`http://127.0.0.1:P`) once `status_route` answers 200.
    `export_dir=None` leaves out --model (for $AIP_STORAGE_URI); `port=0`
    leaves out --port (for $AIP_HTTP_PORT, which then says where to poll).
    Fails with the server's output if it exits before answering.
    """
    port = free_port() if port is None else port
    command = [sys.executable, "-m", "serving.serve"]
    if export_dir is not None:
        command += ["--model", str(export_dir)]
    if port:
        command += ["--port", str(port)]
    else:
        port = int((env or {})["AIP_HTTP_PORT"])
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [*command, *args],
            cwd=REPO,
            env=product_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            if not wait_until_up(process, url + status_route, START_TIMEOUT_S):
                log.seek(0)
                pytest.fail(f"serving.serve did not start:\n{log.read()}")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def request(
    url: str | urllib.request.Request, body: bytes | None = None
) -> tuple[int, dict, dict]:
    """(status, JSON answer, headers) of a GET, or of a POST of `body`."""
    try:
        with urllib.request.urlopen(url, data=body, timeout=60) as response:
            return response.status, orjson.loads(response.read()), response.headers
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read()), err.headers


def predict(url: str, payload: object) -> tuple[int, dict]:
    """(status, JSON answer) of a predict request of `payload`."""
    status, answer, _ = request(url + PREDICT_ROUTE, orjson.dumps(payload))
    return status, answer
