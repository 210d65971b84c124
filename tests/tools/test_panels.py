"""Panels: inputs found, ndjson lines and TFRecord examples read back to
strokes and labels, in turn from each file; bad lines skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from tests.tools.records import record_points
from tools import panels, synth


def test_panels_are_taken_in_turn_from_each_file(ndjson_dir: Path) -> None:
    paths = panels.expand_inputs([str(ndjson_dir)])
    shown = panels.load_panels(paths, limit=8)
    assert [p.label for p in shown] == sorted(synth.CLASSES[:4]) * 2
    first_line = (ndjson_dir / f"{shown[0].label}.ndjson").read_bytes().split(b"\n")[0]
    assert shown[0].line == first_line
    first = orjson.loads(first_line)
    assert [s.tolist() for s in shown[0].strokes] == [
        np.array(s).T.tolist() for s in first["drawing"]
    ]


def test_bad_lines_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = synth.to_line(next(synth.generate("circle", 1)))
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"{not json\n" + good + b"\n" + b'{"word": "x"}\n')
    shown = panels.load_panels([path], limit=5)
    assert [p.label for p in shown] == ["circle"]
    assert "skipped" in capsys.readouterr().err


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        panels.expand_inputs([str(tmp_path / "nothing*.ndjson")])


def test_tfrecord_strokes_match_the_normalised_drawing(tfrecords) -> None:
    path, records = tfrecords
    shown = panels.load_panels([path], limit=len(records))
    assert [p.label for p in shown] == [r["word"] for r in records]
    assert all(p.line is None for p in shown)
    for panel, record in zip(shown, records, strict=True):
        points, _, lengths = record_points(record)
        lower = points.min(0)
        scale = points.max(0) - lower
        scale[scale == 0] = 1
        normalised = (points - lower) / scale
        decoded = np.concatenate(panel.strokes)
        assert decoded.shape == normalised.shape
        np.testing.assert_allclose(decoded, normalised - normalised[0], atol=1e-5)
        if lengths[0] > 1:  # a leading one-point stroke merges with the next
            assert [len(s) for s in panel.strokes] == lengths


def test_tfrecord_labels_come_from_the_classes_file(tfrecords, tmp_path: Path) -> None:
    path, records = tfrecords
    names = tmp_path / "names.txt"
    names.write_text("zero\none\ntwo\n")
    panel = panels.load_panels([path], limit=1, classes_file=names)[0]
    assert (
        panel.label == ["zero", "one", "two"][synth.CLASSES.index(records[0]["word"])]
    )
    # Without a classes file, the one beside the records is used.
    assert panels.load_panels([path], limit=1)[0].label == records[0]["word"]
