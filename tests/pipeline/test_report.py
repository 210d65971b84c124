"""What a run tells its user: the summary, the warnings, and why it failed."""

from __future__ import annotations

from drawing import features as F
from pipeline import report


def _stats(**changes) -> dict:
    stats = {
        "lines_read": 10,
        "written": {F.TRAIN: 0, F.EVAL: 0},
        "dropped_by_cap": {F.TRAIN: 0, F.EVAL: 0},
        "filtered": 0,
        "rejected": {},
        "damaged_files": [],
    }
    return {**stats, **changes}


def test_the_failure_line_names_where_every_drawing_went():
    assert report.failure(_stats(written={F.TRAIN: 1, F.EVAL: 0}), "o") is None
    went = report.failure(
        _stats(filtered=7, written={F.TRAIN: 0, F.EVAL: 3}), "gs://b/o"
    )
    assert went == (
        "no training record written: of 10 lines read, 7 filtered by "
        "--recognized_only, 3 went to eval; see gs://b/o/errors/ and "
        "gs://b/o/stats.json"
    )
    many = {f"r{i}": i for i in range(1, 6)}
    top = report.failure(_stats(lines_read=15, rejected=many), "o")
    assert "15 rejected (r5: 5, r4: 4, r3: 3);" in top
    empty = report.failure(_stats(lines_read=0, damaged_files=[{}]), "o")
    assert "no drawing read (1 damaged file(s))" in empty


def test_the_summary_counts_each_bucket_and_the_warnings_name_what_is_missing():
    stats = _stats(
        lines_read=12,
        written={F.TRAIN: 8, F.EVAL: 1},
        dropped_by_cap={F.TRAIN: 1, F.EVAL: 0},
        filtered=1,
        rejected={"not_utf8": 1},
        classes=2,
        wall_seconds=3.5,
        damaged_files=[
            {
                "path": "a.ndjson.gz",
                "reason": "truncated",
                "lines_read": 1000,
                "detail": "ended early",
            }
        ],  # fmt: skip
        empty_input_files=["in/b.ndjson"],
        left_out_classes=["b"],
        empty_classes={F.TRAIN: [], F.EVAL: ["cat"]},
    )
    lines = report.summary(stats, "out").splitlines()
    assert lines[:9] == [
        "Wrote out in 3.5 s:",
        "  lines read             12",
        "  train written           8",
        "  eval written            1",
        "  dropped by cap          1",
        "  filtered                1",
        "  rejected                1  (see out/errors/)",
        "    not_utf8: 1",
        "  classes                 2",
    ]
    assert (
        lines[9:]
        == report.warnings(stats, "out")
        == [
            "WARNING: 1 damaged input file(s), read only up to the damage; the rest "
            "of each is missing (see out/errors/):",
            "  a.ndjson.gz: truncated after 1,000 complete lines (ended early)",
            "WARNING: 1 empty input file(s): in/b.ndjson; class(es) left out: b",
            "WARNING: 1 class(es) with no eval drawing; their accuracy goes "
            "unmeasured: cat",
        ]
    )
