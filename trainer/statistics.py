"""The training split's statistics, from the pipeline's outputs.

Length quantiles give the length buckets by which `trainer.data` sorts each
window of drawings into batches, and the deltas' mean and std the model's
input standardisation. They come from tf.Transform's
output (`--transform_dir`) when it can be read, else from the pipeline's
stats.json, which holds the same numbers; without either, the buckets fall
back to defaults and the input is left as it is.

tf.Transform's output is read by `drawing.tft_output`, which imports
tensorflow_transform only when called: an image without it still trains from
stats.json.
"""

from __future__ import annotations

import json
import logging
import posixpath

import tensorflow as tf

from drawing import features as F
from drawing import tft_output
from trainer.config import DEFAULT_BUCKET_BOUNDARIES

log = logging.getLogger(__name__)


def _from_stats_json(path: str, name: str) -> list | None:
    """`name` from a stats.json, at the top or under "transform" (where
    `pipeline.job` puts what tf.Transform computed)."""
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "r") as f:
        stats = json.load(f)
    if not isinstance(stats, dict):
        return None
    return stats.get(name) or (stats.get(F.TRANSFORM_STATS) or {}).get(name)


def load_transform_statistics(transform_dir: str) -> dict | None:
    """The tf.Transform analyzers' results (vocabulary, length quantiles, delta
    mean/std) read from the pipeline's transform output, or None if unreadable
    (no tensorflow_transform installed included)."""
    try:
        return tft_output.read_statistics(transform_dir)
    except ImportError as err:  # the trainer image has no tf.Transform
        log.info("no tf.Transform here (%s): statistics from stats.json", err)
        return None
    except Exception as err:  # any failure means "not usable"
        log.warning("cannot read tf.Transform output %s: %s", transform_dir, err)
        return None


def find_statistic(
    name: str,
    training_data: str,
    transform_dir: str = "",
    transform_statistics: dict | None = None,
) -> tuple[list | None, str]:
    """A statistic of the training split, and where it came from.

    In order: the tf.Transform statistics, a `stats.json` in or beside the
    transform dir, `stats.json` beside the training shards; else (None, "").
    """
    candidates = []
    if transform_statistics:
        candidates.append(
            ("tf.Transform statistics", lambda: transform_statistics.get(name))
        )
    if transform_dir:
        for d in (transform_dir, posixpath.dirname(transform_dir.rstrip("/"))):
            path = posixpath.join(d, F.STATS_FILE)
            candidates.append((path, lambda p=path: _from_stats_json(p, name)))
    path = posixpath.join(posixpath.dirname(training_data), F.STATS_FILE)
    candidates.append((path, lambda: _from_stats_json(path, name)))
    for source, load in candidates:
        values = load()
        if values:
            return list(values), source
    return None, ""


def bucket_boundaries(
    training_data: str,
    transform_dir: str = "",
    transform_statistics: dict | None = None,
) -> tuple[list[int], str]:
    """Length bucket boundaries for `trainer.data`, and where they came from:
    the length quantiles (see `find_statistic`), else defaults.

    Boundaries are made strictly increasing and >= 2.
    """
    values, source = find_statistic(
        F.LENGTH_QUANTILES, training_data, transform_dir, transform_statistics
    )
    boundaries = sorted({int(v) for v in values or () if v >= 2})
    if boundaries:
        return boundaries, source
    return list(DEFAULT_BUCKET_BOUNDARIES), "defaults"


def delta_statistics(
    training_data: str,
    transform_dir: str = "",
    transform_statistics: dict | None = None,
) -> tuple[dict, str]:
    """{"delta_mean", "delta_std"} of the training deltas for the model's input
    standardisation, and where they came from; ({}, "") when not found."""
    (mean, source), (std, _) = (
        find_statistic(name, training_data, transform_dir, transform_statistics)
        for name in (F.DELTA_MEAN, F.DELTA_STD)
    )
    if mean and std and len(mean) == len(std) == 2 and min(std) > 0:
        return {F.DELTA_MEAN: tuple(mean), F.DELTA_STD: tuple(std)}, source
    return {}, ""


def for_training(
    training_data: str, transform_dir: str, classes: list[str], classes_file: str
) -> tuple[list[int], dict]:
    """(bucket boundaries, delta mean/std) for a run, each source logged.

    Raises:
      ValueError: when tf.Transform's vocabulary is not the classes file: the
        labels would not mean the same classes.
    """
    transform_statistics = None
    if transform_dir:
        transform_statistics = load_transform_statistics(transform_dir)
        vocabulary = (transform_statistics or {}).get(F.VOCABULARY)
        if vocabulary and vocabulary != classes:
            raise ValueError(
                f"the tf.Transform vocabulary in {transform_dir} is not "
                f"{classes_file}: the labels would not mean the same classes"
            )
    boundaries, source = bucket_boundaries(
        training_data, transform_dir, transform_statistics
    )
    log.info("%d classes; length buckets from %s: %s", len(classes), source, boundaries)
    deltas, source = delta_statistics(
        training_data, transform_dir, transform_statistics
    )
    if deltas:
        log.info("input standardised with %s from %s", deltas, source)
    else:
        log.warning("no delta mean/std found (tf.Transform, stats.json): input as is")
    return boundaries, deltas
