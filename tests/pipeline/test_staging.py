"""staging.swap_in on a local folder and on gs:// (emulator), without a pipeline.

Covers what the offline end-to-end runs cannot reach on gs://: tf.Transform's
output (nested folders) and its hidden temp folder moving through the swap.
"""

from __future__ import annotations

import posixpath

import pytest
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from drawing import features as F
from pipeline import staging

OLD = {
    F.SUCCESS_FILE: b"",
    F.STATS_FILE: b"{}",
    f"{F.TRAIN_PREFIX}-00000-of-00002": b"old 0",
    f"{F.TRAIN_PREFIX}-00001-of-00002": b"old 1",
    f"{F.TRANSFORM_DIR}/transform_fn/saved_model.pb": b"old graph",
    f"{F.TRANSFORM_DIR}/transform_fn/assets/old_vocabulary": b"a\nb\n",
    f"{F.ERRORS_DIR}/rejected-00000-of-00001.ndjson": b"old error\n",
    "notes.txt": b"a file of the user's",
}
NEW = {
    f"{F.TRAIN_PREFIX}-00000-of-00001": b"new 0",
    f"{F.TRANSFORM_DIR}/transform_fn/saved_model.pb": b"new graph",
    f"{F.TRANSFORM_DIR}/transformed_metadata/schema.pbtxt": b"schema",
    f"{F.ERRORS_DIR}/rejected-00000-of-00001.ndjson": b"new error\n",
}
TEMPORARY = {
    ".tft_tmp/tftransform_tmp/x": b"tf.Transform's temp",
    "beam-temp-training.tfrecord-0a1b/part": b"a Beam temp file",
}


def _write(path: str, data: bytes) -> None:
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(data)


def _read_all(root: str) -> dict[str, bytes]:
    found = FileSystems.match([posixpath.join(root, "**")])[0].metadata_list
    out = {}
    for meta in found:
        name = meta.path.removeprefix(root + "/")
        with FileSystems.open(
            meta.path, compression_type=CompressionTypes.UNCOMPRESSED
        ) as f:
            out[name] = f.read()
    return out


@pytest.fixture(params=["local", "gs"])
def output(request, tmp_path) -> str:
    if request.param == "gs":
        return f"{request.getfixturevalue('gcs_bucket')}/out"
    return str(tmp_path / "out")


def test_swap_in_replaces_the_old_dataset_with_the_staged_one(output):
    for name, data in OLD.items():
        _write(posixpath.join(output, name), data)
    for name, data in {**NEW, **TEMPORARY}.items():
        _write(posixpath.join(staging.folder(output), name), data)
    assert staging.existing(output) == sorted(OLD)

    moved = staging.swap_in(output)

    # The new files, nothing old, no temp file; _SUCCESS is finalize's to write.
    assert sorted(moved) == sorted(NEW)
    assert _read_all(output) == NEW
    assert not FileSystems.exists(posixpath.join(output, F.SUCCESS_FILE))


def test_a_stale_staging_folder_is_removed_and_the_dataset_left_alone(output):
    for name, data in OLD.items():
        _write(posixpath.join(output, name), data)
    for name, data in {**NEW, **TEMPORARY}.items():
        _write(posixpath.join(staging.folder(output), name), data)

    staging.remove_stale(output)

    assert _read_all(output) == OLD
