"""Submits `trainer.task` to Vertex AI as a custom job in the trainer image.

  python -m trainer.submit --project P --region us-central1 \\
      --staging_bucket gs://B [--worker_count 2] [--dry-run] \\
      -- --training_data='gs://B/data/training.tfrecord-*' --steps 100000

Everything after `--` goes to `trainer.task` unchanged; the image (by default
where cloudbuild.yaml pushes it, `drawing.container`) holds the code. With
`--worker_count N` > 1, Vertex AI sets TF_CONFIG on each replica and restarts
the job as a whole when one restarts. `base_output_dir` makes Vertex AI set
the AIP_* output paths that `trainer.task` defaults to. `--dry-run` prints
the job spec as JSON and needs no credentials or network.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import posixpath
from collections.abc import Sequence

from drawing import container, flags
from drawing.flags import flag

# Machine types that come with their GPUs attached, so need an accelerator.
_GPU_MACHINES = ("a2-", "a3-", "a4-", "g2-", "g4-")


@dataclasses.dataclass(frozen=True)
class SubmitConfig:
    """One custom job; each field is a flag, each default lives here."""

    project: str = flag(help="GCP project id", required=True)
    staging_bucket: str = flag(help="gs://bucket[/prefix]", required=True)
    region: str = flag("us-central1")
    display_name: str = flag("quickdraw-rnn")
    base_output_dir: str = flag("", "default: STAGING_BUCKET/jobs/DISPLAY_NAME-TIME")
    image: str = flag(
        "",
        f"trainer image URI; default: where cloudbuild.yaml pushes it, "
        f"{container.describe()}",
    )
    # One NVIDIA L4 (24 GB) on a G2 machine: a current GPU that TF 2.21 is
    # compiled for (sm_89), and the smallest machine it comes on.
    machine_type: str = flag("g2-standard-8")
    accelerator_type: str = flag(
        "NVIDIA_L4",
        "e.g. NVIDIA_L4, NVIDIA_TESLA_T4, NVIDIA_H100_80GB; empty for CPU only",
    )
    accelerator_count: int = flag(1, type=int)
    worker_count: int = flag(1, "replicas", type=int)
    service_account: str = flag("")
    tensorboard: str = flag("", "Vertex AI TensorBoard resource name")
    dry_run: bool = flags.dry_run("print the job spec; send nothing")
    trainer_args: tuple[str, ...] = flags.passthrough("trainer.task's flags")

    def __post_init__(self) -> None:
        bucket = self.staging_bucket.rstrip("/")
        if not bucket.startswith("gs://"):
            raise ValueError("--staging_bucket must be a gs:// URI")
        object.__setattr__(self, "staging_bucket", bucket)
        if not self.base_output_dir:
            stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
            output = f"{bucket}/jobs/{self.display_name}-{stamp}"
            object.__setattr__(self, "base_output_dir", output)
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
        return self.image or container.default_image(self.project, self.region)


def parse_args(argv: Sequence[str] | None = None) -> SubmitConfig:
    """Flags before `--` are ours; everything after goes to trainer.task."""
    description = "Submit trainer.task to Vertex AI; args after -- go to it."
    return flags.parse(
        SubmitConfig, argv, "python -m trainer.submit", description, verbose=False
    )


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
    """Creates the CustomJob (does not wait for it); returns its resource name.

    Raises:
      InputError: no client library, no usable credentials, or Vertex AI
        refused the job.
    """
    with flags.google_cloud_errors("Vertex AI"):
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
    config = parse_args(argv)
    spec = job_spec(config)
    if config.dry_run:
        print(json.dumps(spec, indent=2))
        return
    with flags.one_line_errors("trainer.submit"):
        name = submit(config, spec)
    outputs = posixpath.join(config.base_output_dir, "")
    print(f"submitted {name}; outputs under {outputs}")


if __name__ == "__main__":
    main()
