"""Deploys an exported model to a Vertex AI endpoint, served by `serving.serve`.

  python -m serving.deploy --project P --region us-central1 \\
      --artifact_uri gs://B/jobs/RUN/model [--endpoint ID] [--dry-run] \\
      [-- --max_instances 32]

It uploads the export with the trainer image as its serving container
(command `python -m serving.serve --host 0.0.0.0` plus the args after `--`;
Vertex AI's AIP_* variables are the server's defaults), creates an endpoint
unless `--endpoint` names one, and deploys onto it. `--dry-run` prints the
whole spec as JSON and needs no credentials, network, aiplatform or
TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from drawing import container, flags
from drawing.export_marker import IncompleteExport, check_complete
from drawing.flags import InputError, flag
from serving.rest_api import MODEL_ROUTE, PREDICT_ROUTE

SERVE_COMMAND = ("python", "-m", "serving.serve")
# Inside a container, listening on localhost would reach no one.
SERVE_ARGS = ("--host", "0.0.0.0")
PORT = 8080


@dataclasses.dataclass(frozen=True)
class DeployConfig:
    """One deployment; each field is a flag, each default lives here."""

    project: str = flag(help="GCP project id", required=True)
    artifact_uri: str = flag(
        help="the exported model directory on gs:// (trainer.task's --export_dir)",
        required=True,
    )
    region: str = flag("us-central1")
    display_name: str = flag("quickdraw-rnn", "model, endpoint and deployment name")
    image: str = flag(
        "",
        "serving image URI; default: the trainer image where cloudbuild.yaml "
        f"pushes it, {container.describe()}",
    )
    endpoint: str = flag("", "an existing endpoint's id or resource name; "
                          "default: create one")  # fmt: skip
    # CPU serving: the model is small and serving.serve batches concurrent
    # requests; 4 vCPUs hold TensorFlow and the event loop comfortably.
    machine_type: str = flag("n2-standard-4")
    min_replica_count: int = flag(1, type=int)
    max_replica_count: int = flag(1, "above min: autoscaling", type=int)
    accelerator_type: str = flag("", "e.g. NVIDIA_L4; empty: CPU only")
    accelerator_count: int = flag(0, type=int)
    traffic_percentage: int = flag(100, "of the endpoint's traffic", type=int)
    service_account: str = flag("")
    dry_run: bool = flags.dry_run("print the spec; send nothing")
    serve_args: tuple[str, ...] = flags.passthrough("serving.serve's flags")

    def __post_init__(self) -> None:
        object.__setattr__(self, "artifact_uri", self.artifact_uri.rstrip("/"))
        if not self.artifact_uri.startswith("gs://"):
            raise ValueError("--artifact_uri must be a gs:// URI (Vertex AI copies it)")
        if not 1 <= self.min_replica_count <= self.max_replica_count:
            raise ValueError("need 1 <= --min_replica_count <= --max_replica_count")
        if bool(self.accelerator_type) != (self.accelerator_count > 0):
            raise ValueError("--accelerator_type and --accelerator_count go together")
        if not 0 <= self.traffic_percentage <= 100:
            raise ValueError("--traffic_percentage must be in 0..100")

    @property
    def image_uri(self) -> str:
        return self.image or container.default_image(self.project, self.region)


def parse_args(argv: Sequence[str] | None = None) -> DeployConfig:
    """Flags before `--` are ours; everything after goes to serving.serve."""
    description = (
        "Deploy an exported model to a Vertex AI endpoint; "
        "args after -- go to serving.serve."
    )
    return flags.parse(
        DeployConfig, argv, "python -m serving.deploy", description, verbose=False
    )


def deploy_spec(config: DeployConfig) -> dict:
    """Everything the deployment is made of, as sent (and as --dry-run prints)."""
    accelerator = (
        {"accelerator_type": config.accelerator_type,
         "accelerator_count": config.accelerator_count}
        if config.accelerator_count else {}
    )  # fmt: skip
    return {
        "project": config.project,
        "location": config.region,
        "model": {
            "display_name": config.display_name,
            "artifact_uri": config.artifact_uri,
            "serving_container_image_uri": config.image_uri,
            "serving_container_command": list(SERVE_COMMAND),
            "serving_container_args": [*SERVE_ARGS, *config.serve_args],
            "serving_container_ports": [PORT],
            "serving_container_predict_route": PREDICT_ROUTE,
            "serving_container_health_route": MODEL_ROUTE,
        },
        "endpoint": (
            {"endpoint_name": config.endpoint}
            if config.endpoint
            else {"display_name": f"{config.display_name}-endpoint"}
        ),
        "deploy": {
            "deployed_model_display_name": config.display_name,
            "machine_type": config.machine_type,
            "min_replica_count": config.min_replica_count,
            "max_replica_count": config.max_replica_count,
            **accelerator,
            "traffic_percentage": config.traffic_percentage,
            "service_account": config.service_account or None,
        },
    }


def deploy(spec: dict) -> tuple[str, str]:
    """Uploads, creates the endpoint if needed, deploys (waits for each);
    returns the model's and the endpoint's resource names.

    Raises:
      InputError: no client library, no usable credentials, or Vertex AI
        refused a step.
    """
    with flags.google_cloud_errors("Vertex AI"):
        from google.cloud import aiplatform

        aiplatform.init(project=spec["project"], location=spec["location"])
        model = aiplatform.Model.upload(**spec["model"])
        if "endpoint_name" in spec["endpoint"]:
            endpoint = aiplatform.Endpoint(spec["endpoint"]["endpoint_name"])
        else:
            endpoint = aiplatform.Endpoint.create(**spec["endpoint"])
        model.deploy(endpoint=endpoint, **spec["deploy"])
        return model.resource_name, endpoint.resource_name


def check_export(artifact_uri: str) -> None:
    """Raises IncompleteExport unless `artifact_uri` holds a complete export,
    or an InputError when it cannot be read."""
    import tensorflow as tf  # the trainer image's: reads gs://

    try:
        check_complete(artifact_uri, tf.io.gfile.exists, "--artifact_uri")
    except tf.errors.OpError as err:
        raise InputError(
            f"--artifact_uri {artifact_uri} cannot be read ({err.message}): check "
            "the bucket, and your access to it (gcloud auth application-default "
            "login)"
        ) from None


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: print the spec (--dry-run) or deploy it."""
    config = parse_args(argv)
    spec = deploy_spec(config)
    if config.dry_run:
        print(json.dumps(spec, indent=2))
        return
    with flags.one_line_errors("serving.deploy", IncompleteExport):
        check_export(config.artifact_uri)
        model, endpoint = deploy(spec)
    print(f"deployed {model} to {endpoint}; predict at {endpoint}:predict")


if __name__ == "__main__":
    main()
