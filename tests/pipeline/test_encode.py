"""Beam composites under TestPipeline: encoding, rejection, caps, stats."""

from __future__ import annotations

import collections

import apache_beam as beam
import numpy as np
import orjson
import tensorflow as tf
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from drawing import features as F
from drawing.features import EVAL, TRAIN
from pipeline import accounting, encode, sources
from pipeline.config import PipelineConfig
from tests.pipeline.test_split import assign
from tests.synthetic import random_line


def _encode_config(**settings) -> encode.EncodeConfig:
    """The workers' settings of a run over cat and dog, analysing every drawing."""
    run = PipelineConfig(inputs=(), output="", **settings)
    return encode.EncodeConfig.of(run, ("cat", "dog"), analysis_fraction=1.0)


BAD_LINES = [
    b"not json",
    b'{"word": "cat", "key_id": "1", "drawing": []}',
    b'{"word": "emu", "key_id": "2", "drawing": [[[1, 2], [3, 4]]]}',
    b'{"word": "cat", "key_id": "3", "drawing": [[[1, "x"], [3, 4]]]}',
]


def _write_inputs(tmp_path, per_class: int = 60):
    rng = np.random.default_rng(0)
    key = 1000
    for word in ("cat", "dog"):
        lines = []
        for _ in range(per_class):
            key += 1
            lines.append(random_line(word, str(key), rng))
        if word == "cat":
            lines[10:10] = BAD_LINES
        (tmp_path / f"{word}.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    return sources.match_inputs([str(tmp_path)])


def test_encode_drawings_splits_rejects_and_counts(tmp_path):
    files = _write_inputs(tmp_path)
    config = _encode_config(train_per_class=0, eval_per_class=0)
    expected_split = {str(k): assign(str(k), 0.1)[0] for k in range(1001, 1121)}
    want = collections.Counter(expected_split.values())
    stripes = sources.plan_stripes(files, target_stripe_bytes=4096, min_stripes=3)
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(stripes) | encode.EncodeDrawings(config)

        def keys(examples):
            return [
                tf.train.Example.FromString(e)
                .features.feature["key_id"]
                .bytes_list.value[0]
                .decode()
                for e in examples
            ]

        for name in (TRAIN, EVAL):
            assert_that(
                out[name]
                | f"Keys{name}" >> beam.combiners.ToList()
                | f"K{name}" >> beam.Map(lambda xs: sorted(keys(xs))),
                equal_to([sorted(k for k, s in expected_split.items() if s == name)]),
                label=f"Check{name}",
            )
        assert_that(
            out[encode.REJECTED] | beam.Map(lambda r: orjson.loads(r)["reason"]),
            equal_to(
                ["malformed_json", "empty_drawing", "unknown_word", "non_numeric"]
            ),
            label="CheckRejected",
        )

        def check_stats(merged):
            (stats,) = merged
            accounting.check_accounting(stats)
            assert stats["lines_read"] == 124
            assert stats["written"] == {TRAIN: want[TRAIN], EVAL: want[EVAL]}
            assert sum(stats["rejected"].values()) == 4

        assert_that(
            out[encode.STATS] | encode.MergeStats(),
            check_stats,
            label="CheckStats",
        )


def test_caps_keep_the_smallest_priorities_per_class(tmp_path):
    files = _write_inputs(tmp_path)
    config = _encode_config(train_per_class=20, eval_per_class=3)
    by_class_split = collections.defaultdict(list)
    for k in range(1001, 1121):
        name, priority = assign(str(k), 0.1)
        by_class_split[("cat" if k <= 1060 else "dog", name)].append((priority, str(k)))
    expected = {
        s: sorted(
            k
            for (_, sp), items in by_class_split.items()
            if sp == s
            for _, k in sorted(items)[: config.cap(s)]
        )
        for s in (TRAIN, EVAL)
    }
    stripes = sources.plan_stripes(files, target_stripe_bytes=4096, min_stripes=3)
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(stripes) | encode.EncodeDrawings(config)
        for name in (TRAIN, EVAL):
            assert_that(
                out[name]
                | f"Key{name}"
                >> beam.Map(
                    lambda e: (
                        tf.train.Example.FromString(e)
                        .features.feature["key_id"]
                        .bytes_list.value[0]
                        .decode()
                    )
                ),
                equal_to(expected[name]),
                label=f"Check{name}",
            )

        def check_stats(merged):
            (stats,) = merged
            accounting.check_accounting(stats)
            assert stats["written"][TRAIN] == len(expected[TRAIN])
            assert stats["dropped_by_cap"][TRAIN] == sum(
                max(0, len(v) - 20)
                for (_, s), v in by_class_split.items()
                if s == TRAIN
            )

        assert_that(
            out[encode.STATS] | encode.MergeStats(),
            check_stats,
            label="CheckStats",
        )


def _read_tfrecords(path) -> list[bytes]:
    return list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())


