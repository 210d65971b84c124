"""dataflow_launch.sh: help, argument checks, and an offline Dataflow dry run.

The dry run goes through DataflowRunner for real (option validation, the sdist
of setup.py, the pipeline graph, the Dataflow job object) and only stops short
of the Dataflow API; its GCS reads (the input listing, the output check) go to
the emulator. It runs from another directory to prove the script finds
./setup.py by itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from drawing import features as F
from tests.gcs_emulator import FAKE_PROJECT, GcsEmulator
from tools import synth

SCRIPT = Path(__file__).resolve().parents[2] / "dataflow_launch.sh"
# Settings the script reads from the environment; cleared so the host's own
# values cannot leak into a test.
SETTINGS = (
    "PROJECT",
    "REGION",
    "BUCKET",
    "INPUT",
    "OUTPUT",
    "JOB_NAME",
    "MACHINE_TYPE",
    "MAX_NUM_WORKERS",
    "TRAIN_PER_CLASS",
    "EVAL_PER_CLASS",
    "CLASSES_FILE",
    "NUM_SHARDS",
    "PYTHON",
    "PREBUILD",
    "REGISTRY",
    "DRY_RUN",
)
VALID = ["--project", FAKE_PROJECT, "--region", "us-central1", "--bucket", "bkt-1"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env["PYTHON"] = sys.executable
    env.update(extra)
    return env


def _launch(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_script_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)


def test_help_explains_settings_examples_and_cost(tmp_path: Path) -> None:
    done = _launch(["--help"], _env(), tmp_path)

    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("Usage: dataflow_launch.sh")
    for flag in (
        "--project",
        "--region",
        "--bucket",
        "--input",
        "--output",
        "--machine-type",
        "--max-num-workers",
        "--dry-run",
    ):
        assert flag in text
    for setting in SETTINGS:
        if setting != "DRY_RUN":
            assert setting in text
    assert "DRY_RUN=1" in text
    assert "gs://quickdraw_dataset/full/simplified/*.ndjson" in text
    assert "Examples:" in text
    assert "Cost" in text and "US$" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no project"),
        (["--project", "My-Project"], "not a valid GCP project id"),
        (["--project", "1project"], "not a valid GCP project id"),
        (["--project", "short"], "not a valid GCP project id"),
        (["--project", "a" * 31], "not a valid GCP project id"),
        (["--project", "ends-with-"], "not a valid GCP project id"),
        (["--project", "my_project_1"], "not a valid GCP project id"),
        (["--project", FAKE_PROJECT], "no region"),
        (["--project", FAKE_PROJECT, "--region", "us-central1"], "no bucket"),
        ([*VALID[:2], "--region", "Central"], "does not look like a Dataflow region"),
        ([*VALID, "--bucket", "Bad_Bucket"], "not a valid GCS bucket name"),
        ([*VALID, "--output", "/tmp/out"], "--output must be a gs:// path"),
        ([*VALID, "--input", "data/*.ndjson"], "--input must be a gs:// path"),
        ([*VALID, "--max-num-workers", "0"], "--max-num-workers must be a positive"),
        ([*VALID, "--job-name", "Job_1"], "not a valid Dataflow job name"),
        ([*VALID, "--frobnicate"], "unknown option '--frobnicate'"),
        ([*VALID, "--region"], "option --region needs a value"),
        ([*VALID, "--python", "no-such-python-3.11"], "not found"),
        ([*VALID, "--registry", "not a url"], "is not a registry URL"),
    ],
)
def test_bad_settings_fail_fast_with_a_clear_message(
    args: list[str], message: str, tmp_path: Path
) -> None:
    done = _launch(args, _env(), tmp_path)

    assert done.returncode == 2
    assert message in done.stderr
    assert "--help" in done.stderr
    assert done.stdout == ""


def test_a_python_without_the_project_is_refused_at_once(tmp_path: Path) -> None:
    bare = tmp_path / "python"  # Python without site-packages: no Beam there
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S "$@"\n')
    bare.chmod(0o755)
    done = _launch([*VALID, "--python", str(bare)], _env(), tmp_path)

    assert done.returncode == 2
    assert "cannot import apache_beam tensorflow_transform pipeline.main" in (
        done.stderr
    )
    assert "make venv" in done.stderr and "Traceback" not in done.stderr


def test_project_from_the_environment_is_validated(tmp_path: Path) -> None:
    done = _launch([], _env(PROJECT="Not A Project"), tmp_path)

    assert done.returncode == 2
    assert "'Not A Project' is not a valid GCP project id" in done.stderr


@pytest.mark.slow
def test_dry_run_builds_the_dataflow_job_offline(
    gcs: GcsEmulator, gcs_bucket: str, tmp_path: Path
) -> None:
    synth.write_dataset(tmp_path / "src", num_classes=2, per_class=5)
    gcs.upload_dir(tmp_path / "src", f"{gcs_bucket}/in")
    # An old dataset in --output, which --overwrite may replace only once a
    # new one is complete: a dry run must leave it as it is.
    old_dataset = {
        F.STATS_FILE: json.dumps({"lines_read": 7}).encode(),
        F.SUCCESS_FILE: b"",
        f"{F.TRAIN_PREFIX}-00000-of-00001": b"old records",
    }
    for name, data in old_dataset.items():
        gcs.upload_bytes(data, f"{gcs_bucket}/out/{name}")
    bucket_name = gcs_bucket.removeprefix("gs://")
    before = gcs.list(f"{gcs_bucket}/")
    # Beam's stager leaves the workers' package in a directory under TMPDIR.
    (tmp_path / "tmp").mkdir()
    env = gcs.env(_env(TMPDIR=str(tmp_path / "tmp"), MACHINE_TYPE="n2-highcpu-8"))

    done = _launch(
        [
            "--dry-run",
            "--prebuild",
            "--project",
            FAKE_PROJECT,
            "--region",
            "us-central1",
            "--bucket",
            bucket_name,
            "--input",
            f"{gcs_bucket}/in/*.ndjson",
            "--output",
            f"{gcs_bucket}/out",
            "--max-num-workers=7",
            "--job-name",
            "quickdraw-dry-run-test",
            # Relative to the caller's directory, not the script's.
            "--python",
            os.path.relpath(sys.executable, tmp_path),
            "--",
            "--train_per_class",
            "5",
            # tf.Transform writes its traced graph to gs://BUCKET/tmp while the
            # job is built, through TensorFlow's own GCS client, which cannot be
            # pointed at an emulator; offline, the dry run builds the job
            # without the analysis.
            "--analysis_fraction",
            "0",
            "--overwrite",
        ],
        env,
        tmp_path,
        timeout=240,
    )

    assert done.returncode == 0, done.stderr[-5000:]
    # The command the script ran, as it printed it.
    [command] = [line for line in done.stderr.splitlines() if "running:" in line]
    for part in (
        "-m pipeline.main",
        f"--input {gcs_bucket}/in/\\*.ndjson",
        "--runner DataflowRunner",
        f"--project {FAKE_PROJECT}",
        "--region us-central1",
        "--job_name quickdraw-dry-run-test",
        f"--temp_location {gcs_bucket}/tmp",
        f"--staging_location {gcs_bucket}/staging",
        "--setup_file ./setup.py",
        "--machine_type n2-highcpu-8",
        "--max_num_workers 7",
        "--dry_run=True",
        "--train_per_class 5",
    ):
        assert part in command, part
    # DataflowRunner built the job: the pipeline ran to the end without error,
    # and Beam's stager packaged setup.py as the workers' dependency.
    assert "Job built" in done.stdout
    [sdist] = (tmp_path / "tmp").glob("*/*.tar.gz")
    with tarfile.open(sdist) as tar:
        packaged = {name.split("/", 1)[-1] for name in tar.getnames()}
    assert {"setup.py", "pipeline/main.py", "pipeline/encode.py"} <= packaged
    assert "dry run OK: job 'quickdraw-dry-run-test' was built" in done.stdout
    # Workers that install setup.py also get its [pipeline] extra.
    assert (
        "workers also install the [pipeline] extra: apache-beam[gcp]==2.77.*, "
        "tensorflow-transform==1.21.*" in done.stderr
    )
    # The prebuild flags are shown, for submission, and not run.
    assert "on submission, also: --prebuild_sdk_container_engine cloud_build" in (
        done.stderr
    )
    # Nothing ran and nothing was staged: the bucket holds only the input and
    # the old dataset, byte for byte; its stats.json was not taken for this
    # run's ("Job built" above, not a summary).
    assert gcs.list(f"{gcs_bucket}/") == before
    for name, data in old_dataset.items():
        assert gcs.read(f"{gcs_bucket}/out/{name}") == data
    assert "Wrote " not in done.stdout
    # The credential fallback's 20 s of retries never happened.
    assert "Retry with exponential backoff" not in done.stderr
    # Beam built the sdist its preferred way (`python -m build`, which the
    # [pipeline] extra installs), so no missing module was printed.
    assert "No module named" not in done.stderr, done.stderr[-3000:]


def _project_copy(tmp_path: Path, python: str) -> Path:
    """The launcher and setup.py in a folder of their own, whose .venv/bin/python
    runs `python`, as `make venv` leaves a checkout."""
    project = tmp_path / "project"
    (project / ".venv" / "bin").mkdir(parents=True)
    for name in ("dataflow_launch.sh", "setup.py"):
        shutil.copy(SCRIPT.parent / name, project / name)
    venv_python = project / ".venv" / "bin" / "python"
    venv_python.write_text(f'#!/bin/sh\nexec {python} "$@"\n')
    venv_python.chmod(0o755)
    return project


def test_the_projects_venv_is_the_default_and_a_missing_bucket_is_one_line(
    gcs: GcsEmulator, tmp_path: Path
) -> None:
    project = _project_copy(tmp_path, sys.executable)
    missing = "gs://no-such-bucket-0/quickdraw/*.ndjson"
    done = subprocess.run(
        ["bash", str(project / "dataflow_launch.sh"), *VALID, "--input", missing],
        env=gcs.env(_env(PATH=os.environ["PATH"])) | {"PYTHON": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    [command] = [x for x in done.stderr.splitlines() if "running:" in x]
    assert f"running: {project}/.venv/bin/python -m pipeline.main" in command
    errors = [x for x in done.stderr.splitlines() if "error:" in x]
    assert errors == [
        f"pipeline.main: error: --input {missing!r} cannot be listed: "
        "no such bucket: check the bucket's name"
    ]
    assert "Traceback" not in done.stderr


def _recorded_launch(tmp_path: Path, *args: str) -> tuple[list[str], str]:
    """Runs the launcher with a Python that records what pipeline.main would get."""
    record = tmp_path / "argv"
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = -c ] && exec {sys.executable} "$@"  # the launcher\'s import check\n'
        f'printf "%s\\n" "$@" > {record}\n'
    )
    fake.chmod(0o755)
    done = _launch([*VALID, "--python", str(fake), *args], _env(), tmp_path)
    assert done.returncode == 0, done.stderr
    return record.read_text().splitlines(), done.stderr


def test_prebuild_passes_beams_prebuilding_flags_on_submission(tmp_path: Path):
    argv, _ = _recorded_launch(tmp_path, "--prebuild")
    assert argv[:2] == ["-m", "pipeline.main"]
    options = PipelineOptions(argv[2:]).get_all_options()
    assert options["prebuild_sdk_container_engine"] == "cloud_build"
    assert options["docker_registry_push_url"] == (
        f"us-central1-docker.pkg.dev/{FAKE_PROJECT}/quickdraw"
    )
    assert options["cloud_build_machine_type"] == "e2-highcpu-8"
    assert options["setup_file"] == "./setup.py"
    assert not options["dry_run"]
    # Without --prebuild, none of them.
    argv, _ = _recorded_launch(tmp_path)
    assert not any("prebuild" in a or "docker_registry" in a for a in argv)


def test_a_prebuild_dry_run_shows_the_flags_but_builds_nothing(tmp_path: Path):
    registry = "europe-docker.pkg.dev/other-project/images"
    argv, stderr = _recorded_launch(
        tmp_path, "--prebuild", "--registry", registry, "--dry-run"
    )
    assert "--dry_run=True" in argv
    # Beam would build and push the image before its dry run returns.
    assert not any("prebuild" in a or "docker_registry" in a for a in argv)
    [shown] = [x for x in stderr.splitlines() if "on submission, also:" in x]
    assert "--prebuild_sdk_container_engine cloud_build" in shown
    assert f"--docker_registry_push_url {registry}" in shown
