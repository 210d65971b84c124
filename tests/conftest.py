"""Shared pytest fixtures.

Keep fixtures here small and grouped by topic; helpers with real logic live in
their own modules beside this file (for example `gcs_emulator`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest

from tests.gcs_emulator import GcsEmulator

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
