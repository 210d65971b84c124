"""`serving.deploy --dry-run`: the Vertex AI deployment spec, built offline."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from serving import deploy, serve
from tests.product import cloud_dry_run

REPO = Path(__file__).resolve().parents[2]
BASE = ["--project=my-project-123", "--artifact_uri=gs://b/jobs/run-1/model/"]


def dry_run(*flags: str) -> dict:
    return cloud_dry_run("serving.deploy", *flags)


def test_dry_run_uploads_the_export_with_the_trainer_image_running_serve():
    spec = dry_run(*BASE, "--region=europe-west4", "--dry-run", "--", "--threads=4")
    assert (spec["project"], spec["location"]) == ("my-project-123", "europe-west4")
    model = spec["model"]
    assert model["artifact_uri"] == "gs://b/jobs/run-1/model"
    assert model["serving_container_image_uri"] == (
        "europe-west4-docker.pkg.dev/my-project-123/quickdraw/trainer:latest"
    )
    # The image's entry point is trainer.task; the command replaces it.
    assert model["serving_container_command"] == ["python", "-m", "serving.serve"]
    assert model["serving_container_args"] == ["--host", "0.0.0.0", "--threads=4"]
    assert model["serving_container_ports"] == [8080]
    assert model["serving_container_predict_route"] == "/v1/models/quickdraw:predict"
    assert model["serving_container_health_route"] == "/v1/models/quickdraw"
    assert spec["endpoint"] == {"display_name": "quickdraw-rnn-endpoint"}
    assert spec["deploy"] == {
        "deployed_model_display_name": "quickdraw-rnn",
        "machine_type": "n2-standard-4",
        "min_replica_count": 1,
        "max_replica_count": 1,
        "traffic_percentage": 100,
        "service_account": None,
    }


def test_existing_endpoint_gpu_and_autoscaling():
    spec = dry_run(
        *BASE,
        "--endpoint=projects/p/locations/us-central1/endpoints/42",
        "--image=example.com/qd/trainer:v2",
        "--machine_type=g2-standard-8",
        "--accelerator_type=NVIDIA_L4",
        "--accelerator_count=1",
        "--max_replica_count=3",
        "--dry_run",
    )
    assert spec["endpoint"] == {
        "endpoint_name": "projects/p/locations/us-central1/endpoints/42"
    }
    assert spec["model"]["serving_container_image_uri"] == "example.com/qd/trainer:v2"
    assert spec["model"]["serving_container_args"] == ["--host", "0.0.0.0"]
    assert spec["deploy"]["accelerator_type"] == "NVIDIA_L4"
    assert spec["deploy"]["accelerator_count"] == 1
    assert spec["deploy"]["max_replica_count"] == 3


@pytest.mark.parametrize(
    "flags",
    [
        ["--project=p", "--artifact_uri=/local/export"],  # Vertex AI copies gs://
        [*BASE, "--min_replica_count=2", "--max_replica_count=1"],
        [*BASE, "--accelerator_type=NVIDIA_L4"],  # without a count
        [*BASE, "--traffic_percentage=101"],
    ],
)
def test_bad_flags_are_refused(flags, capsys):
    with pytest.raises(SystemExit):
        deploy.parse_args(flags)
    assert "error:" in capsys.readouterr().err


def test_spec_binds_to_the_aiplatform_calls():
    """The names in the spec are those of the installed SDK's methods."""
    from google.cloud import aiplatform

    spec = deploy.deploy_spec(deploy.parse_args([*BASE, "--accelerator_type=T",
                                                 "--accelerator_count=2"]))  # fmt: skip
    inspect.signature(aiplatform.Model.upload).bind(**spec["model"])
    inspect.signature(aiplatform.Endpoint.create).bind(**spec["endpoint"])
    existing = deploy.deploy_spec(deploy.parse_args([*BASE, "--endpoint=42"]))
    inspect.signature(aiplatform.Endpoint).bind(**existing["endpoint"])
    inspect.signature(aiplatform.Model.deploy).bind(
        None, endpoint=None, **spec["deploy"]
    )


def test_the_container_command_line_is_one_serve_accepts(monkeypatch):
    """What Vertex AI runs: the spec's args, model and port from AIP_*."""
    spec = deploy.deploy_spec(deploy.parse_args([*BASE, "--", "--max_points=900"]))
    model = spec["model"]
    monkeypatch.setenv("AIP_STORAGE_URI", "gs://copy/of/model")
    monkeypatch.setenv("AIP_HTTP_PORT", str(model["serving_container_ports"][0]))
    monkeypatch.setenv("AIP_PREDICT_ROUTE", model["serving_container_predict_route"])
    monkeypatch.setenv("AIP_HEALTH_ROUTE", model["serving_container_health_route"])
    config = serve.parse_args(model["serving_container_args"])
    assert (config.host, config.port) == ("0.0.0.0", 8080)
    assert config.model == "gs://copy/of/model" and config.max_points == 900


def test_an_incomplete_export_is_refused_before_anything_is_uploaded(monkeypatch):
    """A folder without the export's completion marker (an export that was
    killed) never reaches Vertex AI."""
    import tensorflow as tf

    present = {"gs://b/jobs/run-1/model", "gs://b/jobs/run-1/model/saved_model.pb"}
    monkeypatch.setattr(tf.io.gfile, "exists", lambda path: path in present)
    monkeypatch.setattr(deploy, "deploy", lambda spec: pytest.fail("uploaded"))
    with pytest.raises(SystemExit) as refused:
        deploy.main(BASE)
    assert refused.value.code == (
        "serving.deploy: error: --artifact_uri gs://b/jobs/run-1/model holds an "
        "incomplete export (no assets.extra/export_complete: it was "
        "interrupted): run the trainer.task command that exports to it again "
        "(it finishes an interrupted export), or name a complete one"
    )
