"""Line accounting for stats.json: every input line ends up in exactly one bucket.

lines_read = sum(written) + sum(dropped_by_cap) + filtered + sum(rejected)

Plain dicts of ints, so partial counts from many workers merge by addition.
A damaged compressed file (`damaged_files`) is not a line: its complete lines
before the break are counted like any other, its unfinished line is not.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Iterable, Sequence

import numpy as np

from drawing.features import SPLITS

# Bin edges of points per drawing: fine where most drawings are, coarse in the
# long tail (max_points defaults to 10000). The last bin also counts longer ones.
LENGTH_BIN_EDGES = [
    *range(0, 200, 10),
    *range(200, 500, 50),
    500,
    750,
    1000,
    2000,
    5000,
    10000,
]


def empty() -> dict:
    return {
        "lines_read": 0,
        "written": dict.fromkeys(SPLITS, 0),
        "dropped_by_cap": dict.fromkeys(SPLITS, 0),
        "filtered": 0,
        "analyzed": 0,  # training drawings in tf.Transform's sample (not a bucket)
        # Lines the batch parsers gave up, read one by one instead (not a
        # bucket): the dataset's own lines need none (pipeline.chunk_parser).
        "per_line_parsed": 0,
        "rejected": {},
        "damaged_files": [],  # lines.Damage.as_dict() of each, by path
        "per_class": {},
        "point_length_histogram": {
            "bin_edges": LENGTH_BIN_EDGES,
            "counts": [0] * (len(LENGTH_BIN_EDGES) - 1),
        },
    }


def _length_bin(num_points: int) -> int:
    return (
        min(
            bisect.bisect_right(LENGTH_BIN_EDGES, num_points), len(LENGTH_BIN_EDGES) - 1
        )
        - 1
    )


# The bin of every point count up to the last edge; longer ones share the last.
_BIN_OF = np.array([_length_bin(n) for n in range(LENGTH_BIN_EDGES[-1] + 1)])


class Tally:
    """Mutable per-worker counts, turned into a stats dict with `as_dict`."""

    def __init__(self) -> None:
        self.lines_read = 0
        self.filtered = 0
        self.analyzed = 0
        self.per_line_parsed = 0
        self.rejected: collections.Counter = collections.Counter()
        self.damaged_files: list[dict] = []
        self.written: collections.Counter = collections.Counter()  # (word, split)
        self.dropped: collections.Counter = collections.Counter()  # (word, split)
        self.lengths = [0] * (len(LENGTH_BIN_EDGES) - 1)

    def count_lengths(self, points: np.ndarray) -> None:
        """Adds drawings of `points` points each to the length histogram."""
        bins = _BIN_OF[np.minimum(points, len(_BIN_OF) - 1)]
        for k, n in enumerate(np.bincount(bins, minlength=len(self.lengths)).tolist()):
            self.lengths[k] += n

    def as_dict(self) -> dict:
        out = empty()
        out["lines_read"] = self.lines_read
        out["filtered"] = self.filtered
        out["analyzed"] = self.analyzed
        out["per_line_parsed"] = self.per_line_parsed
        out["rejected"] = dict(self.rejected)
        out["damaged_files"] = list(self.damaged_files)
        for (word, split), n in self.written.items():
            out["written"][split] += n
            out["per_class"].setdefault(word, _class_counts())[split] += n
        for (word, split), n in self.dropped.items():
            out["dropped_by_cap"][split] += n
            out["per_class"].setdefault(word, _class_counts())[f"dropped_{split}"] += n
        out["point_length_histogram"]["counts"] = list(self.lengths)
        return out


def _class_counts() -> dict:
    return {
        **dict.fromkeys(SPLITS, 0),
        **{f"dropped_{s}": 0 for s in SPLITS},
    }


def merge(parts: Iterable[dict]) -> dict:
    """Adds up stats dicts from many workers."""
    total = empty()
    for part in parts:
        total["lines_read"] += part["lines_read"]
        total["filtered"] += part["filtered"]
        total["analyzed"] += part["analyzed"]
        total["per_line_parsed"] += part["per_line_parsed"]
        for split in SPLITS:
            total["written"][split] += part["written"][split]
            total["dropped_by_cap"][split] += part["dropped_by_cap"][split]
        total["damaged_files"] += part["damaged_files"]
        for reason, n in part["rejected"].items():
            total["rejected"][reason] = total["rejected"].get(reason, 0) + n
        for word, counts in part["per_class"].items():
            mine = total["per_class"].setdefault(word, _class_counts())
            for k, n in counts.items():
                mine[k] += n
        hist = total["point_length_histogram"]["counts"]
        for i, n in enumerate(part["point_length_histogram"]["counts"]):
            hist[i] += n
    total["per_class"] = dict(sorted(total["per_class"].items()))
    total["rejected"] = dict(sorted(total["rejected"].items()))
    total["damaged_files"].sort(key=lambda d: d["path"])
    return total


def empty_classes(stats: dict, classes: Sequence[str]) -> dict[str, list[str]]:
    """Per split, the classes with no drawing written: in train, a class the
    model can never learn; in eval, one whose accuracy goes unmeasured."""
    per_class = stats["per_class"]
    return {
        split: [c for c in classes if not per_class.get(c, {}).get(split)]
        for split in SPLITS
    }


def check_accounting(stats: dict) -> None:
    """Raises if any line is unaccounted for: no silent data loss."""
    accounted = (
        sum(stats["written"].values())
        + sum(stats["dropped_by_cap"].values())
        + stats["filtered"]
        + sum(stats["rejected"].values())
    )
    if accounted != stats["lines_read"]:
        raise AssertionError(
            f"{stats['lines_read']} lines read but {accounted} accounted for"
        )
