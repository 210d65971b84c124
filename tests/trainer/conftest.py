"""Fixtures shared by the trainer's tests: exported models and a running server.

* `tiny_export`: a tiny model trained a few dozen steps on synthetic records
  (`tests.synthetic`) and exported; enough for anything that needs a served
  model but not a good one.
* `serve_process(export_dir, ...)`: a context manager (also a fixture of the
  same name that returns it) that runs `python -m trainer.serve` in a
  subprocess on a free port, waits until its status route answers and yields
  the base URL; `request` and `predict` talk to it.
* `sample_export`: a small model trained briefly on the real sample's big
  classes (slow, needs ../shared), with each class's drawings it never saw.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
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

from pipeline import features as F

REPO = Path(__file__).resolve().parents[2]
STATUS_ROUTE = "/v1/models/quickdraw"
PREDICT_ROUTE = "/v1/models/quickdraw:predict"
START_TIMEOUT_S = 120.0  # loading TensorFlow and the SavedModel on a busy CPU
# The sample model: the first SAMPLE_SEEN lines of each big class go through
# the pipeline (90% train, 10% eval); the rest are never seen. About a minute
# of pipeline and a minute and a half of training on 2 busy cores (~51% top-1).
SAMPLE_SEEN = 400
SAMPLE_MODEL = [
    "--num_layers=1",
    "--num_nodes=32",
    "--num_conv=[32, 48]",
    "--conv_len=[5, 3]",
    "--batch_size=64",
    "--steps=500",
    "--eval_every=500",
    "--warmup_steps=50",
]
TINY_MODEL = [
    "--num_layers=1",
    "--num_nodes=16",
    "--num_conv=[16]",
    "--conv_len=[5]",
    "--batch_size=32",
    "--learning_rate=0.01",
    "--warmup_steps=10",
    "--export_top_k=3",
]


def product_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the product's commands run in, from this checkout."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in ("TF_CONFIG", "TF_USE_LEGACY_KERAS"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def run_module(args: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """`python -m ARGS` in a subprocess; its output is shown when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=product_env(env),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.fail(f"python -m {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def cloud_dry_run(module: str, *flags: str) -> dict:
    """Runs `python -m trainer.MODULE --dry-run ...` in a fresh interpreter and
    returns the spec it prints: a dry run must need no cloud library or TF."""
    code = (
        f"import sys, runpy; sys.argv[0] = {module!r};"
        f"runpy.run_module('trainer.{module}', run_name='__main__');"
        "assert 'google.cloud.aiplatform' not in sys.modules;"
        "assert 'tensorflow' not in sys.modules"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *flags],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    return orjson.loads(out.stdout)


def train_and_export(data: Path, out: Path, *extra: str) -> Path:
    """trainer.task on `data` (a pipeline-style output dir); returns the export.

    A subprocess, as users run it: whatever this test process imported
    (tf.Transform switches tf.keras to legacy Keras) cannot reach the trainer.
    """
    export = out / "export"
    run_module(
        [
            "trainer.task",
            f"--training_data={data}/{F.TRAIN_PREFIX}-*",
            f"--eval_data={data}/{F.EVAL_PREFIX}-*",
            f"--model_dir={out / 'model'}",
            f"--export_dir={export}",
            *extra,
        ]
    )
    assert (export / "saved_model.pb").exists()
    return export


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> Path:
    """A tiny exported model of `tests.synthetic.CLASSES` (a few dozen steps)."""
    from tests.synthetic import write_records

    root = tmp_path_factory.mktemp("tiny_export")
    data = write_records(root / "data", train=320, evals=64)
    return train_and_export(data, root, *TINY_MODEL, "--steps=40", "--eval_every=40")


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


@contextlib.contextmanager
def serve_process(
    export_dir: str | Path | None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    status_route: str = STATUS_ROUTE,
) -> Iterator[str]:
    """Runs `python -m trainer.serve --model EXPORT_DIR --port P` until exit.

    Yields the base URL (`http://127.0.0.1:P`) once `status_route` answers 200.
    `export_dir=None` leaves out --model (for $AIP_STORAGE_URI); `port=0`
    leaves out --port (for $AIP_HTTP_PORT, which then says where to poll).
    Fails with the server's output if it exits before answering.
    """
    port = free_port() if port is None else port
    command = [sys.executable, "-m", "trainer.serve"]
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
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _answers(url + status_route):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"trainer.serve did not start:\n{log.read()}")
                # Wait on the process, not a sleep: returns at once if it exits.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.2)
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


@pytest.fixture(name="serve_process")
def _serve_process_fixture():
    """`serve_process` as a fixture: `with serve_process(export) as url: ...`."""
    return serve_process


@dataclasses.dataclass(frozen=True)
class SampleModel:
    """A model of the sample's big classes, and the lines it never saw."""

    export: Path
    unseen: dict[str, list[bytes]]  # class -> lines neither trained nor evaluated


@pytest.fixture(scope="session")
def sample_export(tmp_path_factory) -> SampleModel:
    """The pipeline and a short training on the first lines of each big class
    of the real sample (as `tools.demo` does, smaller); skips without it."""
    from tools import sample

    if not sample.available():
        pytest.skip(f"real Quick, Draw! sample not found at {sample.SAMPLE}")
    root = tmp_path_factory.mktemp("sample_export")
    inputs = root / "ndjson"
    inputs.mkdir()
    unseen = {}
    for name, lines in sample.big_classes().items():
        (inputs / f"{name}.ndjson").write_bytes(b"\n".join(lines[:SAMPLE_SEEN]) + b"\n")
        unseen[name] = lines[SAMPLE_SEEN:]
    data = root / "data"
    train = SAMPLE_SEEN * 9 // 10
    run_module(
        [
            "pipeline.main",
            f"--input={inputs}",
            f"--output={data}",
            f"--train_per_class={train}",
            f"--eval_per_class={SAMPLE_SEEN - train}",
        ]
    )
    export = train_and_export(
        data,
        root,
        f"--classes_file={data / F.CLASSES_FILE}",
        f"--transform_dir={data / F.TRANSFORM_DIR}",
        *SAMPLE_MODEL,
    )
    return SampleModel(export=export, unseen=unseen)
