"""A run that writes no training record has failed.

It exits 1 with one line that says why (the top reasons), leaves no
`_SUCCESS`, and keeps errors/ and stats.json for the user to look at; an old
dataset under --overwrite stays byte for byte as it was.
"""

from __future__ import annotations

import json

import pytest

from drawing import features as F
from pipeline import main
from tests.pipeline.test_overwrite import NO_TRANSFORM, _old_dataset, _snapshot

BAD = b'garbage\n\xff\xfe\n{"word": "circle"}\n{"word": "circle", "key_id": "1"}\n'


def _one_error_line(err: str) -> str:
    [line] = [x for x in err.splitlines() if x.startswith("pipeline.main: error:")]
    return line


@pytest.mark.slow
def test_only_bad_lines_fail_with_the_reasons_and_keep_errors_and_stats(
    tmp_path, capsys
):
    (tmp_path / "circle.ndjson").write_bytes(BAD)
    out = tmp_path / "out"
    args = ["--input", str(tmp_path / "circle.ndjson"), "--output", str(out)]
    assert main.main([*args, *NO_TRANSFORM]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line == (
        "pipeline.main: error: no training record written: of 4 lines read, "
        "4 rejected "
        "(bad_drawing: 1, malformed_json: 1, missing_key_id: 1); "
        f"see {out}/errors/ and {out}/stats.json"
    )
    assert not (out / F.SUCCESS_FILE).exists()
    assert sorted(p.name for p in out.iterdir()) == [F.ERRORS_DIR, F.STATS_FILE]
    stats = json.loads((out / F.STATS_FILE).read_text())
    assert stats["failed"] == line.removeprefix("pipeline.main: error: ")
    assert sum(stats["rejected"].values()) == 4
    errors = [json.loads(x) for p in (out / F.ERRORS_DIR).iterdir() for x in p.open()]
    assert len(errors) == 4


@pytest.mark.slow
def test_an_old_dataset_under_overwrite_stays_as_it_was(tmp_path, capsys):
    out = _old_dataset(tmp_path, *NO_TRANSFORM)
    before = _snapshot(out)
    (tmp_path / "circle.ndjson").write_bytes(BAD)
    args = ["--input", str(tmp_path / "circle.ndjson"), "--output", str(out)]
    assert main.main([*args, "--overwrite", *NO_TRANSFORM]) == 1
    staged = out / F.STAGING_DIR
    assert f"see {staged}/errors/" in _one_error_line(capsys.readouterr().err)
    assert _snapshot(out) == before
    assert json.loads((staged / F.STATS_FILE).read_text())["lines_read"] == 4
    assert list((staged / F.ERRORS_DIR).iterdir())


@pytest.mark.slow
def test_on_gcs_errors_and_stats_stay_in_the_output(gcs, gcs_bucket, capsys):
    gcs.upload_bytes(BAD, f"{gcs_bucket}/in/circle.ndjson")
    out = f"{gcs_bucket}/out"
    args = ["--input", f"{gcs_bucket}/in/*", "--output", out, *NO_TRANSFORM]
    assert main.main(args) == 1
    assert f"see {out}/errors/" in _one_error_line(capsys.readouterr().err)
    names = [uri.removeprefix(f"{out}/") for uri in gcs.list(f"{out}/")]
    assert F.STATS_FILE in names and F.SUCCESS_FILE not in names
    assert [n for n in names if n.startswith(f"{F.ERRORS_DIR}/")]
    assert not [n for n in names if n.startswith(F.STAGING_DIR)]
