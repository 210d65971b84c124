"""End to end: the CLI on the real sample, read back like the tutorial reads it."""

from __future__ import annotations

import collections
import gzip
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from drawing import features as F
from pipeline import accounting, main
from tests.pipeline.test_split import assign, key_hash
from tests.product import product_env
from tests.shared_data import requires_sample
from tests.synthetic import random_file
from tools import sample
from tools.tutorial import tutorial_parse_line

LOCAL = ["--runner=FnApiRunner"]
# The sample run's caps; the cat-only run must use the same to compare splits.
SAMPLE_CAPS = ["--train_per_class=400", "--eval_per_class=40", *LOCAL]


def tutorial_parse(example_proto):
    """The tutorial's `_parse_tfexample_fn`, in TF 2 spelling."""
    feature_to_type = {
        "ink": tf.io.VarLenFeature(dtype=tf.float32),
        "shape": tf.io.FixedLenFeature([2], dtype=tf.int64),
        "class_index": tf.io.FixedLenFeature([1], dtype=tf.int64),
        "key_id": tf.io.FixedLenFeature([], dtype=tf.string),
    }
    parsed = tf.io.parse_single_example(example_proto, feature_to_type)
    parsed["ink"] = tf.sparse.to_dense(parsed["ink"])
    return parsed


def read_split(out, prefix):
    files = sorted(str(p) for p in out.glob(f"{prefix}-*-of-*"))
    shards = []
    for path in files:
        records = [
            {k: v.numpy() for k, v in r.items()}
            for r in tf.data.TFRecordDataset(path).map(tutorial_parse)
        ]
        shards.append(records)
    return shards


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    if not sample.available():
        pytest.skip(f"real Quick, Draw! sample not found at {sample.SAMPLE}")
    out = tmp_path_factory.mktemp("sample") / "out"
    assert (
        main.main(["--input", str(sample.SAMPLE), "--output", str(out), *SAMPLE_CAPS])
        == 0
    )
    return out


@requires_sample
@pytest.mark.slow
def test_sample_run_accounts_for_every_line(sample_run):
    stats = json.loads((sample_run / F.STATS_FILE).read_text())
    accounting.check_accounting(stats)
    assert stats["lines_read"] == len(sample.all_lines())
    assert stats["classes"] == 345
    assert stats["per_class"]["cat"][F.TRAIN] == 400
    assert stats["per_class"]["cat"][F.EVAL] == 40
    assert sum(stats["point_length_histogram"]["counts"]) == sum(
        stats["written"].values()
    )
    assert (sample_run / F.SUCCESS_FILE).exists()


@requires_sample
@pytest.mark.slow
def test_classes_file_is_sorted_file_names(sample_run):
    classes = (sample_run / F.CLASSES_FILE).read_text().splitlines()
    assert classes == sorted(
        p.name[: -len(".ndjson")] for p in sample.SAMPLE.glob("*.ndjson")
    )


@requires_sample
@pytest.mark.slow
def test_records_read_by_the_tutorial_input_fn_equal_the_tutorial_transform(
    sample_run,
):
    classes = (sample_run / F.CLASSES_FILE).read_text().splitlines()
    stats = json.loads((sample_run / F.STATS_FILE).read_text())
    expected = {}
    for line in sample.all_lines():
        record = json.loads(line)
        expected[record["key_id"]] = line
    seen = collections.Counter()
    for name, prefix in ((F.TRAIN, F.TRAIN_PREFIX), (F.EVAL, F.EVAL_PREFIX)):
        shards = read_split(sample_run, prefix)
        records = [r for shard in shards for r in shard]
        assert len(records) == stats["written"][name]
        for r in records:
            key = r["key_id"].decode()
            ink, word = tutorial_parse_line(expected[key])
            assert classes[int(r["class_index"][0])] == word
            assert tuple(r["shape"]) == ink.shape
            np.testing.assert_array_equal(r["ink"].reshape(-1, 3), ink)
            assert assign(key, 0.1)[0] == name
            seen[key] += 1
        # Shuffled across shards: the head of every shard mixes many classes.
        for shard in shards:
            head = {int(r["class_index"][0]) for r in shard[:100]}
            assert len(head) > 30
    assert max(seen.values()) == 1


