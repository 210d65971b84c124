"""trainer.statistics: the length buckets and the deltas' mean and standard
deviation, read from the pipeline's output (stats.json, the transform)."""

from __future__ import annotations

import json

from drawing import features as F
from trainer import statistics


def test_bucket_boundaries_from_stats_json(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / F.STATS_FILE).write_text(json.dumps({"length_quantiles": [30, 9, 9, 1]}))
    pattern = f"{data}/{F.TRAIN_PREFIX}-*"
    assert statistics.bucket_boundaries(pattern) == ([9, 30], f"{data}/{F.STATS_FILE}")
    # The pipeline's output dir holds the transform dir and stats.json; a
    # transform output without a quantiles asset falls back to that file.
    out = tmp_path / "out"
    (out / F.TRANSFORM_DIR).mkdir(parents=True)
    (out / F.STATS_FILE).write_text(json.dumps({"length_quantiles": [5, 50]}))
    boundaries, _ = statistics.bucket_boundaries(pattern, str(out / F.TRANSFORM_DIR))
    assert boundaries == [5, 50]
    missing = f"{tmp_path}/none/{F.TRAIN_PREFIX}-*"
    boundaries, source = statistics.bucket_boundaries(missing, f"{tmp_path}/none/t")
    assert source == "defaults" and boundaries == list(
        statistics.DEFAULT_BUCKET_BOUNDARIES
    )


def test_delta_statistics_from_the_pipelines_stats_json(tmp_path):
    stats = {"transform": {"delta_mean": [0.01, -0.02], "delta_std": [0.2, 0.1]}}
    (tmp_path / F.STATS_FILE).write_text(json.dumps(stats))
    pattern = f"{tmp_path}/{F.TRAIN_PREFIX}-*"
    deltas, source = statistics.delta_statistics(pattern)
    assert deltas == {"delta_mean": (0.01, -0.02), "delta_std": (0.2, 0.1)}
    assert source == f"{tmp_path}/{F.STATS_FILE}"
    # Unusable statistics leave the input as it is rather than divide by zero.
    stats["transform"]["delta_std"] = [0.0, 0.1]
    (tmp_path / F.STATS_FILE).write_text(json.dumps(stats))
    assert statistics.delta_statistics(pattern) == ({}, "")
