"""A local Google Cloud Storage emulator for tests that exercise `gs://` paths.

There is no GCP account behind the tests, yet the pipeline must read and write
`gs://` paths on Dataflow. `gcp-storage-emulator` speaks enough of the GCS JSON
API for google-cloud-storage, which Beam's GcsIO uses, so pointing
`STORAGE_EMULATOR_HOST` at it sends every `gs://` call of this process, and of
the subprocesses given `GcsEmulator.env()`, to a throwaway in-memory store.

The emulator runs as its own process rather than a thread of the test process:
the server is single-threaded Python, and in-process it would compete for the
GIL with the Beam pipelines under test, and die with them when one hangs.

Credentials: with no Application Default Credentials, Beam's GcsIO retries
`google.auth.default()` with exponential backoff (about 20 s per process) before
it falls back to an anonymous client. `env()` therefore also points
`GOOGLE_APPLICATION_CREDENTIALS` at a fake `authorized_user` file whose access
token is already valid until 2999, so google-auth never refreshes it and never
goes to the network; the emulator ignores the bearer token it is sent.
`NO_GCE_CHECK` stops google-auth from probing the metadata server.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

_HOST = "127.0.0.1"
_START_ATTEMPTS = 3
_READY_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0
_POLL_INTERVAL_S = 0.05

# A project id that passes Beam's and Dataflow's format checks.
FAKE_PROJECT = "my-project-123"

_FAKE_ADC = {
    "type": "authorized_user",
    "client_id": "gcs-emulator",
    "client_secret": "gcs-emulator",
    "refresh_token": "gcs-emulator",
    "token": "gcs-emulator-token",
    "expiry": "2999-01-01T00:00:00Z",
}


def split_gcs_uri(uri: str) -> tuple[str, str]:
    """Splits `gs://bucket/name` into ("bucket", "name"); name may be empty."""
    if not uri.startswith("gs://"):
        raise ValueError(f"not a gs:// URI: {uri!r}")
    bucket, _, name = uri[len("gs://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, name


def _free_port() -> int:
    """A port that was free a moment ago; `start` retries if it is taken since."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return sock.getsockname()[1]


