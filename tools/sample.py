"""Where the real Quick, Draw! sample is, and which of its classes are big.

`../shared/quickdraw_sample` beside the repository holds real drawings (CC BY
4.0, Google): one `<class>.ndjson` for each of the 345 classes, most with 25
drawings, 15 with 500 and `cat` with 2000. It is read by path, never copied
into the project. The demo, the benchmarks and the tests all find it here.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "quickdraw_sample"
RAW_EXTRA = SAMPLE / "raw_extra"  # raw-format drawings (with times, floats)
# Enough drawings per class to train on: the 15 big classes (and cat).
BIG_CLASS_MIN = 500


def available() -> bool:
    """Whether the sample is there (it is absent on a machine without ../shared)."""
    return SAMPLE.is_dir()


def file_lines(path: Path) -> list[bytes]:
    """The non-blank lines of one ndjson file."""
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def all_lines(directory: Path = SAMPLE) -> list[bytes]:
    """Every drawing of every class file in `directory`, files in name order."""
    return [line for p in sorted(directory.glob("*.ndjson")) for line in file_lines(p)]


def big_classes(min_drawings: int = BIG_CLASS_MIN) -> dict[str, list[bytes]]:
    """{class: its lines} for the classes with at least `min_drawings` drawings."""
    classes = {}
    for path in sorted(SAMPLE.glob("*.ndjson")):
        lines = file_lines(path)
        if len(lines) >= min_drawings:
            classes[path.stem] = lines
    return classes
