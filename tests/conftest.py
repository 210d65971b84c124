"""Shared pytest fixtures.

Keep fixtures here small and grouped by topic; helpers with real logic live in
their own modules beside this file (`gcs_emulator`, `product`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from drawing import features as F
from tests.gcs_emulator import GcsEmulator
from tests.product import (
    SAMPLE_MODEL,
    SAMPLE_SEEN,
    TINY_MODEL,
    SampleModel,
    run_module,
    train_and_export,
)

# ----------------------------------------------------------------------------
# Test processes


# The test groups that take minutes on 2 cores, longest first.
LONGEST_GROUPS = (
    "tests.trainer.test_task",
    "tests.tools.test_demo",
    "sample_export",
    "tests.pipeline.test_main",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist's `--dist loadgroup` (`make test`), each module runs in
    one worker, so its module fixtures are built once; the modules that share a
    session model say so with `pytest.mark.xdist_group(<fixture>)`. The groups
    of several minutes go first, then the other slow tests, so that the quick
    ones fill the end (`make test` keeps this order: --no-loadscope-reorder)."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))

    def rank(item: pytest.Item) -> int:
        group = item.get_closest_marker("xdist_group").args[0]
        if group in LONGEST_GROUPS:
            return LONGEST_GROUPS.index(group)
        return len(LONGEST_GROUPS) + (item.get_closest_marker("slow") is None)

    items.sort(key=rank)


# ----------------------------------------------------------------------------
# Google Cloud Storage

_bucket_numbers = itertools.count()


@pytest.fixture(scope="session")
def gcs() -> Iterator[GcsEmulator]:
    """A GCS emulator shared by the whole session; `gs://` paths go to it.

    Session-scoped because starting it costs a process, while buckets are
    cheap: tests keep apart by using their own bucket (see `gcs_bucket`). While
    it runs, this process's environment points GCS clients at it; pass
    `gcs.env()` to subprocesses.
    """
    with GcsEmulator() as emulator:
        yield emulator


@pytest.fixture
def gcs_bucket(gcs: GcsEmulator, request: pytest.FixtureRequest) -> str:
    """A new, empty bucket for one test, named after it; returns `gs://name`."""
    # Bucket names: 3-63 characters, lowercase letters, digits and dashes,
    # starting and ending with a letter or digit.
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return gcs.create_bucket(f"{stem}-{next(_bucket_numbers)}")


# ----------------------------------------------------------------------------
# Trained and exported models


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> Path:
    """A tiny exported model of `tests.synthetic.CLASSES` (a few dozen steps)."""
    from tests.synthetic import write_records

    root = tmp_path_factory.mktemp("tiny_export")
    data = write_records(root / "data", train=320, evals=64)
    return train_and_export(data, root, *TINY_MODEL, "--steps=40", "--eval_every=40")


@pytest.fixture(scope="session")
def sample_export(tmp_path_factory) -> SampleModel:
    """The pipeline and a short training on the first lines of each big class
    of the real sample (as `tools.demo` does, smaller); skips without it."""
    from tools import sample

    if not sample.available():
        pytest.skip(f"real Quick, Draw! sample not found at {sample.SAMPLE}")
    root = tmp_path_factory.mktemp("sample_export")
    inputs = root / "ndjson"
    inputs.mkdir()
    unseen = {}
    for name, lines in sample.big_classes().items():
        (inputs / f"{name}.ndjson").write_bytes(b"\n".join(lines[:SAMPLE_SEEN]) + b"\n")
        unseen[name] = lines[SAMPLE_SEEN:]
    data = root / "data"
    train = SAMPLE_SEEN * 9 // 10
    run_module(
        [
            "pipeline.main",
            f"--input={inputs}",
            f"--output={data}",
            f"--train_per_class={train}",
            f"--eval_per_class={SAMPLE_SEEN - train}",
        ]
    )
    export = train_and_export(
        data,
        root,
        f"--classes_file={data / F.CLASSES_FILE}",
        f"--transform_dir={data / F.TRANSFORM_DIR}",
        *SAMPLE_MODEL,
    )
    return SampleModel(export=export, unseen=unseen)