@requires_sample
@pytest.mark.slow
def test_split_does_not_depend_on_the_other_input_files(sample_run, tmp_path):
    out = tmp_path / "cat_only"
    shutil.copy(sample.SAMPLE / "cat.ndjson", tmp_path / "cat.ndjson")
    assert (
        main.main(
            [
                "--input",
                str(tmp_path / "cat.ndjson"),
                "--output",
                str(out),
                *SAMPLE_CAPS,
            ]
        )
        == 0
    )

    def keys(directory, prefix, class_index):
        return {
            r["key_id"]
            for shard in read_split(directory, prefix)
            for r in shard
            if int(r["class_index"][0]) == class_index
        }

    cat_all = (sample_run / F.CLASSES_FILE).read_text().splitlines().index("cat")
    for prefix in (F.TRAIN_PREFIX, F.EVAL_PREFIX):
        assert keys(out, prefix, 0) == keys(sample_run, prefix, cat_all)


@pytest.mark.slow
def test_bad_lines_go_to_error_files_and_gz_input_works(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    random_file(data / "circle.ndjson", "circle", 50, 1)
    plain = tmp_path / "square.ndjson"
    random_file(plain, "square", 50, 100)
    with gzip.open(data / "square.ndjson.gz", "wb") as f:
        f.write(plain.read_bytes())
    with open(data / "circle.ndjson", "ab") as f:
        f.write(b'{"word": "circle", "key_id": "x", "drawing": [[[1], [2]]]}\n')
        f.write(b"\xff\xfe garbage\n")
        f.write(b'{"word": "circle", "drawing": [[[1, 2], [2, 3]]]}\n')
    out = tmp_path / "out"
    assert main.main(["--input", str(data), "--output", str(out), *LOCAL]) == 0
    stats = json.loads((out / F.STATS_FILE).read_text())
    assert stats["lines_read"] == 103
    assert sum(stats["written"].values()) == 100
    assert stats["rejected"] == {"missing_key_id": 1, "not_utf8": 1, "single_point": 1}
    errors = [
        json.loads(line)
        for path in (out / F.ERRORS_DIR).glob("*.ndjson")
        for line in path.read_text().splitlines()
    ]
    assert sorted(e["reason"] for e in errors) == sorted(stats["rejected"])
    circle = (data / "circle.ndjson").read_bytes()
    for e in errors:
        assert e["source"].endswith("circle.ndjson")
        # Byte offsets always; line numbers only where a work unit starts the file.
        raw = circle[e["offset"] :].split(b"\n", 1)[0]
        assert raw.decode("utf-8", "replace") == e["line"]
        assert e["line_number"] in (None, 51, 52, 53)
    assert (out / F.CLASSES_FILE).read_text().split() == ["circle", "square"]


@pytest.mark.slow
def test_existing_output_is_refused_without_overwrite(tmp_path, capsys):
    random_file(tmp_path / "circle.ndjson", "circle", 5, 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    args = ["--input", str(tmp_path / "circle.ndjson"), "--output", str(out), *LOCAL]
    assert main.main(args) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "old.txt").exists()
    assert main.main([*args, "--overwrite"]) == 0
    assert not (out / "old.txt").exists()
    assert (out / F.SUCCESS_FILE).exists()


def test_a_pattern_matching_nothing_fails_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main.main(["--input", str(tmp_path / "nope*.ndjson"), "--output", str(out)])
        == 1
    )
    assert "matches no ndjson or .bin file" in capsys.readouterr().err
    assert not out.exists()


def test_a_runtime_error_is_one_line_and_exits_1_a_usage_error_exits_2(tmp_path):
    """`pipeline.main: error: what is wrong: what to do`, as every command says
    it; only argparse's usage errors exit 2."""
    missing = str(tmp_path / "nope.ndjson")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.main", "--input", missing, "--output", "o"],
        cwd=tmp_path,
        env=product_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"pipeline.main: error: --input {missing!r} matches no ndjson or .bin "
        "file: check the path (a directory's files must end in .ndjson, "
        ".ndjson.gz, .json, .jsonl, .bin, .bin.gz)\n"
    )
    assert done.stdout == ""
    with pytest.raises(SystemExit) as usage:
        main.main(["--input", missing])  # no --output
    assert usage.value.code == 2


@requires_sample
@pytest.mark.slow
def test_transform_output_loads_and_its_vocabulary_is_the_classes_file(sample_run):
    import tensorflow_transform as tft

    output = tft.TFTransformOutput(str(sample_run / F.TRANSFORM_DIR))
    classes = (sample_run / F.CLASSES_FILE).read_text().splitlines()
    vocabulary = output.vocabulary_by_name(F.CLASSES_VOCABULARY)
    assert [w.decode() for w in vocabulary] == classes
    raw_spec = output.raw_feature_spec()
    assert isinstance(raw_spec["drawing_x"], tf.io.RaggedFeature)
    assert F.INK in output.transformed_feature_spec()


