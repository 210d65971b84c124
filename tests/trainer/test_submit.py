"""`trainer.submit --dry-run`: the Vertex AI job spec, built offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from trainer import submit

REPO = Path(__file__).resolve().parents[2]
TRAINER_ARGS = ["--training_data=gs://b/data/training.tfrecord-*", "--steps", "5"]


def dry_run(*flags: str) -> dict:
    """Runs the CLI in a fresh interpreter: it must need no cloud libraries."""
    code = (
        "import sys, runpy; sys.argv[0] = 'submit';"
        "runpy.run_module('trainer.submit', run_name='__main__');"
        "assert 'google.cloud.aiplatform' not in sys.modules;"
        "assert 'google.cloud.storage' not in sys.modules"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *flags],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_single_worker_dry_run_builds_the_package_and_prints_the_spec():
    spec = dry_run(
        "--project=p",
        "--region=europe-west4",
        "--staging_bucket=gs://b/stage/",
        "--display_name=qd",
        "--dry-run",
        "--",
        *TRAINER_ARGS,
    )
    assert spec["project"] == "p" and spec["location"] == "europe-west4"
    assert spec["base_output_dir"].startswith("gs://b/stage/jobs/qd-")
    assert spec["restart_job_on_worker_restart"] is False
    (pool,) = spec["worker_pool_specs"]
    assert pool["replica_count"] == 1
    assert pool["machine_spec"] == {
        "machine_type": submit.DEFAULT_MACHINE,
        "accelerator_type": submit.DEFAULT_ACCELERATOR,
        "accelerator_count": 1,
    }
    package = pool["python_package_spec"]
    assert package["python_module"] == "trainer.task"
    assert package["executor_image_uri"] == submit.DEFAULT_IMAGE
    assert package["args"] == TRAINER_ARGS
    (uri,) = package["package_uris"]
    assert uri.startswith("gs://b/stage/packages/") and uri.endswith(".tar.gz")
    assert spec["local_package"].endswith(".tar.gz")


def test_package_holds_both_packages_and_its_uri_depends_only_on_content(tmp_path):
    first = submit.build_sdist(tmp_path / "a")
    second = submit.build_sdist(tmp_path / "b")
    with tarfile.open(first) as tar:
        names = {
            Path(n).relative_to(Path(n).parts[0]).as_posix() for n in tar.getnames()
        }
    assert {
        "setup.py",
        "trainer/task.py",
        "trainer/model.py",
        "pipeline/ink_tf.py",
        "pipeline/features.py",
    } <= names
    assert submit.package_uri_for(first, "gs://b") == submit.package_uri_for(
        second, "gs://b"
    )


def test_multi_worker_dry_run_adds_a_worker_pool(capsys):
    submit.main(
        [
            "--project=p",
            "--staging_bucket=gs://b",
            "--worker_count=4",
            "--machine_type=g2-standard-8",
            "--accelerator_type=NVIDIA_L4",
            "--accelerator_count=1",
            "--container_image=example.com/img:1",
            "--package_uri=gs://b/packages/pkg.tar.gz",
            "--dry-run",
            "--",
            *TRAINER_ARGS,
        ]
    )
    spec = json.loads(capsys.readouterr().out)
    chief, workers = spec["worker_pool_specs"]
    assert (chief["replica_count"], workers["replica_count"]) == (1, 3)
    for pool in (chief, workers):
        assert pool["machine_spec"]["accelerator_type"] == "NVIDIA_L4"
        assert pool["python_package_spec"]["package_uris"] == [
            "gs://b/packages/pkg.tar.gz"
        ]
        assert pool["python_package_spec"]["executor_image_uri"] == "example.com/img:1"
        assert pool["python_package_spec"]["args"] == TRAINER_ARGS
    assert spec["restart_job_on_worker_restart"] is True
    assert "local_package" not in spec


def test_cpu_only_pool_has_no_accelerator():
    config = submit.parse_args(
        ["--project=p", "--staging_bucket=gs://b", "--accelerator_count=0", "--dry-run"]
    )
    (pool,) = submit.worker_pool_specs(config, "gs://b/x.tar.gz")
    assert pool["machine_spec"] == {"machine_type": submit.DEFAULT_MACHINE}
    assert pool["python_package_spec"]["args"] == []