def test_the_encoder_writes_the_records_it_would_emit_as_shards(tmp_path):
    """One shard per split and work unit (empty ones too), named by the unit,
    with its manifest: the same records, in the same order, as the path
    through WriteToTFRecord."""
    inputs, shards_dir = tmp_path / "in", tmp_path / "staged"
    inputs.mkdir()
    shards_dir.mkdir()
    stripes = sources.plan_stripes(
        _write_inputs(inputs), target_stripe_bytes=4096, min_stripes=3
    )
    run = PipelineConfig(inputs=(), output="", train_per_class=0, eval_per_class=0)
    emitted, written = {}, {}
    for name, directory in (("emitted", None), ("written", str(shards_dir))):
        config = encode.EncodeConfig.of(run, ("cat", "dog"), 0.0, directory)
        fn = encode.EncodeStripeFn(config)
        fn.setup()
        for stripe in stripes:
            for out in fn.process(stripe):
                tag = getattr(out, "tag", None)
                if name == "emitted" and tag in (TRAIN, EVAL):
                    emitted.setdefault((stripe.index, tag), []).append(out.value)
                if name == "written" and tag == encode.SHARDS:
                    written[out.value["path"]] = out.value
    assert len(written) == 2 * len(stripes) and len(emitted) > 2
    for index in range(len(stripes)):
        for tag in (TRAIN, EVAL):
            records = emitted.get((index, tag), [])
            name = f"{F.SPLIT_PREFIX[tag]}-{index:05d}-of-{len(stripes):05d}"
            path = shards_dir / name
            assert _read_tfrecords(path) == records
            entry = written[str(path)]
            assert [entry["records"], entry["bytes"]] == [
                len(records),
                path.stat().st_size,
            ]


def test_beam_counters_count_each_line_once_and_the_per_line_fallback(tmp_path):
    """The caps' first pass reads every line too, but counts none of them; the
    lines the batch parser gives up (here the bad ones) are counted, in Beam's
    counters and in stats.json."""
    stripes = sources.plan_stripes(
        _write_inputs(tmp_path), target_stripe_bytes=4096, min_stripes=3
    )
    config = _encode_config(train_per_class=20, eval_per_class=3)
    p = TestPipeline(runner="FnApiRunner")
    out = p | beam.Create(stripes) | encode.EncodeDrawings(config)
    assert_that(
        out[encode.STATS]
        | encode.MergeStats()
        | beam.Map(lambda stats: stats["per_line_parsed"]),
        equal_to([len(BAD_LINES)]),
    )
    result = p.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(MetricsFilter())["counters"]
        if c.key.metric.namespace == encode.NAMESPACE
    }
    assert counters["lines_read"] == 124
    assert counters["per_line_parsed"] == len(BAD_LINES)
    assert sum(v for k, v in counters.items() if k.startswith("rejected_")) == 4