@requires_sample
@pytest.mark.slow
def test_stats_json_statistics_match_numpy_on_the_analysed_sample(sample_run):
    stats = json.loads((sample_run / F.STATS_FILE).read_text())
    fraction = stats["transform"]["analysis_fraction"]
    assert 0 < fraction <= 1
    # The analysed drawings are a deterministic sample of the training split:
    # recompute which, from the key_id hash, and compare with plain numpy.
    records = [
        r
        for s in read_split(sample_run, F.TRAIN_PREFIX)
        for r in s
        if (key_hash(r["key_id"].decode())[1] & 0xFFFFFFFF) < fraction * 2**32
    ]
    assert len(records) == stats["analyzed"] > 1000
    deltas = np.concatenate([r["ink"].reshape(-1, 3)[:, :2] for r in records])
    deltas = deltas.astype(np.float64)  # the reference in double precision
    transform = stats["transform"]
    np.testing.assert_allclose(transform["delta_mean"], deltas.mean(0), atol=1e-6)
    np.testing.assert_allclose(transform["delta_std"], deltas.std(0), rtol=1e-4)
    lengths = np.array([r["shape"][0] for r in records])
    # Sketch quantiles (epsilon 0.01): each boundary's rank is within 1% of its
    # target rank among the analysed lengths.
    boundaries = transform["length_quantiles"]
    assert boundaries == sorted(boundaries)
    for i, b in enumerate(boundaries, start=1):
        target = i / (len(boundaries) + 1)
        low, high = np.mean(lengths < b), np.mean(lengths <= b)
        assert low - 0.02 <= target <= high + 0.02, (b, target, low, high)


@requires_sample
@pytest.mark.slow
def test_serving_graph_equals_the_pipelines_stored_ink_on_every_drawing(sample_run):
    """The transform exported for serving, run on raw strokes, against the records.

    Both paths cover every drawing of the sample that the run kept.
    """
    import tensorflow_transform as tft

    from drawing import ndjson

    layer = tft.TFTransformOutput(
        str(sample_run / F.TRANSFORM_DIR)
    ).transform_features_layer()
    raw = {}
    for line in sample.all_lines():
        drawing = ndjson.parse_drawing(line)
        raw[drawing.key_id] = drawing
    stored = {
        r["key_id"].decode(): r["ink"].reshape(-1, 3)
        for prefix in (F.TRAIN_PREFIX, F.EVAL_PREFIX)
        for s in read_split(sample_run, prefix)
        for r in s
    }
    keys = sorted(stored)
    worst = 0.0
    for start in range(0, len(keys), 1024):
        batch = [raw[k] for k in keys[start : start + 1024]]

        def ragged(values, batch=batch):
            flat = tf.constant([v for d in batch for v in values(d)], tf.float32)
            strokes = tf.RaggedTensor.from_row_lengths(
                flat, [n for d in batch for n in d.stroke_lengths]
            )
            return tf.RaggedTensor.from_row_lengths(
                strokes, [len(d.stroke_lengths) for d in batch]
            )

        out = layer(
            {
                F.DRAWING_X: ragged(lambda d: d.xs),
                F.DRAWING_Y: ragged(lambda d: d.ys),
                F.WORD: tf.constant([d.word for d in batch]),
            }
        )[F.INK]
        for key, graph_ink in zip(keys[start : start + 1024], out, strict=True):
            diff = np.abs(graph_ink.numpy() - stored[key])
            worst = max(worst, float(diff.max(initial=0.0)))
    print(f"largest |graph - pipeline| over {len(keys)} drawings: {worst:.3g}")
    assert worst <= 1e-6


@pytest.mark.slow
def test_classes_file_sets_the_class_set_and_other_words_are_rejected(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    random_file(data / "circle.ndjson", "circle", 20, 1)
    random_file(data / "square.ndjson", "square", 20, 100)
    classes = tmp_path / "classes.txt"
    classes.write_text("square\ncircle\ntriangle\n")  # sorted on use
    out = tmp_path / "out"
    args = ["--input", str(data), "--output", str(out), "--analysis_fraction", "0"]
    assert main.main([*args, "--classes_file", str(classes), *LOCAL]) == 0
    assert (out / F.CLASSES_FILE).read_text().split() == [
        "circle",
        "square",
        "triangle",
    ]
    stats = json.loads((out / F.STATS_FILE).read_text())
    assert sum(stats["written"].values()) == 40

    classes.write_text("circle\n")
    assert (
        main.main([*args, "--overwrite", "--classes_file", str(classes), *LOCAL]) == 0
    )
    stats = json.loads((out / F.STATS_FILE).read_text())
    assert stats["rejected"] == {"unknown_word": 20}
    assert sum(stats["written"].values()) == 20
