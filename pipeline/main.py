"""Command line: Quick, Draw! ndjson -> tutorial-format TFRecord shards.

    python -m pipeline.main --input 'gs://quickdraw_dataset/full/simplified/*.ndjson' \\
        --output out/ [--train_per_class 10000 --eval_per_class 1000] [Beam options]

Without a --runner it runs locally on all cores, offline. Any other Beam option
(--runner DataflowRunner, --project, --region, --temp_location, ...) is passed
through; see dataflow_launch.sh.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # before Beam's and TensorFlow's imports print notices
    from drawing import logs

    logs.setup(sys.argv[1:], stderr_filter=True)

import json
import logging
import os
import posixpath
import re
import tempfile
import time
import uuid
from collections.abc import Sequence
from importlib import metadata

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from packaging.requirements import Requirement

from drawing import features as F
from drawing import logs
from drawing.flags import InputError
from pipeline import encode, job, sources, staging
from pipeline.config import PipelineConfig, parse_args
from pipeline.report import summary

log = logging.getLogger("pipeline")
PROG = "pipeline.main"


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


def pipeline_options(beam_args: Sequence[str]) -> PipelineOptions:
    """Beam options; without --runner, the offline local runner on all cores.

    The plain DirectRunner of Beam 2.77 first tries to download the Prism runner,
    which fails offline, so the local default names the FnApiRunner directly.
    Workers that install this package from --setup_file get its Beam and
    tf.Transform requirements too (`worker_requirements`).
    """
    args = worker_requirements(beam_args)
    if not _given(args, "--runner"):
        args += [
            "--runner=FnApiRunner",
            "--direct_running_mode=multi_processing",
            "--direct_num_workers=0",
        ]
    return PipelineOptions(args, save_main_session=False)


def prepare_output(config: PipelineConfig) -> None:
    """Refuses to mix a new dataset into an old one unless --overwrite is given.

    Nothing of an old dataset is deleted here: it stays, `_SUCCESS` included,
    until the new one is complete (`pipeline.staging`). What a run that did
    not finish left in the staging folder is removed.
    """
    old = staging.existing(config.output)
    if old and not config.overwrite:
        raise InputError(
            f"--output {config.output} is not empty ({len(old)} files); "
            "pass --overwrite to replace it"
        )
    staging.remove_stale(config.output)
    if old:
        log.info(
            "--overwrite: the %d files in %s stay until the new dataset is complete",
            len(old),
            config.output,
        )


def _warn_empty_inputs(files: Sequence[sources.InputFile], classes: list[str]) -> None:
    for f in files:
        if f.size == 0:
            name = sources.class_name(f.path)
            left_out = "" if name in classes else f"; class {name!r} left out"
            log.warning("%s is empty (0 bytes)%s", f.path, left_out)


def _read_stats(output: str, run_id: str) -> dict | None:
    """This run's stats.json, or None when it has not written one (yet)."""
    path = posixpath.join(output, F.STATS_FILE)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        try:
            stats = json.loads(f.read())
        except ValueError:  # not ours: ours is whole once the run has ended
            return None
    return stats if isinstance(stats, dict) and stats.get("run_id") == run_id else None


def run(config: PipelineConfig, beam_args: Sequence[str]) -> dict | None:
    """Runs the conversion and returns stats.json's content (None for a dry run).

    A stats.json from an older run in --output does not count: this run's
    carries its own `run_id`.
    """
    files = sources.match_inputs(config.inputs)
    classes = sources.class_set(config.classes_file, files)
    _warn_empty_inputs(files, classes)
    prepare_output(config)
    options = pipeline_options(beam_args)
    log.info(
        "%d files, %d classes, %.1f MB -> %s",
        len(files),
        len(classes),
        sum(f.size for f in files) / 1e6,
        config.output,
    )
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    with beam.Pipeline(options=options) as p:
        job.build(p, config, files, classes, run_id)
    stats = _read_stats(config.output, run_id) or _read_stats(
        staging.folder(config.output), run_id
    )
    if stats is None:
        return None  # a dry run, or a runner that returned before the job ended
    stats["wall_seconds"] = round(time.monotonic() - started, 1)
    return stats


class _WorkerProgress(logging.Filter):
    """Shows local workers' progress lines as the product's own.

    They arrive as Beam records wrapping a proto dump; keep only the message.
    Every other record goes on to `drawing.logs`' filter.
    """

    _MESSAGE = re.compile(r'message: "(.*?)" (?:instruction_id|log_location)')

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("apache_beam"):
            found = self._MESSAGE.search(record.getMessage())
            if found and found.group(1).startswith(encode.PROGRESS):
                record.msg, record.args, record.name = found.group(1), (), "pipeline"
        return True


def fail(message: str) -> int:
    """A runtime error: one line `pipeline.main: error: what is wrong: what to
    do` on stderr, and exit status 1 (argparse's usage errors exit 2)."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (1 for a run that cannot be
    done or wrote no training record, 2 for a usage error)."""
    logs.setup(argv, filters=[_WorkerProgress()])
    config, beam_args = parse_args(argv, description=__doc__)
    try:
        stats = run(config, beam_args)
    except InputError as err:
        return fail(str(err))
    if stats is None:
        print(
            f"Job built; nothing written to {config.output} yet "
            "(a dry run, or a job that goes on running remotely)."
        )
    elif stats.get("failed"):
        return fail(stats["failed"])
    else:
        print(summary(stats, config.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
