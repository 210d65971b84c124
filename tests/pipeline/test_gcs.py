"""The pipeline CLI reads `gs://` input and writes `gs://` output (GCS emulator).

On Dataflow both ends are GCS, so this is the path that matters in production;
the local-path tests cannot catch a `gs://` glob, a ranged read or a rename that
only GCS does differently. Records are read back through Beam's FileSystems and
the TFRecord framing (with its CRCs) is checked by Beam's own reader, because
tf.data cannot reach the emulator.
"""

from __future__ import annotations

import collections
import gzip
import io
import json
import re
from pathlib import Path

import orjson
import pytest
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.tfrecordio import _TFRecordUtil
from tensorflow.core.example import example_pb2

from drawing import features as F
from pipeline import accounting
from pipeline import main as cli
from tests.gcs_emulator import GcsEmulator
from tools import synth

NUM_CLASSES = 3
PER_CLASS = 30
# Lines the pipeline must reject (malformed JSON, a one-point drawing), appended
# to the first class's file.
BAD_LINES = [
    b"this is not json",
    orjson.dumps(
        {
            "word": synth.CLASSES[0],
            "key_id": "1",
            "recognized": True,
            "drawing": [[[5], [5]]],
        }
    ),
]


def _read_uri(uri: str) -> bytes:
    with FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def _tfrecords(data: bytes) -> list[bytes]:
    """Records of one TFRecord file; Beam's reader raises on a bad length or CRC."""
    stream = io.BytesIO(data)
    out = []
    while (record := _TFRecordUtil.read_record(stream)) is not None:
        out.append(record)
    return out


