"""`trainer.submit --dry-run`: the Vertex AI job spec, built offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drawing import container
from tests.product import cloud_dry_run
from trainer import submit

REPO = Path(__file__).resolve().parents[2]
# Args as a user would pass them, awkward ones included: they must reach
# trainer.task unchanged, in order.
TRAINER_ARGS = [
    "--training_data=gs://b/data/training.tfrecord-*",
    "--eval_data",
    "gs://b/data/eval.tfrecord-*",
    "--num_conv=[48, 64, 96]",
    "--steps",
    "5",
]


def dry_run(*flags: str) -> dict:
    return cloud_dry_run("trainer.submit", *flags)


def test_one_worker_runs_the_trainer_image_with_the_args_unchanged():
    spec = dry_run(
        "--project=my-project-123",
        "--region=europe-west4",
        "--staging_bucket=gs://b/stage/",
        "--display_name=qd",
        "--dry-run",
        "--",
        *TRAINER_ARGS,
    )
    assert spec["project"] == "my-project-123" and spec["location"] == "europe-west4"
    # Vertex AI derives AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and
    # AIP_TENSORBOARD_LOG_DIR from it: trainer.task's output defaults.
    assert spec["base_output_dir"].startswith("gs://b/stage/jobs/qd-")
    assert spec["restart_job_on_worker_restart"] is False
    (pool,) = spec["worker_pool_specs"]
    assert pool["replica_count"] == 1
    assert pool["machine_spec"] == {
        "machine_type": "g2-standard-8",
        "accelerator_type": "NVIDIA_L4",
        "accelerator_count": 1,
    }
    assert pool["container_spec"] == {
        "image_uri": (
            "europe-west4-docker.pkg.dev/my-project-123/quickdraw/trainer:latest"
        ),
        "args": TRAINER_ARGS,
    }
    assert "python_package_spec" not in pool  # no sdist, no prebuilt py310 image


def test_three_workers_run_the_same_image_in_two_pools():
    spec = dry_run(
        "--project=p-123456",
        "--staging_bucket=gs://b",
        "--base_output_dir=gs://b/out/run-7",
        "--worker_count=3",
        "--image=example.com/qd/trainer:v2",
        "--dry-run",
        "--",
        *TRAINER_ARGS,
    )
    chief, workers = spec["worker_pool_specs"]
    assert (chief["replica_count"], workers["replica_count"]) == (1, 2)
    for pool in (chief, workers):
        assert pool["container_spec"]["image_uri"] == "example.com/qd/trainer:v2"
        assert pool["container_spec"]["args"] == TRAINER_ARGS
        assert pool["machine_spec"]["accelerator_type"] == "NVIDIA_L4"
    assert spec["base_output_dir"] == "gs://b/out/run-7"
    assert spec["restart_job_on_worker_restart"] is True


def test_the_default_image_is_where_cloud_build_pushes_it():
    config = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    (pushed,) = config["images"]
    values = {**config["substitutions"], "PROJECT_ID": "p-123456"}
    for name, value in values.items():
        pushed = pushed.replace(f"${{{name}}}", value)
    region = config["substitutions"]["_REGION"]
    assert pushed == container.default_image("p-123456", region)
    build_args = config["steps"][0]["args"]
    assert f"--tag={config['images'][0]}" in build_args


def test_cpu_only_jobs_need_a_cpu_machine():
    config = submit.parse_args(
        [
            "--project=p-123456",
            "--staging_bucket=gs://b",
            "--machine_type=n2-standard-8",
            "--accelerator_count=0",
        ]
    )
    (pool,) = submit.worker_pool_specs(config)
    assert pool["machine_spec"] == {"machine_type": "n2-standard-8"}
    assert pool["container_spec"]["args"] == []
    with pytest.raises(SystemExit):  # a G2 machine always has its GPU
        submit.parse_args(
            ["--project=p-123456", "--staging_bucket=gs://b", "--accelerator_type="]
        )
