"""Input files and work units: the class set, and stripes that cover every line."""

from __future__ import annotations

import pytest

from drawing.flags import InputError
from pipeline import sources, stripe_reader


def test_an_empty_file_leaves_its_class_out_unless_the_classes_file_names_it(
    tmp_path,
):
    files = [
        sources.InputFile("in/circle.ndjson", 10),
        sources.InputFile("in/triangle.ndjson", 0),
        sources.InputFile("in/square.ndjson", 0),
        sources.InputFile("in/square.ndjson.gz", 20),  # square has drawings
    ]
    assert sources.class_set(None, files) == ["circle", "square"]
    named = tmp_path / "classes.txt"
    named.write_text("circle\ntriangle\n")
    assert sources.class_set(str(named), files) == ["circle", "triangle"]
    with pytest.raises(InputError, match="every input file is empty"):
        sources.class_set(None, [sources.InputFile("in/triangle.ndjson", 0)])


def test_a_classes_file_that_cannot_be_read_or_names_no_class_is_one_line(tmp_path):
    files = [sources.InputFile("in/circle.ndjson", 10)]
    named = tmp_path / "classes.txt"
    with pytest.raises(InputError, match=r"cannot be read \(.+\): check the path$"):
        sources.class_set(str(named), files)
    named.write_text("\n \n")
    with pytest.raises(InputError, match="names no class: write one class a line"):
        sources.class_set(str(named), files)


def test_stripes_cover_every_line_exactly_once(tmp_path):
    path = tmp_path / "many.ndjson"
    lines = [f'{{"i": {i}, "pad": "{"x" * (i % 37)}"}}'.encode() for i in range(3000)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    files = sources.match_inputs([str(path)])
    stripes = sources.plan_stripes(files, target_stripe_bytes=10_000, min_stripes=2)
    assert len(stripes) > 5
    read = [line for s in stripes for line in stripe_reader.read_stripe(s)[0]]
    assert not [d for s in stripes for d in stripe_reader.read_stripe(s)[1]]
    assert sorted(line.data for line in read) == sorted(lines)
    data = path.read_bytes()
    for line in read:
        assert data[line.offset : line.offset + len(line.data)] == line.data
