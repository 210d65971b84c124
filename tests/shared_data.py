"""The skip marker for tests that read the real Quick, Draw! sample."""

from __future__ import annotations

import pytest

from tools import sample

requires_sample = pytest.mark.skipif(
    not sample.available(),
    reason=f"real Quick, Draw! sample not found at {sample.SAMPLE} "
    "(../shared is absent)",
)