def _make_input(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Synthetic class files, one gzipped, plus bad lines; returns key_id -> word."""
    src = tmp_path / "src"
    paths = synth.write_dataset(src, NUM_CLASSES, PER_CLASS, seed=0)
    word_of = {}
    for path in paths:
        for line in path.read_bytes().splitlines():
            record = orjson.loads(line)
            word_of[record["key_id"]] = record["word"]
    with paths[0].open("ab") as f:
        f.write(b"\n".join(BAD_LINES) + b"\n")
    last = paths[-1]
    last.with_name(last.name + ".gz").write_bytes(gzip.compress(last.read_bytes()))
    last.unlink()
    return src, word_of


@pytest.mark.slow
def test_gcs_in_gcs_out(gcs: GcsEmulator, gcs_bucket: str, tmp_path: Path) -> None:
    src, word_of = _make_input(tmp_path)
    gcs.upload_dir(src, f"{gcs_bucket}/in")
    output = f"{gcs_bucket}/out/run1"

    # Default sharding (one shard per bundle), as on Dataflow. tf.Transform
    # writes through TensorFlow's own GCS client, which cannot be pointed at an
    # emulator, so it is off here; the local end-to-end tests cover it.
    code = cli.main(
        [
            "--input",
            f"{gcs_bucket}/in/*",
            "--output",
            output,
            "--runner",
            "FnApiRunner",
            "--analysis_fraction",
            "0",
        ]
    )

    assert code == 0
    names = [uri[len(output) + 1 :] for uri in gcs.list(f"{output}/")]
    shards = {}
    for split_name, prefix in F.SPLIT_PREFIX.items():
        pattern = re.compile(rf"{re.escape(prefix)}-(\d{{5}})-of-(\d{{5}})")
        found = [m for n in names if (m := pattern.fullmatch(n))]
        [total] = {int(m[2]) for m in found}  # one shard count per split
        assert sorted(int(m[1]) for m in found) == list(range(total))
        shards[split_name] = [m[0] for m in found]
    for name in (F.CLASSES_FILE, F.STATS_FILE, F.SUCCESS_FILE):
        assert name in names
    assert not [n for n in names if "beam-temp" in n]
    error_files = [n for n in names if n.startswith(F.ERRORS_DIR + "/")]
    assert error_files

    classes = _read_uri(f"{output}/{F.CLASSES_FILE}").decode().split()
    assert classes == sorted(synth.CLASSES[:NUM_CLASSES])
    stats = json.loads(_read_uri(f"{output}/{F.STATS_FILE}"))
    assert stats["lines_read"] == NUM_CLASSES * PER_CLASS + len(BAD_LINES)
    assert sum(stats["rejected"].values()) == len(BAD_LINES)
    listed = [*shards[F.TRAIN], *shards[F.EVAL], *error_files]
    assert sorted(stats["shards"]) == sorted(f"{output}/{n}" for n in listed)

    # Every record parses, points back to an input drawing of the right class,
    # and the counts per split and per class are the ones stats.json reports.
    counts: collections.Counter = collections.Counter()
    seen_keys = set()
    manifest = {s["name"]: s for s in stats["shard_manifest"]}
    assert sorted(manifest) == sorted([*shards[F.TRAIN], *shards[F.EVAL]])
    for split_name, split_shards in shards.items():
        for name in split_shards:
            for record in _tfrecords(_read_uri(f"{output}/{name}")):
                example = example_pb2.Example.FromString(record)
                feature = example.features.feature
                key_id = feature[F.KEY_ID].bytes_list.value[0].decode()
                [class_index] = feature[F.CLASS_INDEX].int64_list.value
                assert classes[class_index] == word_of[key_id]
                assert key_id not in seen_keys  # no drawing in two places
                seen_keys.add(key_id)
                counts[split_name, classes[class_index]] += 1
            # The shard manifest, counted on gs:// through Beam's FileSystems.
            data = _read_uri(f"{output}/{name}")
            assert manifest[name] == {
                "name": name,
                "bytes": len(data),
                "records": len(list(_tfrecords(data))),
            }
    for split_name in F.SPLITS:
        written = sum(n for (s, _), n in counts.items() if s == split_name)
        assert written == stats["written"][split_name]
    assert stats["written"][F.TRAIN] > 0 and stats["written"][F.EVAL] > 0
    for word, per_class in stats["per_class"].items():
        for split_name in F.SPLITS:
            assert counts[split_name, word] == per_class[split_name]

    errors = [
        orjson.loads(line)
        for name in error_files
        for line in _read_uri(f"{output}/{name}").splitlines()
    ]
    assert len(errors) == len(BAD_LINES)
    bad_file = f"{gcs_bucket}/in/{synth.CLASSES[0]}.ndjson"
    assert {e["source"] for e in errors} == {bad_file}


def test_existing_gcs_output_is_refused_without_overwrite(
    gcs: GcsEmulator,
    gcs_bucket: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, _ = _make_input(tmp_path)
    gcs.upload_dir(src, f"{gcs_bucket}/in")
    output = f"{gcs_bucket}/out"
    gcs.upload_bytes(b"old", f"{output}/{F.SUCCESS_FILE}")

    code = cli.main(
        ["--input", f"{gcs_bucket}/in/*", "--output", output, "--runner", "FnApiRunner"]
    )

    assert code == 1
    assert "--overwrite" in capsys.readouterr().err
    assert gcs.list(f"{output}/") == [f"{output}/{F.SUCCESS_FILE}"]
    assert gcs.read(f"{output}/{F.SUCCESS_FILE}") == b"old"


@pytest.mark.slow
def test_gcs_overwrite_replaces_the_dataset_only_once_the_new_one_is_complete(
    gcs: GcsEmulator,
    gcs_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src, _ = _make_input(tmp_path)
    gcs.upload_dir(src, f"{gcs_bucket}/in")
    output = f"{gcs_bucket}/out"
    args = ["--input", f"{gcs_bucket}/in/*", "--output", output]
    # No tf.Transform: it cannot reach the emulator (see test_gcs_in_gcs_out).
    args += ["--runner", "FnApiRunner", "--analysis_fraction", "0"]
    assert cli.main([*args, "--num_shards", "2"]) == 0
    # Folder markers, as the Cloud Console makes them: empty objects "dir/".
    markers = {f"{output}/", f"{output}/{F.ERRORS_DIR}/"}
    for marker in markers:
        gcs.upload_bytes(b"", marker)
    old = {uri: gcs.read(uri) for uri in gcs.list(f"{output}/")}
    assert f"{output}/{F.TRAIN_PREFIX}-00001-of-00002" in old
    assert markers <= set(old)

    def fail(stats: dict) -> None:
        raise RuntimeError("injected failure in the last step")

    # A run that fails after staging every file: the old dataset stays whole.
    with monkeypatch.context() as patch:
        patch.setattr(accounting, "check_accounting", fail)
        with pytest.raises(Exception, match="injected failure in the last step"):
            cli.main([*args, "--overwrite", "--num_shards", "1"])
    staging = f"{output}/{F.STAGING_DIR}/"
    listed = gcs.list(f"{output}/")
    assert [u for u in listed if u.startswith(f"{staging}{F.TRAIN_PREFIX}")]
    assert {u: gcs.read(u) for u in listed if not u.startswith(staging)} == old

    # The next run removes the stale staging folder and replaces every file.
    assert cli.main([*args, "--overwrite", "--num_shards", "1"]) == 0
    stats = json.loads(_read_uri(f"{output}/{F.STATS_FILE}"))
    final = {f"{output}/{name}" for name in (F.CLASSES_FILE, F.STATS_FILE)}
    final.add(f"{output}/{F.SUCCESS_FILE}")
    assert set(gcs.list(f"{output}/")) - markers == set(stats["shards"]) | final
    assert [s for s in stats["shards"] if s.startswith(f"{output}/{F.ERRORS_DIR}/")]
    for prefix in (F.TRAIN_PREFIX, F.EVAL_PREFIX):
        assert f"{output}/{prefix}-00000-of-00001" in stats["shards"]
    assert stats["lines_read"] == NUM_CLASSES * PER_CLASS + len(BAD_LINES)


@pytest.mark.parametrize("flag", ["--input", "--output"])
def test_a_bucket_that_cannot_be_listed_is_one_clear_line(
    gcs: GcsEmulator,
    gcs_bucket: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
) -> None:
    src, _ = _make_input(tmp_path)
    gcs.upload_dir(src, f"{gcs_bucket}/in")
    args = {"--input": f"{gcs_bucket}/in/*", "--output": f"{gcs_bucket}/out"}
    args[flag] = "gs://no-such-bucket-2/quickdraw"

    code = cli.main([*(x for kv in args.items() for x in kv), "--runner=FnApiRunner"])

    assert code == 1
    err = capsys.readouterr().err
    assert [x for x in err.splitlines() if "error:" in x] == [
        f"pipeline.main: error: {flag} {args[flag]!r} cannot be listed: "
        "no such bucket: check the bucket's name"
    ]
    assert "Traceback" not in err
