"""The Beam graph of one run: stripes -> encoded splits, errors, statistics.

`build` adds the whole conversion to a pipeline; every file goes to the
staging folder (`pipeline.staging`) and `finalize` runs as the last step, once
every shard and the transform are written: it swaps the new dataset into
--output. The labels are stable, so Dataflow's monitoring and job updates keep
recognising the steps.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import posixpath
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from drawing import features as F
from drawing import shard_manifest, tft_output
from pipeline import (
    accounting,
    bin_reader,
    encode,
    report,
    shard_writer,
    sources,
    staging,
)
from pipeline.config import ANALYSIS_TARGET, PipelineConfig

log = logging.getLogger("pipeline")

_TFT_TEMP = ".tft_tmp"  # hidden: staging.swap_in leaves it to be deleted
_BYTES_PER_DRAWING = 500  # the simplified dataset's average line
_BINARY_BYTES_PER_DRAWING = 123  # the same drawings in a .bin file


def analysis_fraction(
    config: PipelineConfig, files: Sequence[sources.InputFile], num_classes: int
) -> float:
    """The share of training drawings to analyse, estimated before the run."""
    if config.analysis_fraction is not None:
        return config.analysis_fraction
    expected = sum(
        f.size
        / (
            _BINARY_BYTES_PER_DRAWING
            if bin_reader.is_binary(f.path)
            else _BYTES_PER_DRAWING
        )
        for f in files
    )
    expected *= 1 - config.eval_fraction
    if config.train_per_class:
        expected = min(expected, config.train_per_class * num_classes)
    return min(1.0, ANALYSIS_TARGET / max(expected, 1.0))


def _write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))


@dataclasses.dataclass(frozen=True)
class Run:
    """What `finalize` needs besides the counts, known before the run starts."""

    run_id: str  # written into stats.json: tells this run's from an older one
    output: str
    classes: tuple[str, ...]
    analysis_fraction: float
    empty_input_files: tuple[str, ...]  # 0 bytes in the listing


def _run_stats(run: Run, stats: dict, written: Sequence[str]) -> dict:
    """stats.json's content besides tf.Transform's statistics."""
    staged = staging.folder(run.output) + "/"
    left_out = {sources.class_name(p) for p in run.empty_input_files}
    return {
        "run_id": run.run_id,
        **stats,
        "classes": len(run.classes),
        "shards": sorted(
            posixpath.join(run.output, p.removeprefix(staged)) for p in written
        ),
        "empty_classes": accounting.empty_classes(stats, run.classes),
        "empty_input_files": list(run.empty_input_files),
        "left_out_classes": sorted(left_out - set(run.classes)),
    }


def finalize(_, run: Run, stats: dict, written, reported, transform_done) -> dict:
    """Runs after every shard is final: checks, then swaps the dataset in.

    Everything that can fail runs before the swap, so a failure leaves an old
    dataset as it was. The classes file, stats.json and _SUCCESS are written
    last, so a run that stops never leaves something that looks finished.
    """
    accounting.check_accounting(stats)
    staged = staging.folder(run.output)
    stats = _run_stats(run, stats, written)
    if not stats["written"][F.TRAIN]:
        return _failed(run, stats)
    stats[shard_manifest.SHARD_MANIFEST] = shard_writer.manifest(
        staged, written, reported, stats
    )
    if transform_done:
        transform = tft_output.read_statistics(posixpath.join(staged, F.TRANSFORM_DIR))
        if transform.pop(F.VOCABULARY) != list(run.classes):
            raise RuntimeError("tf.Transform's vocabulary differs from the classes")
        transform["analysis_fraction"] = run.analysis_fraction
        stats[F.TRANSFORM_STATS] = transform
    staging.swap_in(run.output)
    classes = "".join(f"{c}\n" for c in run.classes)
    _write_text(posixpath.join(run.output, F.CLASSES_FILE), classes)
    _write_text(posixpath.join(run.output, F.STATS_FILE), json.dumps(stats, indent=1))
    _write_text(posixpath.join(run.output, F.SUCCESS_FILE), "")
    return stats


def _failed(run: Run, stats: dict) -> dict:
    """A run without a training record has failed: no swap, no `_SUCCESS`; its
    errors/ and stats.json (which says why) stay where the user can look."""
    where = staging.keep_errors(run.output)
    stats["failed"] = report.failure(stats, where)
    stats["shards"] = []
    _write_text(posixpath.join(where, F.STATS_FILE), json.dumps(stats, indent=1))
    return stats


def _write_files(out, output: str, num_shards: int) -> list:
    """Both splits' TFRecord shards and the rejected lines; the names written.

    Without a fixed shard count the encoder wrote the shards (`pipeline.shard_writer`).
    """
    if num_shards:
        written = [
            out[split_name]
            | f"Write{split_name.title()}"
            >> beam.io.WriteToTFRecord(
                posixpath.join(output, F.SPLIT_PREFIX[split_name]),
                num_shards=num_shards,
            )
            for split_name in F.SPLITS
        ]
    else:
        written = [out[encode.SHARDS] | "ShardPaths" >> beam.Map(lambda s: s["path"])]
    written.append(
        out[encode.REJECTED]
        | "WriteErrors"
        >> beam.io.WriteToText(
            posixpath.join(output, F.ERRORS_DIR, "rejected"),
            file_name_suffix=".ndjson",
            coder=beam.coders.BytesCoder(),
        )
    )
    return written


def _transform(p: beam.Pipeline, out, output: str, classes: Sequence[str], on: bool):
    """tf.Transform over the sampled training drawings, or nothing to wait on."""
    if not on:
        return p | "NoTransform" >> beam.Create([])
    from pipeline import analysis  # imports tensorflow_transform

    return out[encode.TRAIN_RAW] | "Transform" >> (
        analysis.AnalyzeAndWriteTransform(
            posixpath.join(output, F.TRANSFORM_DIR),
            classes,
            posixpath.join(output, _TFT_TEMP),
        )
    )


@beam.ptransform_fn
def AlignBinary(stripes, bounds: dict[str, list[int]]):
    """Stripes with their chunks of `.bin` files made `bin_reader.BinaryChunk`s, at
    drawing starts: each split file walked once, on a worker (`bin_reader.walk`)."""
    walks = (
        stripes.pipeline
        | "BinaryFiles" >> beam.Create(sorted(bounds.items()))
        | "OneFileEach" >> beam.Reshuffle()
        | "Walk" >> beam.MapTuple(lambda path, b: (path, bin_reader.walk(path, b)))
    )
    return stripes | "Align" >> beam.Map(
        bin_reader.align, walks=beam.pvalue.AsDict(walks)
    )


def build(
    p: beam.Pipeline,
    config: PipelineConfig,
    files: Sequence[sources.InputFile],
    classes: Sequence[str],
    run_id: str,
) -> None:
    """Adds the whole conversion to `p`; `run_id` goes into stats.json."""
    staged = staging.folder(config.output)
    encode_config = encode.EncodeConfig.of(
        config,
        classes,
        analysis_fraction(config, files, len(classes)),
        shards_dir=None if config.num_shards else staged,
    )
    stripes = sources.plan_stripes(files, config.stripe_mb << 20)
    log.info("%d input files in %d work units", len(files), len(stripes))
    created = p | "Stripes" >> beam.Create(stripes)
    if any(bin_reader.is_binary(f.path) for f in files):
        created = created | "AlignBinary" >> AlignBinary(bin_reader.bounds(stripes))
    out = (
        created
        | "Spread" >> beam.Reshuffle()  # one work unit per worker at a time
        | "EncodeDrawings" >> encode.EncodeDrawings(encode_config)
    )
    written = _write_files(out, staged, config.num_shards)
    stats = out[encode.STATS] | "Stats" >> encode.MergeStats()
    transform_done = _transform(
        p, out, staged, classes, encode_config.analysis_fraction > 0
    )
    files_written = written | "AllWritten" >> beam.Flatten()
    run = Run(
        run_id=run_id,
        output=config.output,
        classes=tuple(classes),
        analysis_fraction=encode_config.analysis_fraction,
        empty_input_files=tuple(f.path for f in files if f.size == 0),
    )
    _ = (
        p
        | "Once" >> beam.Create([None])
        | "Finalize"
        >> beam.Map(
            finalize,
            run=run,
            stats=beam.pvalue.AsSingleton(stats),
            written=beam.pvalue.AsList(files_written),
            reported=beam.pvalue.AsList(out[encode.SHARDS]),
            transform_done=beam.pvalue.AsList(transform_done),
        )
    )
