"""Submits `trainer.task` to Vertex AI as a custom job in the trainer image.

  python -m trainer.submit --project P --region us-central1 \\
      --staging_bucket gs://B [--worker_count 2] [--dry-run] \\
      -- --training_data='gs://B/data/training.tfrecord-*' \\
         --eval_data='gs://B/data/eval.tfrecord-*' --steps 100000

Everything after `--` goes to `trainer.task` unchanged: each worker pool runs
the trainer image (Dockerfile), whose entry point is `python -m trainer.task`,
with those args. The image defaults to where cloudbuild.yaml pushes it,
REGION-docker.pkg.dev/PROJECT/quickdraw/trainer:latest; `--image` names
another. No code is uploaded: the image holds it.

`--worker_count N` > 1 adds a second worker pool of N-1 replicas of the same
image; Vertex AI sets TF_CONFIG on each, so `trainer.task` picks
MultiWorkerMirroredStrategy, and the job is restarted as a whole when one
worker restarts (collective ops cannot carry on without it; BackupAndRestore
makes the restart resume).

`base_output_dir` (default `STAGING_BUCKET/jobs/DISPLAY_NAME-TIMESTAMP`) makes
Vertex AI set AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and AIP_TENSORBOARD_LOG_DIR,
which are `trainer.task`'s defaults for --export_dir, --model_dir and
--tensorboard_dir.

`--dry-run` prints the complete job spec as JSON; it sends nothing and needs
no credentials or network.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import posixpath
import sys
from collections.abc import Sequence

# Where cloudbuild.yaml pushes the trainer image (its _REPOSITORY, _IMAGE and
# _TAG substitutions; a test holds the two to each other).
REPOSITORY, IMAGE_NAME, IMAGE_TAG = "quickdraw", "trainer", "latest"
# Machine types that come with their GPUs attached, so need an accelerator.
_GPU_MACHINES = ("a2-", "a3-", "a4-", "g2-", "g4-")


def default_image(project: str, region: str) -> str:
    """The Artifact Registry URI that cloudbuild.yaml pushes the image to."""
    return f"{region}-docker.pkg.dev/{project}/{REPOSITORY}/{IMAGE_NAME}:{IMAGE_TAG}"


@dataclasses.dataclass(frozen=True)
class SubmitConfig:
    """One custom job; the defaults of the command line live here."""

    project: str
    staging_bucket: str
    region: str = "us-central1"
    display_name: str = "quickdraw-rnn"
    base_output_dir: str = ""  # empty: STAGING_BUCKET/jobs/DISPLAY_NAME-TIMESTAMP
    image: str = ""  # empty: default_image(project, region)
    # One NVIDIA L4 (24 GB) on a G2 machine: a current GPU that TF 2.21 is
    # compiled for (sm_89), and the smallest machine it comes on.
    machine_type: str = "g2-standard-8"
    accelerator_type: str = "NVIDIA_L4"
    accelerator_count: int = 1
    worker_count: int = 1
    service_account: str = ""
    tensorboard: str = ""
    dry_run: bool = False
    trainer_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.staging_bucket.startswith("gs://"):
            raise ValueError("--staging_bucket must be a gs:// URI")
        if self.worker_count < 1 or self.accelerator_count < 0:
            raise ValueError("--worker_count must be >= 1, --accelerator_count >= 0")
        gpus = self.accelerator_count and self.accelerator_type
        if not gpus and self.machine_type.startswith(_GPU_MACHINES):
            raise ValueError(
                f"{self.machine_type} comes with GPUs: give it --accelerator_type "
                "and --accelerator_count, or pick a CPU machine type such as "
                "n2-standard-8"
            )

    @property
    def image_uri(self) -> str:
        return self.image or default_image(self.project, self.region)


def _build_parser() -> argparse.ArgumentParser:
    defaults = SubmitConfig(project="", staging_bucket="gs://")
    p = argparse.ArgumentParser(
        prog="python -m trainer.submit",
        description="Submit trainer.task to Vertex AI; args after -- go to it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--project", required=True, help="GCP project id")
    p.add_argument("--staging_bucket", required=True, help="gs://bucket[/prefix]")
    p.add_argument("--region", default=defaults.region)
    p.add_argument("--display_name", default=defaults.display_name)
    p.add_argument(
        "--base_output_dir", default="", help="default: STAGING/jobs/NAME-TIME"
    )
    p.add_argument(
        "--image",
        default="",
        help="trainer image URI; default: where cloudbuild.yaml pushes it, "
        f"REGION-docker.pkg.dev/PROJECT/{REPOSITORY}/{IMAGE_NAME}:{IMAGE_TAG}",
    )
    p.add_argument("--machine_type", default=defaults.machine_type)
    p.add_argument(
        "--accelerator_type",
        default=defaults.accelerator_type,
        help="e.g. NVIDIA_L4, NVIDIA_TESLA_T4, NVIDIA_H100_80GB; empty for CPU only",
    )
    p.add_argument("--accelerator_count", type=int, default=defaults.accelerator_count)
    p.add_argument(
        "--worker_count", type=int, default=defaults.worker_count, help="replicas"
    )
    p.add_argument("--service_account", default="")
    p.add_argument(
        "--tensorboard", default="", help="Vertex AI TensorBoard resource name"
    )
    p.add_argument(
        "--dry-run",
        "--dry_run",
        dest="dry_run",
        action="store_true",
        help="print the job spec; send nothing",
    )
    return p


def split_passthrough(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the flags before `--`, the ones after it, which go to the container)."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    split = argv.index("--")
    return argv[:split], argv[split + 1 :]


def parse_args(argv: Sequence[str]) -> SubmitConfig:
    """Flags before `--` are ours; everything after goes to trainer.task."""
    argv, trainer_args = split_passthrough(argv)
    parser = _build_parser()
    values = vars(parser.parse_args(argv))
    values["staging_bucket"] = values["staging_bucket"].rstrip("/")
    if not values["base_output_dir"]:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
        values["base_output_dir"] = (
            f"{values['staging_bucket']}/jobs/{values['display_name']}-{stamp}"
        )
    try:
        return SubmitConfig(**values, trainer_args=tuple(trainer_args))
    except ValueError as err:
        parser.error(str(err))


def worker_pool_specs(config: SubmitConfig) -> list[dict]:
    """Pool 0: the chief (1 replica); pool 1: the other workers, if any. Every
    pool runs the same image with the same trainer args."""
    machine: dict = {"machine_type": config.machine_type}
    if config.accelerator_type and config.accelerator_count:
        machine["accelerator_type"] = config.accelerator_type
        machine["accelerator_count"] = config.accelerator_count

    def pool(replicas: int) -> dict:
        return {
            "machine_spec": dict(machine),
            "replica_count": replicas,
            "container_spec": {
                "image_uri": config.image_uri,
                "args": list(config.trainer_args),
            },
        }

    pools = [pool(1)]
    if config.worker_count > 1:
        pools.append(pool(config.worker_count - 1))
    return pools


def job_spec(config: SubmitConfig) -> dict:
    """Everything the job is made of, as submitted (and as --dry-run prints)."""
    return {
        "project": config.project,
        "location": config.region,
        "display_name": config.display_name,
        "staging_bucket": config.staging_bucket,
        "base_output_dir": config.base_output_dir,
        "worker_pool_specs": worker_pool_specs(config),
        "restart_job_on_worker_restart": config.worker_count > 1,
        "service_account": config.service_account or None,
        "tensorboard": config.tensorboard or None,
    }


def submit(config: SubmitConfig, spec: dict) -> str:
    """Creates the CustomJob (does not wait for it); returns its resource name."""
    from google.cloud import aiplatform

    aiplatform.init(
        project=config.project,
        location=config.region,
        staging_bucket=config.staging_bucket,
    )
    job = aiplatform.CustomJob(
        display_name=spec["display_name"],
        worker_pool_specs=spec["worker_pool_specs"],
        base_output_dir=spec["base_output_dir"],
        staging_bucket=config.staging_bucket,
    )
    job.submit(
        service_account=spec["service_account"],
        tensorboard=spec["tensorboard"],
        restart_job_on_worker_restart=spec["restart_job_on_worker_restart"],
    )
    return job.resource_name


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: print the spec (--dry-run) or submit it."""
    config = parse_args(sys.argv[1:] if argv is None else argv)
    spec = job_spec(config)
    if config.dry_run:
        print(json.dumps(spec, indent=2))
        return
    name = submit(config, spec)
    outputs = posixpath.join(config.base_output_dir, "")
    print(f"submitted {name}; outputs under {outputs}")


if __name__ == "__main__":
    main()
