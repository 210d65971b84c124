"""Fixtures of the tools' tests: the inputs that test_render.py and
test_panels.py both draw (made by tests/tools/records.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.records import write_records
from tools import synth


@pytest.fixture(scope="module")
def ndjson_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic classes of five drawings, one ndjson file each."""
    out = tmp_path_factory.mktemp("ndjson")
    synth.write_dataset(out, 4, 5, seed=3)
    return out


@pytest.fixture(scope="module")
def tfrecords(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """A small TFRecord like the pipeline's; the first example has no `word`."""
    pytest.importorskip("tensorflow")
    return write_records(tmp_path_factory.mktemp("records"))
