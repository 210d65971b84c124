"""The stripe reader's line splitting against a line-by-line reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import ndjson_reader
from pipeline.lines import Line

BYTES = st.sampled_from([b"a", b"\n", b"\r", b" ", b"\t", b"\x0b", b"\x0c", b"\xff"])


def _reference(path: str, data: bytes, offset: int, line_number: int | None):
    lines = []
    for raw in data.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line.strip():
            lines.append(Line(path, offset, line_number, line))
        offset += len(raw) + 1
        if line_number is not None:
            line_number += 1
    return lines


@settings(max_examples=500, deadline=None)
@given(
    data=st.lists(BYTES, max_size=40).map(b"".join),
    offset=st.integers(0, 1000),
    line_number=st.none() | st.integers(1, 9),
)
def test_lines_offsets_and_numbers_are_the_line_by_line_ones(data, offset, line_number):
    got = ndjson_reader._split_lines("f.ndjson", data, offset, line_number)
    assert list(got) == _reference("f.ndjson", data, offset, line_number)
    assert all(type(line) is Line for line in got)
