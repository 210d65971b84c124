"""Command line: Quick, Draw! ndjson -> tutorial-format TFRecord shards.

    python -m pipeline.main --input 'gs://quickdraw_dataset/full/simplified/*.ndjson' \\
        --output out/ [--train_per_class 10000 --eval_per_class 1000] [Beam options]

Without a --runner it runs locally on all cores, offline. Any other Beam option
(--runner DataflowRunner, --project, --region, --temp_location, ...) is passed
through; see dataflow_launch.sh.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import posixpath
import re
import sys
import time
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import features as F
from pipeline import ink, sources, transforms
from pipeline import stats as stats_lib

log = logging.getLogger("pipeline")


@dataclasses.dataclass(frozen=True)
class Config:
    inputs: tuple[str, ...]
    output: str
    classes_file: str | None = None
    train_per_class: int = 10_000
    eval_per_class: int = 1_000
    eval_fraction: float = 0.1
    num_shards: int = 0
    recognized_only: bool = False
    max_points: int = ink.DEFAULT_MAX_POINTS
    overwrite: bool = False
    analysis_fraction: float | None = None  # None: aim at ANALYSIS_TARGET drawings
    stripe_mb: int = sources.DEFAULT_STRIPE_BYTES >> 20


def parse_args(argv: Sequence[str] | None) -> tuple[Config, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.main",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--input",
        action="append",
        required=True,
        help="ndjson file, directory or glob, local or gs://; .gz works; repeatable",
    )
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument(
        "--classes_file",
        help="one class per line; default: the input file names (<class>.ndjson)",
    )
    parser.add_argument(
        "--train_per_class", type=int, default=10_000, help="cap; 0 keeps all"
    )
    parser.add_argument(
        "--eval_per_class", type=int, default=1_000, help="cap; 0 keeps all"
    )
    parser.add_argument(
        "--eval_fraction",
        type=float,
        default=0.1,
        help="share of drawings that go to eval, by a stable hash of key_id",
    )
    parser.add_argument(
        "--num_shards",
        type=int,
        default=0,
        help="shards per split; 0 = automatic (one per work bundle, no extra "
        "shuffle; a fixed count adds a shuffle that the local runner holds in memory)",
    )
    parser.add_argument("--recognized_only", action="store_true")
    parser.add_argument("--max_points", type=int, default=ink.DEFAULT_MAX_POINTS)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a non-empty --output"
    )
    parser.add_argument(
        "--analysis_fraction",
        type=float,
        default=None,
        help="share of training drawings (by key_id hash) that tf.Transform "
        f"analyses; default: about {ANALYSIS_TARGET:,} drawings; 0 skips tf.Transform",
    )
    parser.add_argument(
        "--stripe_mb",
        type=int,
        default=sources.DEFAULT_STRIPE_BYTES >> 20,
        help="input bytes per work unit; bounds a worker's memory",
    )
    args, beam_args = parser.parse_known_args(argv)
    if not 0.0 <= args.eval_fraction <= 1.0:
        parser.error("--eval_fraction must be within [0, 1]")
    if args.analysis_fraction is not None and not 0 <= args.analysis_fraction <= 1:
        parser.error("--analysis_fraction must be within [0, 1]")
    if min(args.train_per_class, args.eval_per_class, args.num_shards) < 0:
        parser.error("caps and --num_shards must be >= 0")
    config = Config(
        inputs=tuple(args.input),
        output=args.output.rstrip("/") or args.output,
        classes_file=args.classes_file,
        train_per_class=args.train_per_class,
        eval_per_class=args.eval_per_class,
        eval_fraction=args.eval_fraction,
        num_shards=args.num_shards,
        recognized_only=args.recognized_only,
        max_points=args.max_points,
        overwrite=args.overwrite,
        analysis_fraction=args.analysis_fraction,
        stripe_mb=args.stripe_mb,
    )
    return config, beam_args


def pipeline_options(beam_args: Sequence[str]) -> PipelineOptions:
    """Beam options; without --runner, the offline local runner on all cores.

    The plain DirectRunner of Beam 2.77 first tries to download the Prism runner,
    which fails offline, so the local default names the FnApiRunner directly.
    """
    args = list(beam_args)
    if not any(a == "--runner" or a.startswith("--runner=") for a in args):
        args += [
            "--runner=FnApiRunner",
            "--direct_running_mode=multi_processing",
            "--direct_num_workers=0",
        ]
    return PipelineOptions(args, save_main_session=False)


def read_classes(config: Config, files: Sequence[sources.InputFile]) -> list[str]:
    if config.classes_file:
        with FileSystems.open(config.classes_file) as f:
            names = [c.strip() for c in f.read().decode("utf-8").splitlines()]
        classes = sorted({c for c in names if c})
    else:
        classes = sorted({sources.class_name(f.path) for f in files})
    if not classes:
        raise sources.InputError("no classes: the class set is empty")
    return classes


def prepare_output(config: Config) -> None:
    """Refuses to mix a new dataset into an old one unless --overwrite is given."""
    existing = FileSystems.match([posixpath.join(config.output, "**")])[0]
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


_TFT_TEMP = ".tft_tmp"
# A deterministic sample of this many training drawings (~1M deltas) pins the
# mean and std to ~1e-3 and the length quantiles to ~1% in rank; analysing
# every drawing cost more than the rest of the pipeline (see bench/README.md).
ANALYSIS_TARGET = 20_000
_BYTES_PER_DRAWING = 500  # the simplified dataset's average line


def analysis_fraction(config: Config, files, num_classes: int) -> float:
    """The share of training drawings to analyse, estimated before the run."""
    if config.analysis_fraction is not None:
        return config.analysis_fraction
    expected = sum(f.size for f in files) / _BYTES_PER_DRAWING
    expected *= 1 - config.eval_fraction
    if config.train_per_class:
        expected = min(expected, config.train_per_class * num_classes)
    return min(1.0, ANALYSIS_TARGET / max(expected, 1.0))


def _write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))


def finalize(
    _,
    output: str,
    classes: list[str],
    stats: dict,
    written,
    transform_done,
    analysis_fraction: float,
) -> dict:
    """Runs after every shard is final; until then the output is visibly unfinished.

    The classes file, stats.json and _SUCCESS are written last, so a failed run
    never leaves something that looks like a finished dataset.
    """
    stats_lib.check_accounting(stats)
    stats = {**stats, "classes": len(classes), "shards": sorted(written)}
    if transform_done:
        from pipeline import preprocessing  # imports tensorflow_transform

        transform = preprocessing.statistics(posixpath.join(output, F.TRANSFORM_DIR))
        if transform.pop("vocabulary") != classes:
            raise RuntimeError("tf.Transform's vocabulary differs from the classes")
        stats["transform"] = transform
        stats["transform"]["analysis_fraction"] = analysis_fraction
        FileSystems.delete([posixpath.join(output, _TFT_TEMP)])
    _write_text(posixpath.join(output, F.STATS_FILE), json.dumps(stats, indent=1))
    _write_text(
        posixpath.join(output, F.CLASSES_FILE), "".join(f"{c}\n" for c in classes)
    )
    _write_text(posixpath.join(output, F.SUCCESS_FILE), "")
    return stats


def build(
    p: beam.Pipeline,
    config: Config,
    files: Sequence[sources.InputFile],
    classes: Sequence[str],
) -> None:
    """Adds the whole conversion to `p`."""
    encode_config = transforms.EncodeConfig(
        classes=tuple(classes),
        eval_fraction=config.eval_fraction,
        max_points=config.max_points,
        recognized_only=config.recognized_only,
        train_per_class=config.train_per_class,
        eval_per_class=config.eval_per_class,
        analysis_fraction=analysis_fraction(config, files, len(classes)),
    )
    stripes = sources.plan_stripes(files, config.stripe_mb << 20)
    log.info("%d input files in %d work units", len(files), len(stripes))
    out = (
        p
        | "Stripes" >> beam.Create(stripes)
        | "Spread" >> beam.Reshuffle()  # one work unit per worker at a time
        | "EncodeDrawings" >> transforms.EncodeDrawings(encode_config)
    )
    written = []
    for split_name in F.SPLITS:
        written.append(
            out[split_name]
            | f"Write{split_name.title()}"
            >> beam.io.WriteToTFRecord(
                posixpath.join(config.output, F.SPLIT_PREFIX[split_name]),
                num_shards=config.num_shards,
            )
        )
    written.append(
        out[transforms.REJECTED]
        | "WriteErrors"
        >> beam.io.WriteToText(
            posixpath.join(config.output, F.ERRORS_DIR, "rejected"),
            file_name_suffix=".ndjson",
            coder=beam.coders.BytesCoder(),
        )
    )
    stats = out[transforms.STATS] | "Stats" >> transforms.MergeStats()
    if encode_config.analysis_fraction > 0:
        from pipeline import analysis  # imports tensorflow_transform

        transform_done = out[transforms.TRAIN_RAW] | "Transform" >> (
            analysis.AnalyzeAndWriteTransform(
                posixpath.join(config.output, F.TRANSFORM_DIR),
                classes,
                posixpath.join(config.output, _TFT_TEMP),
            )
        )
    else:
        transform_done = p | "NoTransform" >> beam.Create([])
    files_written = written | "AllWritten" >> beam.Flatten()
    _ = (
        p
        | "Once" >> beam.Create([None])
        | "Finalize"
        >> beam.Map(
            finalize,
            output=config.output,
            classes=list(classes),
            stats=beam.pvalue.AsSingleton(stats),
            written=beam.pvalue.AsList(files_written),
            transform_done=beam.pvalue.AsList(transform_done),
            analysis_fraction=encode_config.analysis_fraction,
        )
    )


def run(config: Config, beam_args: Sequence[str]) -> dict | None:
    """Runs the conversion and returns stats.json's content (None for a dry run)."""
    files = sources.match_inputs(config.inputs)
    classes = read_classes(config, files)
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
        build(p, config, files, classes)
    stats_path = posixpath.join(config.output, F.STATS_FILE)
    if not FileSystems.exists(stats_path):
        return None  # a dry run, or a runner that returned before the job ended
    with FileSystems.open(stats_path) as f:
        stats = json.loads(f.read())
    stats["wall_seconds"] = round(time.monotonic() - started, 1)
    return stats


def summary(stats: dict, output: str) -> str:
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
    handler = logging.StreamHandler()
    handler.addFilter(_ProgressOnly())
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        handlers=[handler],
    )
    config, beam_args = parse_args(argv)
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
