"""The GCS emulator really stands in for `gs://` in Beam, in-process and in children.

Each Beam-side check is read back through an independent google-cloud-storage
client bound to the emulator (`GcsEmulator.read` / `list`), so a test passes
only if the bytes went through the emulator, not to a local path or a cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from tests.gcs_emulator import GcsEmulator, split_gcs_uri


def test_split_gcs_uri() -> None:
    assert split_gcs_uri("gs://b/x/y.txt") == ("b", "x/y.txt")
    assert split_gcs_uri("gs://b") == ("b", "")
    with pytest.raises(ValueError):
        split_gcs_uri("/local/path")
    with pytest.raises(ValueError):
        split_gcs_uri("gs:///x")


def test_helper_round_trip(gcs: GcsEmulator, gcs_bucket: str, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_bytes(b"alpha")
    (tmp_path / "sub" / "b.bin").write_bytes(bytes(range(256)))

    uris = gcs.upload_dir(tmp_path, f"{gcs_bucket}/in/")

    assert uris == [f"{gcs_bucket}/in/a.txt", f"{gcs_bucket}/in/sub/b.bin"]
    assert gcs.list(f"{gcs_bucket}/in/sub/") == [f"{gcs_bucket}/in/sub/b.bin"]
    assert gcs.read(f"{gcs_bucket}/in/sub/b.bin") == bytes(range(256))
    assert gcs.exists(f"{gcs_bucket}/in/a.txt")
    assert not gcs.exists(f"{gcs_bucket}/in/missing.txt")
    copied = gcs.download_dir(f"{gcs_bucket}/in", tmp_path / "copy")
    assert sorted(p.relative_to(tmp_path / "copy").as_posix() for p in copied) == [
        "a.txt",
        "sub/b.bin",
    ]
    assert (tmp_path / "copy" / "a.txt").read_bytes() == b"alpha"


def test_beam_filesystems_use_the_emulator(gcs: GcsEmulator, gcs_bucket: str) -> None:
    uri = f"{gcs_bucket}/dir/hello.txt"
    with FileSystems.create(uri) as f:
        f.write(b"hello from beam\n")

    # Written through Beam, visible to an independent client of the emulator.
    assert gcs.read(uri) == b"hello from beam\n"

    gcs.upload_bytes(b"uploaded\n", f"{gcs_bucket}/dir/other.txt")
    with FileSystems.open(
        f"{gcs_bucket}/dir/other.txt", compression_type=CompressionTypes.UNCOMPRESSED
    ) as f:
        assert f.read() == b"uploaded\n"

    [match] = FileSystems.match([f"{gcs_bucket}/dir/*.txt"])
    sizes = {m.path: m.size_in_bytes for m in match.metadata_list}
    assert sizes == {uri: 16, f"{gcs_bucket}/dir/other.txt": 9}
    assert FileSystems.exists(uri)

    FileSystems.delete([uri])
    assert not gcs.exists(uri)


def test_beam_pipeline_reads_and_writes_gcs(gcs: GcsEmulator, gcs_bucket: str) -> None:
    gcs.upload_bytes(b"a1\na2\n", f"{gcs_bucket}/a.txt")
    gcs.upload_bytes(b"b1\n", f"{gcs_bucket}/b.txt")
    gcs.upload_bytes(b"not matched\n", f"{gcs_bucket}/c.csv")

    with BeamTestPipeline(runner="FnApiRunner") as p:
        _ = (
            p
            | beam.io.ReadFromText(f"{gcs_bucket}/*.txt")
            | beam.Map(str.upper)
            | beam.io.WriteToText(f"{gcs_bucket}/out/result", num_shards=2)
        )

    outputs = gcs.list(f"{gcs_bucket}/out/")
    assert outputs == [
        f"{gcs_bucket}/out/result-00000-of-00002",
        f"{gcs_bucket}/out/result-00001-of-00002",
    ]
    lines = b"".join(gcs.read(uri) for uri in outputs).decode().split()
    assert sorted(lines) == ["A1", "A2", "B1"]
    # The sink's temporary files were renamed and cleaned up inside the bucket.
    everything = gcs.list(f"{gcs_bucket}/")
    assert [u for u in everything if "beam-temp" in u] == []


def test_subprocess_env_reaches_the_emulator_without_credential_retries(
    gcs: GcsEmulator, gcs_bucket: str
) -> None:
    uri = f"{gcs_bucket}/child.txt"
    gcs.upload_bytes(b"seen by the child", uri)
    code = (
        "import sys\n"
        "from apache_beam.io.filesystems import FileSystems\n"
        "sys.stdout.write(FileSystems.open(sys.argv[1]).read().decode())\n"
    )
    env = gcs.env({k: v for k, v in os.environ.items() if "GOOGLE" not in k})

    done = subprocess.run(
        [sys.executable, "-c", code, uri],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == "seen by the child"
    # Without the fake credentials Beam would back off for ~20 s first.
    assert "Retry with exponential backoff" not in done.stderr


def test_stop_restores_environment_and_frees_the_port() -> None:
    before = os.environ.get("STORAGE_EMULATOR_HOST")
    emulator = GcsEmulator()
    with emulator:
        endpoint = emulator.endpoint
        assert os.environ["STORAGE_EMULATOR_HOST"] == endpoint
        with urllib.request.urlopen(endpoint + "/", timeout=5) as response:
            assert response.status == 200

    assert os.environ.get("STORAGE_EMULATOR_HOST") == before
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(endpoint + "/", timeout=5)
    with pytest.raises(RuntimeError):
        _ = emulator.endpoint
