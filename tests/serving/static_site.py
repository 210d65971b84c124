"""A site of `serving.site` served by a plain static file server, and a guard
that lets a browser page reach that one host and nothing else."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.site import runtime_files
from tests.product import REPO, product_env, run_module
from tests.serving.server import free_port, wait_until_up

START_TIMEOUT_S = 30.0
requires_runtime = pytest.mark.skipif(
    not runtime_files(),
    reason="LiteRT.js is not installed in node_modules (npm ci; make venv does)",
)


def write_site(export: str | Path, out: Path, *extra: str) -> Path:
    """`python -m serving.site --model EXPORT --out OUT`; returns OUT."""
    run_module(["serving.site", f"--model={export}", f"--out={out}", *extra])
    return out


@contextlib.contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """`python -m http.server` on `folder`; yields its base URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port)]
    process = subprocess.Popen(
        [*command, "--bind", "127.0.0.1", "--directory", str(folder)],
        cwd=REPO,
        env=product_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(process, url + "/index.html", START_TIMEOUT_S):
            pytest.fail(f"python -m http.server did not start on {folder}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


class HostGuard:
    """Routes every request of a browser context: those to `url`'s host go
    on, any other is refused and kept in `refused`; `requests` lists them all."""

    def __init__(self, context, url: str) -> None:
        self.host = urllib.parse.urlsplit(url).netloc
        self.requests: list[str] = []
        self.refused: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route) -> None:
        url = route.request.url
        self.requests.append(url)
        if urllib.parse.urlsplit(url).netloc == self.host:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()
