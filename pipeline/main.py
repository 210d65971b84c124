"""Command line: Quick, Draw! ndjson -> tutorial-format TFRecord shards.

    python -m pipeline.main --input 'gs://quickdraw_dataset/full/simplified/*.ndjson' \\
        --output out/ [--train_per_class 10000 --eval_per_class 1000] [Beam options]

Without a --runner it runs locally, offline: in this process for a small input,
else on all cores (`pipeline.beam_options`). Any other Beam option
(--runner DataflowRunner, --project, --region, --temp_location, ...) is passed
through; see dataflow_launch.sh.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # before Beam's and TensorFlow's imports print notices
    import gc

    # Beam's, TensorFlow's and tf.Transform's imports, and the job's graph, make
    # millions of objects that live for the whole run: collecting garbage among
    # them took a fifth of the imports' time. `run` turns the collector back on.
    gc.disable()
    from drawing import logs

    logs.setup(sys.argv[1:], stderr_filter=True)

import gc
import json
import logging
import posixpath
import re
import time
import uuid
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from drawing import features as F
from drawing import flags, logs
from drawing.flags import InputError
from pipeline import beam_options, encode, job, sources, staging
from pipeline.config import PipelineConfig, parse_args
from pipeline.report import summary

log = logging.getLogger("pipeline")
PROG = "pipeline.main"


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
    size = sum(f.size for f in files)
    options = beam_options.pipeline_options(beam_args, size)
    log.info(
        "%d files, %d classes, %.1f MB -> %s",
        len(files),
        len(classes),
        size / 1e6,
        config.output,
    )
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    try:
        with beam.Pipeline(options=options) as p:
            job.build(p, config, files, classes, run_id)
            _collect_from_here()
            # Leaving the block runs the job: here, if the runner is in-process.
            _JOB_LINES.steps_run_here = beam_options.in_process(options)
    finally:
        _JOB_LINES.steps_run_here = False
    stats = _read_stats(config.output, run_id) or _read_stats(
        staging.folder(config.output), run_id
    )
    if stats is None:
        return None  # a dry run, or a runner that returned before the job ended
    stats["wall_seconds"] = round(time.monotonic() - started, 1)
    return stats


def _collect_from_here() -> None:
    """Turns the garbage collector back on, if the `__main__` block turned it
    off, with what the imports and the graph made frozen out of its way."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


class _JobLines(logging.Filter):
    """Of the job's steps, shows the progress lines, as the product's own.

    From local worker processes they arrive as Beam records wrapping a proto
    dump: only the message is kept. A small input's steps run in this process
    (`beam_options`): while they run, their other records below ERROR are
    held back unless --verbose, as worker processes keep theirs, so the
    output is the same either way. Every other record goes on to
    `drawing.logs`' filter.
    """

    _MESSAGE = re.compile(r'message: "(.*?)" (?:instruction_id|log_location)')

    def __init__(self) -> None:
        super().__init__()
        self.steps_run_here = False
        self.verbose = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("apache_beam"):
            found = self._MESSAGE.search(record.getMessage())
            if found and found.group(1).startswith(encode.PROGRESS):
                record.msg, record.args, record.name = found.group(1), (), "pipeline"
            return True
        if not self.steps_run_here or not logs.is_product(record):
            return True
        message = record.getMessage()
        if message.startswith(encode.PROGRESS):
            record.msg, record.args, record.name = message, (), "pipeline"
            return True
        return self.verbose or record.levelno >= logging.ERROR


_JOB_LINES = _JobLines()


def fail(message: str) -> int:
    """A runtime error: one line `pipeline.main: error: what is wrong: what to
    do` on stderr, and exit status 1 (argparse's usage errors exit 2)."""
    print(flags.error_line(PROG, message), file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (1 for a run that cannot be
    done or wrote no training record, 2 for a usage error)."""
    _JOB_LINES.verbose = logs.setup(argv, filters=[_JOB_LINES])
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
