"""Command line: Quick, Draw! ndjson -> tutorial-format TFRecord shards.

    python -m pipeline.main --input 'gs://quickdraw_dataset/full/simplified/*.ndjson' \\
        --output out/ [--train_per_class 10000 --eval_per_class 1000] [Beam options]

Without a --runner it runs locally on all cores, offline. Any other Beam option
(--runner DataflowRunner, --project, --region, --temp_location, ...) is passed
through; see dataflow_launch.sh.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from packaging.requirements import Requirement

from pipeline import features as F
from pipeline import graph, sources, transforms
from pipeline.config import PipelineConfig, parse_args

log = logging.getLogger("pipeline")


def _given(args: Sequence[str], flag: str) -> bool:
    return any(a == flag or a.startswith(f"{flag}=") for a in args)


def pipeline_requirements() -> list[str]:
    """The `pipeline` extra of this installed package (Beam, tf.Transform).

    Read from the package's metadata, so setup.py stays the one place that
    pins them.

    Raises:
      sources.InputError: if the package is not installed.
    """
    try:
        # Run from a checkout, the project's egg-info lists it a second time.
        (dist,) = set(metadata.packages_distributions()["pipeline"])
        requires = metadata.requires(dist) or []
    except (KeyError, ValueError, metadata.PackageNotFoundError):
        raise sources.InputError(
            "Dataflow workers need this package's [pipeline] requirements, but it "
            "is not installed: run `make venv` (or pip install -e '.[pipeline]')"
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
    """Refuses to mix a new dataset into an old one unless --overwrite is given."""
    everything = posixpath.join(config.output, "**")
    existing = sources.match("--output", config.output, [everything])[0]
    paths = [m.path for m in existing.metadata_list]
    if not paths:
        return
    if not config.overwrite:
        raise sources.InputError(
            f"--output {config.output} is not empty ({len(paths)} files); "
            "pass --overwrite to replace it"
        )
    log.info("--overwrite: deleting %d files under %s", len(paths), config.output)
    FileSystems.delete(paths)


def run(config: PipelineConfig, beam_args: Sequence[str]) -> dict | None:
    """Runs the conversion and returns stats.json's content (None for a dry run)."""
    files = sources.match_inputs(config.inputs)
    classes = sources.class_set(config.classes_file, files)
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
    with beam.Pipeline(options=options) as p:
        graph.build(p, config, files, classes)
    stats_path = posixpath.join(config.output, F.STATS_FILE)
    if not FileSystems.exists(stats_path):
        return None  # a dry run, or a runner that returned before the job ended
    with FileSystems.open(stats_path) as f:
        stats = json.loads(f.read())
    stats["wall_seconds"] = round(time.monotonic() - started, 1)
    return stats


def summary(stats: dict, output: str) -> str:
    """The run's line accounting, for the terminal."""
    rejected = sum(stats["rejected"].values())
    lines = [
        f"Wrote {output} in {stats.get('wall_seconds', '?')} s:",
        f"  lines read     {stats['lines_read']:>10,}",
        f"  train written  {stats['written'][F.TRAIN]:>10,}",
        f"  eval written   {stats['written'][F.EVAL]:>10,}",
        f"  dropped by cap {sum(stats['dropped_by_cap'].values()):>10,}",
        f"  filtered       {stats['filtered']:>10,}",
        f"  rejected       {rejected:>10,}"
        + (f"  (see {output}/{F.ERRORS_DIR}/)" if rejected else ""),
    ]
    lines += [f"    {reason}: {n:,}" for reason, n in stats["rejected"].items()]
    lines.append(f"  classes        {stats['classes']:>10,}")
    return "\n".join(lines)


class _ProgressOnly(logging.Filter):
    """Keeps Beam's chatter out of the terminal but lets worker progress through.

    Local workers' log lines arrive wrapped in a proto dump; show only the message.
    """

    _MESSAGE = re.compile(r'message: "(.*?)" (?:instruction_id|log_location)')

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            not record.name.startswith("apache_beam")
            or record.levelno >= logging.WARNING
        ):
            return True
        found = self._MESSAGE.search(record.getMessage())
        if found and found.group(1).startswith(transforms.PROGRESS):
            record.msg, record.args, record.name = found.group(1), (), "pipeline"
            return True
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (2 for unusable input)."""
    handler = logging.StreamHandler()
    handler.addFilter(_ProgressOnly())
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        handlers=[handler],
    )
    config, beam_args = parse_args(argv, description=__doc__)
    try:
        stats = run(config, beam_args)
    except sources.InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if stats is None:
        print(f"Job built; no output in {config.output} yet (dry run or detached).")
    else:
        print(summary(stats, config.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
