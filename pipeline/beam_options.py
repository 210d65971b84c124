"""Beam's options for a run: where it runs, and what remote workers install.

Without --runner the job runs on Beam's local FnApiRunner, offline: the plain
DirectRunner of Beam 2.77 first tries to download the Prism runner, which
fails offline. A small input runs in this process: worker processes would
each import Beam, TensorFlow and tf.Transform again before their first
drawing, which is most of a first run's wait (bench/startup_bench.py); a
bigger one runs on every core. Workers that install this package from
--setup_file (Dataflow) get its Beam and tf.Transform requirements too
(`worker_requirements`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from importlib import metadata

from apache_beam.options.pipeline_options import PipelineOptions
from packaging.requirements import Requirement

from drawing.flags import InputError

# Up to this many input bytes (a default work unit's worth, ~100k drawings),
# the local runner runs in this process rather than in a worker per core.
IN_PROCESS_MAX_BYTES = 64 << 20

log = logging.getLogger("pipeline")


def _given(args: Sequence[str], flag: str) -> bool:
    return any(a == flag or a.startswith(f"{flag}=") for a in args)


def pipeline_requirements() -> list[str]:
    """The `pipeline` extra of this installed package (Beam, tf.Transform).

    Read from the package's metadata, so setup.py stays the one place that
    pins them.

    Raises:
      InputError: if the package is not installed.
    """
    try:
        # Run from a checkout, the project's egg-info lists it a second time.
        (dist,) = set(metadata.packages_distributions()["pipeline"])
        requires = metadata.requires(dist) or []
    except (KeyError, ValueError, metadata.PackageNotFoundError):
        raise InputError(
            "this project is not installed, and Dataflow workers get its [pipeline] "
            "requirements from its metadata: run `make venv` (or pip install -e "
            "'.[pipeline]')"
        ) from None
    wanted = []
    for line in requires:
        requirement = Requirement(line)
        marker, requirement.marker = requirement.marker, None
        if marker is not None and marker.evaluate({"extra": "pipeline"}):
            wanted.append(str(requirement))
    return wanted


def worker_requirements(beam_args: Sequence[str]) -> list[str]:
    """`beam_args` plus the pipeline's own requirements for remote workers.

    Workers install this package from --setup_file, and pip cannot be told an
    extra that way, so the `pipeline` extra goes to them as a requirements
    file. `--requirements_cache skip`: they install it from PyPI (or Beam bakes
    it into a prebuilt SDK container) instead of the launcher downloading
    TensorFlow's wheels to stage them. A --requirements_file of the caller's
    own is left alone.
    """
    args = list(beam_args)
    if not _given(args, "--setup_file") or _given(args, "--requirements_file"):
        return args
    folder = tempfile.mkdtemp(prefix="quickdraw-requirements-")
    path = os.path.join(folder, "requirements.txt")
    requirements = pipeline_requirements()
    with open(path, "w") as f:
        f.write("".join(f"{r}\n" for r in requirements))
    log.info("workers also install the [pipeline] extra: %s", ", ".join(requirements))
    args += ["--requirements_file", path]
    if not _given(args, "--requirements_cache"):
        args += ["--requirements_cache", "skip"]
    return args


def local_runner(input_bytes: int) -> list[str]:
    """The FnApiRunner's flags: in this process for a small input, else one
    worker process per core."""
    if input_bytes <= IN_PROCESS_MAX_BYTES:
        return ["--runner=FnApiRunner", "--direct_running_mode=in_memory"]
    return [
        "--runner=FnApiRunner",
        "--direct_running_mode=multi_processing",
        "--direct_num_workers=0",
    ]


def in_process(options: PipelineOptions) -> bool:
    """Whether the job's steps run in this process (the local in-memory runner)."""
    given = options.get_all_options()
    mode = given.get("direct_running_mode") or "in_memory"
    runner = given.get("runner") or ""
    return runner.endswith("FnApiRunner") and mode == "in_memory"


def pipeline_options(beam_args: Sequence[str], input_bytes: int) -> PipelineOptions:
    """Beam options; without --runner, the local runner (`local_runner`)."""
    args = worker_requirements(beam_args)
    if not _given(args, "--runner"):
        args += local_runner(input_bytes)
    return PipelineOptions(args, save_main_session=False)