class GcsEmulator:
    """Runs gcp-storage-emulator in memory on a free localhost port.

    Use it as a context manager. While it runs, `os.environ` of this process
    carries the emulator settings (see the module docstring), so Beam's
    `FileSystems` and `google.cloud.storage` clients created meanwhile talk to
    it; on exit the previous environment is restored. Subprocesses get the same
    settings through `env()`.

    Example:
      with GcsEmulator() as gcs:
          gcs.create_bucket("data")
          gcs.upload_bytes(b"hi", "gs://data/a.txt")
          assert gcs.read("gs://data/a.txt") == b"hi"
    """

    def __init__(self) -> None:
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._adc_path: Path | None = None
        self._saved_env: dict[str, str | None] = {}
        self._client: storage.Client | None = None

    # ------------------------------------------------------------------
    # Lifecycle.

    def __enter__(self) -> GcsEmulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """The emulator's base URL, the value of STORAGE_EMULATOR_HOST."""
        if self.port is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{_HOST}:{self.port}"

    def start(self) -> None:
        """Starts the emulator and waits until it answers HTTP requests.

        Raises:
          RuntimeError: if it cannot be started on any of a few free ports, or
            does not answer within `_READY_TIMEOUT_S`.
        """
        if self._process is not None:
            raise RuntimeError("the emulator is already running")
        self._workdir = Path(tempfile.mkdtemp(prefix="gcs-emulator-"))
        self._adc_path = self._workdir / "fake_adc.json"
        self._adc_path.write_text(json.dumps(_FAKE_ADC))
        log_path = self._workdir / "emulator.log"
        errors: list[str] = []
        try:
            for _ in range(_START_ATTEMPTS):
                port = _free_port()
                with log_path.open("wb") as log:
                    process = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "gcp_storage_emulator",
                            "start",
                            "--host",
                            _HOST,
                            "--port",
                            str(port),
                            "--in-memory",
                            "--quiet",
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                if self._wait_ready(process, port):
                    self._process = process
                    self.port = port
                    break
                _terminate(process)
                errors.append(f"port {port}: {log_path.read_text(errors='replace')}")
            else:
                raise RuntimeError(
                    "gcp-storage-emulator did not start:\n" + "\n".join(errors)
                )
        except BaseException:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            raise
        self._activate()

    def stop(self) -> None:
        """Stops the emulator, restores os.environ and removes its files."""
        if self._client is not None:
            self._client.close()
            self._client = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self._process is not None:
            _terminate(self._process)
            self._process = None
        self.port = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._adc_path = None

    @staticmethod
    def _wait_ready(process: subprocess.Popen[bytes], port: int) -> bool:
        """Polls the health-check URL until it answers, the process dies or time's up.

        Returns:
          True once the emulator answers 200 on `/`.
        """
        url = f"http://{_HOST}:{port}/"
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=1.0) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(_POLL_INTERVAL_S)
        return False

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """An environment for a subprocess that should use this emulator.

        Args:
          base: The environment to extend; `os.environ` when None.
        """
        env = dict(os.environ if base is None else base)
        env.update(self._settings())
        return env

    def _settings(self) -> dict[str, str]:
        return {
            "STORAGE_EMULATOR_HOST": self.endpoint,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self._adc_path),
            "GOOGLE_CLOUD_PROJECT": FAKE_PROJECT,
            "NO_GCE_CHECK": "True",
        }

    def _activate(self) -> None:
        """Points this process at the emulator, remembering what to restore."""
        for key, value in self._settings().items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    # ------------------------------------------------------------------
    # Objects, through google-cloud-storage directly rather than Beam, so that
    # the tests check Beam against an independent client.

    @property
    def client(self) -> storage.Client:
        """An anonymous google-cloud-storage client bound to the emulator."""
        if self._client is None:
            self._client = storage.Client(
                project=FAKE_PROJECT,
                credentials=AnonymousCredentials(),
                client_options={"api_endpoint": self.endpoint},
            )
        return self._client

    def create_bucket(self, name: str) -> str:
        """Creates bucket `name` unless it exists and returns `gs://name`."""
        if self.client.lookup_bucket(name) is None:
            self.client.create_bucket(name)
        return f"gs://{name}"

    def upload_bytes(self, data: bytes, uri: str) -> None:
        """Writes `data` to the object `uri` (its bucket must exist)."""
        bucket, name = split_gcs_uri(uri)
        self.client.bucket(bucket).blob(name).upload_from_string(data)

    def upload_file(self, path: str | Path, uri: str) -> None:
        """Copies the local file `path` to the object `uri`."""
        bucket, name = split_gcs_uri(uri)
        self.client.bucket(bucket).blob(name).upload_from_filename(str(path))

    def upload_dir(self, local_dir: str | Path, prefix_uri: str) -> list[str]:
        """Uploads every file under `local_dir` below `prefix_uri`, keeping paths.

        Returns:
          The URIs written, sorted.
        """
        local_dir = Path(local_dir)
        prefix = prefix_uri.rstrip("/")
        uris = []
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            uri = f"{prefix}/{path.relative_to(local_dir).as_posix()}"
            self.upload_file(path, uri)
            uris.append(uri)
        return uris

    def list(self, prefix_uri: str) -> list[str]:
        """URIs of all objects whose names start with the prefix, sorted."""
        bucket, prefix = split_gcs_uri(prefix_uri)
        blobs = self.client.list_blobs(bucket, prefix=prefix or None)
        return sorted(f"gs://{bucket}/{blob.name}" for blob in blobs)

    def read(self, uri: str) -> bytes:
        """The bytes of object `uri`; raises google NotFound if it is missing."""
        bucket, name = split_gcs_uri(uri)
        return self.client.bucket(bucket).blob(name).download_as_bytes()

    def exists(self, uri: str) -> bool:
        """Whether object `uri` exists."""
        bucket, name = split_gcs_uri(uri)
        return self.client.bucket(bucket).blob(name).exists()

    def download_dir(self, prefix_uri: str, local_dir: str | Path) -> list[Path]:
        """Copies every object under `prefix_uri/` into `local_dir`, keeping paths.

        Useful for readers that cannot reach the emulator, such as tf.data.
        """
        prefix = prefix_uri.rstrip("/") + "/"
        local_dir = Path(local_dir)
        paths = []
        for uri in self.list(prefix):
            path = local_dir / uri[len(prefix) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.read(uri))
            paths.append(path)
        return paths


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """Stops a process politely, then firmly, waiting a bounded time for each."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT_S)
