"""Submits `trainer.task` to Vertex AI as a custom job from a prebuilt container.

  python -m trainer.submit --project P --region us-central1 \\
      --staging_bucket gs://B [--worker_count 2] [--dry-run] \\
      -- --training_data='gs://B/data/training.tfrecord-*' \\
         --eval_data='gs://B/data/eval.tfrecord-*' --steps 100000

Everything after `--` goes to `trainer.task` unchanged. The code travels as an
sdist of this repository (`setup.py sdist`), uploaded to
`STAGING_BUCKET/packages/` under a content hash, so resubmitting the same code
reuses the upload. Vertex AI installs it, with setup.py's pins, into the
executor image and runs `python -m trainer.task ARGS` on every replica.

`--worker_count N` > 1 adds a second worker pool of N-1 replicas; Vertex AI sets
TF_CONFIG on each, so `trainer.task` picks MultiWorkerMirroredStrategy, and the
job is restarted as a whole when one worker restarts (collective ops cannot
carry on without it; BackupAndRestore makes the restart resume).

`base_output_dir` (default `STAGING_BUCKET/jobs/DISPLAY_NAME-TIMESTAMP`) makes
Vertex AI set AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and AIP_TENSORBOARD_LOG_DIR,
which are `trainer.task`'s defaults for --export_dir, --model_dir and
--tensorboard_dir.

`--dry-run` builds the sdist locally (to know its hash) and prints the complete
job spec as JSON; it uploads nothing, sends nothing and needs no credentials.

Note: Vertex AI's prebuilt TensorFlow training images ship Python 3.10, while
setup.py requires Python 3.11 (and TF 2.21), so the default image cannot install
this package as is; pass `--container_image` with a Python 3.11 image that has
CUDA for TF 2.21 (or use a custom container).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import posixpath
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = "us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-17.py310:latest"
DEFAULT_MACHINE = "n1-standard-8"
DEFAULT_ACCELERATOR = "NVIDIA_TESLA_T4"
PYTHON_MODULE = "trainer.task"


@dataclasses.dataclass(frozen=True)
class SubmitConfig:
    project: str
    region: str
    staging_bucket: str
    display_name: str
    base_output_dir: str
    machine_type: str
    accelerator_type: str
    accelerator_count: int
    worker_count: int
    container_image: str
    package_uri: str
    service_account: str
    tensorboard: str
    dry_run: bool
    trainer_args: tuple[str, ...]


def parse_args(argv: Sequence[str]) -> SubmitConfig:
    """Flags before `--` are ours; everything after goes to trainer.task."""
    argv = list(argv)
    trainer_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, trainer_args = argv[:split], argv[split + 1 :]
    p = argparse.ArgumentParser(
        prog="python -m trainer.submit",
        description="Submit trainer.task to Vertex AI; args after -- go to it.",
    )
    p.add_argument("--project", required=True)
    p.add_argument("--region", default="us-central1")
    p.add_argument("--staging_bucket", required=True, help="gs://bucket[/prefix]")
    p.add_argument("--display_name", default="quickdraw-rnn")
    p.add_argument(
        "--base_output_dir", default="", help="default: STAGING/jobs/NAME-TIME"
    )
    p.add_argument("--machine_type", default=DEFAULT_MACHINE)
    p.add_argument(
        "--accelerator_type",
        default=DEFAULT_ACCELERATOR,
        help="e.g. NVIDIA_TESLA_T4, NVIDIA_L4; empty for CPU only",
    )
    p.add_argument("--accelerator_count", type=int, default=1)
    p.add_argument("--worker_count", type=int, default=1, help="replicas in all")
    p.add_argument(
        "--container_image", default=DEFAULT_IMAGE, help="executor image URI"
    )
    p.add_argument(
        "--package_uri",
        default="",
        help="an already uploaded sdist; default: build and upload one",
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
        help="print the job spec; upload and send nothing",
    )
    ns = p.parse_args(argv)
    if not ns.staging_bucket.startswith("gs://"):
        p.error("--staging_bucket must be a gs:// URI")
    if ns.worker_count < 1 or ns.accelerator_count < 0:
        p.error("--worker_count must be >= 1 and --accelerator_count >= 0")
    if ns.package_uri and not ns.package_uri.startswith("gs://"):
        p.error("--package_uri must be a gs:// URI")
    bucket = ns.staging_bucket.rstrip("/")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    return SubmitConfig(
        project=ns.project,
        region=ns.region,
        staging_bucket=bucket,
        display_name=ns.display_name,
        base_output_dir=ns.base_output_dir
        or f"{bucket}/jobs/{ns.display_name}-{stamp}",
        machine_type=ns.machine_type,
        accelerator_type=ns.accelerator_type if ns.accelerator_count else "",
        accelerator_count=ns.accelerator_count if ns.accelerator_type else 0,
        worker_count=ns.worker_count,
        container_image=ns.container_image,
        package_uri=ns.package_uri,
        service_account=ns.service_account,
        tensorboard=ns.tensorboard,
        dry_run=ns.dry_run,
        trainer_args=tuple(trainer_args),
    )


def build_sdist(out_dir: str | Path) -> Path:
    """`setup.py sdist` of the repository into `out_dir`; returns the archive."""
    out_dir = Path(out_dir)
    subprocess.run(
        [
            sys.executable,
            "setup.py",
            "-q",
            "sdist",
            "--formats=gztar",
            f"--dist-dir={out_dir}",
        ],
        cwd=REPO_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (archive,) = out_dir.glob("*.tar.gz")
    return archive


def package_uri_for(archive: Path, staging_bucket: str) -> str:
    """Content-addressed upload location: same code, same URI.

    The hash covers the files' names and contents, not the archive bytes,
    which change with every build (tar and gzip timestamps).
    """
    digest = hashlib.sha256()
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile():
                digest.update(member.name.encode() + b"\0")
                digest.update(tar.extractfile(member).read())
    name = archive.name.removesuffix(".tar.gz")
    return f"{staging_bucket}/packages/{name}-{digest.hexdigest()[:16]}.tar.gz"


def worker_pool_specs(config: SubmitConfig, package_uri: str) -> list[dict]:
    """Pool 0: the chief (1 replica); pool 1: the other workers, if any."""
    machine: dict = {"machine_type": config.machine_type}
    if config.accelerator_type:
        machine["accelerator_type"] = config.accelerator_type
        machine["accelerator_count"] = config.accelerator_count

    def pool(replicas: int) -> dict:
        return {
            "machine_spec": dict(machine),
            "replica_count": replicas,
            "python_package_spec": {
                "executor_image_uri": config.container_image,
                "package_uris": [package_uri],
                "python_module": PYTHON_MODULE,
                "args": list(config.trainer_args),
            },
        }

    pools = [pool(1)]
    if config.worker_count > 1:
        pools.append(pool(config.worker_count - 1))
    return pools


def job_spec(config: SubmitConfig, package_uri: str) -> dict:
    """Everything the job is made of, as submitted (and as --dry-run prints)."""
    return {
        "project": config.project,
        "location": config.region,
        "display_name": config.display_name,
        "staging_bucket": config.staging_bucket,
        "base_output_dir": config.base_output_dir,
        "worker_pool_specs": worker_pool_specs(config, package_uri),
        "restart_job_on_worker_restart": config.worker_count > 1,
        "service_account": config.service_account or None,
        "tensorboard": config.tensorboard or None,
    }


def _upload(archive: Path, uri: str, project: str) -> None:
    from google.cloud import storage

    bucket_name, _, blob_name = uri.removeprefix("gs://").partition("/")
    blob = storage.Client(project=project).bucket(bucket_name).blob(blob_name)
    if not blob.exists():
        blob.upload_from_filename(str(archive))


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
    config = parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        archive = None
        package_uri = config.package_uri
        if not package_uri:
            archive = build_sdist(tmp)
            package_uri = package_uri_for(archive, config.staging_bucket)
        spec = job_spec(config, package_uri)
        if config.dry_run:
            if archive is not None:
                spec["local_package"] = archive.name
            print(json.dumps(spec, indent=2))
            return
        if archive is not None:
            _upload(archive, package_uri, config.project)
        name = submit(config, spec)
    print(
        f"submitted {name}; outputs under {posixpath.join(config.base_output_dir, '')}"
    )


if __name__ == "__main__":
    main()
