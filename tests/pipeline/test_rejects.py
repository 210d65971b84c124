"""The errors/ line of a rejected line or a damaged file: enough to find it."""

from __future__ import annotations

import orjson

from pipeline import rejects
from pipeline.lines import Damage, Line, Record


def test_a_rejected_line_names_where_it_is_why_and_what_it_holds():
    line = Line("gs://b/cat.ndjson", 4096, None, b'{"word": "caf\xe9"}')
    got = orjson.loads(rejects.error_record(line, "not_utf8", "x" * 900))
    assert got == {
        "source": "gs://b/cat.ndjson",
        "offset": 4096,
        "line_number": None,
        "reason": "not_utf8",
        "detail": "x" * 500,
        "line": '{"word": "caf\ufffd"}',
    }
    long = Line("a.ndjson", 0, 1, b"y" * 5000)
    shown = orjson.loads(rejects.error_record(long, "malformed_json", ""))["line"]
    assert shown == "y" * rejects.ERROR_LINE_CHARS


def test_a_binary_drawing_is_shown_in_hex():
    record = Record("cat.bin", 17, 2, bytes(range(1, 5)) * 600, "cat")
    got = orjson.loads(rejects.error_record(record, "single_point", "one"))
    assert (got["offset"], got["line_number"]) == (17, 2)
    assert got["line"] == (bytes(range(1, 5)) * 600).hex()[: rejects.ERROR_LINE_CHARS]


def test_a_damaged_file_is_one_line_with_its_unfinished_line():
    damage = Damage("c.ndjson.gz", "truncated", "ended early", 10, 512, 11, b'{"wo')
    got = orjson.loads(rejects.damage_record(damage))
    assert got == {
        "source": "c.ndjson.gz",
        "offset": 512,
        "line_number": 11,
        "reason": rejects.DAMAGED_FILE,
        "detail": "truncated after 10 complete lines: ended early",
        "line": '{"wo',
        "lines_read": 10,
    }
