"""Where the real Quick, Draw! sample lives: ../shared beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLE = SHARED / "quickdraw_sample"
RAW_EXTRA = SAMPLE / "raw_extra"

requires_sample = pytest.mark.skipif(
    not SAMPLE.is_dir(),
    reason=f"real Quick, Draw! sample not found at {SAMPLE} (../shared is absent)",
)


def sample_lines(directory: Path = SAMPLE) -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted(directory.glob("*.ndjson")):
        lines += [line for line in path.read_bytes().splitlines() if line.strip()]
    return lines
