"""The Beam graph of one run: stripes -> encoded splits, errors, statistics.

`build` adds the whole conversion to a pipeline; `finalize` runs as its last
step, once every shard and the transform are written. The labels are stable,
so Dataflow's monitoring and job updates keep recognising the steps.
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import features as F
from pipeline import sources, transforms
from pipeline import stats as stats_lib
from pipeline.config import ANALYSIS_TARGET, PipelineConfig

log = logging.getLogger("pipeline")

_TFT_TEMP = ".tft_tmp"
_BYTES_PER_DRAWING = 500  # the simplified dataset's average line


def analysis_fraction(
    config: PipelineConfig, files: Sequence[sources.InputFile], num_classes: int
) -> float:
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
        if transform.pop(F.VOCABULARY) != classes:
            raise RuntimeError("tf.Transform's vocabulary differs from the classes")
        transform["analysis_fraction"] = analysis_fraction
        stats[F.TRANSFORM_STATS] = transform
        FileSystems.delete([posixpath.join(output, _TFT_TEMP)])
    _write_text(posixpath.join(output, F.STATS_FILE), json.dumps(stats, indent=1))
    _write_text(
        posixpath.join(output, F.CLASSES_FILE), "".join(f"{c}\n" for c in classes)
    )
    _write_text(posixpath.join(output, F.SUCCESS_FILE), "")
    return stats


def _write_files(out, output: str, num_shards: int) -> list:
    """Both splits' TFRecord shards and the rejected lines; the names written."""
    written = [
        out[split_name]
        | f"Write{split_name.title()}"
        >> beam.io.WriteToTFRecord(
            posixpath.join(output, F.SPLIT_PREFIX[split_name]), num_shards=num_shards
        )
        for split_name in F.SPLITS
    ]
    written.append(
        out[transforms.REJECTED]
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

    return out[transforms.TRAIN_RAW] | "Transform" >> (
        analysis.AnalyzeAndWriteTransform(
            posixpath.join(output, F.TRANSFORM_DIR),
            classes,
            posixpath.join(output, _TFT_TEMP),
        )
    )


def build(
    p: beam.Pipeline,
    config: PipelineConfig,
    files: Sequence[sources.InputFile],
    classes: Sequence[str],
) -> None:
    """Adds the whole conversion to `p`."""
    encode_config = transforms.EncodeConfig.of(
        config, classes, analysis_fraction(config, files, len(classes))
    )
    stripes = sources.plan_stripes(files, config.stripe_mb << 20)
    log.info("%d input files in %d work units", len(files), len(stripes))
    out = (
        p
        | "Stripes" >> beam.Create(stripes)
        | "Spread" >> beam.Reshuffle()  # one work unit per worker at a time
        | "EncodeDrawings" >> transforms.EncodeDrawings(encode_config)
    )
    written = _write_files(out, config.output, config.num_shards)
    stats = out[transforms.STATS] | "Stats" >> transforms.MergeStats()
    transform_done = _transform(
        p, out, config.output, classes, encode_config.analysis_fraction > 0
    )
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
