"""`Lines`, a stripe's entries as columns: each entry comes back as it went in."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.lines import Line, Lines, Record

ENTRIES = [
    Line("a.ndjson", 0, 1, b'{"word": "cat"}'),
    Record("cat.bin", 123, 2, b"\x01\x02", "cat"),
    Line("b.ndjson", 4096, None, b"not json"),  # a range's line: number unknown
    Record("dog.bin", 0, 1, b"\x03", "dog"),
]


def lines_of(entries: Sequence[Line | Record]) -> Lines:
    """`Line`s and `Record`s as columns, in their order."""
    parts = [
        Lines.of_file(
            e.source,
            [e.data],
            np.array([e.offset]),
            np.array([e.line_number or 0]),
            e.word if type(e) is Record else None,
        )
        for e in entries
    ]
    return Lines.concat(parts)


def test_entries_come_back_through_slices_concatenation_and_permutation():
    lines = lines_of(ENTRIES)
    assert list(lines) == ENTRIES
    assert [type(e) for e in lines] == [Line, Record, Line, Record]
    assert list(lines[1:3]) == ENTRIES[1:3]
    assert list(Lines.concat([lines[:2], lines[2:]])) == ENTRIES
    order = np.array([3, 0, 2, 1])
    assert list(lines.permuted(order)) == [ENTRIES[i] for i in order]
    assert lines.is_binary().tolist() == [False, True, False, True]
    assert lines.words_of([3, 1]) == ["dog", "cat"]
    assert len(Lines.concat([])) == 0 == len(lines[4:])
