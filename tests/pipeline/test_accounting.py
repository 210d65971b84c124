"""Line accounting: every line read lands in exactly one bucket, across workers."""

from __future__ import annotations

import numpy as np
import pytest

from drawing import features as F
from pipeline import accounting


def _tally(word: str, written: int, dropped: int, rejected: int) -> accounting.Tally:
    tally = accounting.Tally()
    tally.lines_read = written + dropped + rejected + 1
    tally.filtered = 1
    tally.written[(word, F.TRAIN)] = written
    tally.dropped[(word, F.EVAL)] = dropped
    tally.rejected["not_utf8"] = rejected
    tally.count_lengths(np.array([1, 10, 10, 199, 200, 10_000, 50_000]))
    return tally


def test_workers_counts_add_up_and_every_line_is_accounted_for():
    parts = [_tally("cat", 5, 2, 1).as_dict(), _tally("dog", 3, 0, 4).as_dict()]
    total = accounting.merge(parts)
    accounting.check_accounting(total)
    assert total["lines_read"] == 17
    assert total["written"] == {F.TRAIN: 8, F.EVAL: 0}
    assert total["dropped_by_cap"] == {F.TRAIN: 0, F.EVAL: 2}
    assert total["rejected"] == {"not_utf8": 5}
    assert total["per_class"]["cat"] == {
        F.TRAIN: 5, F.EVAL: 0, f"dropped_{F.TRAIN}": 0, f"dropped_{F.EVAL}": 2
    }  # fmt: skip
    counts = total["point_length_histogram"]["counts"]
    edges = total["point_length_histogram"]["bin_edges"]
    # [0, 10): 1; [10, 20): 2; [190, 200): 199; [200, 250): 200; the last bin
    # also holds what is longer than its edge.
    assert counts[0] == counts[19] == counts[20] == 2 and counts[1] == 4
    assert counts[-1] == 4 and sum(counts) == 14 and len(edges) == len(counts) + 1
    assert accounting.empty_classes(total, ["cat", "dog", "emu"]) == {
        F.TRAIN: ["emu"],
        F.EVAL: ["cat", "dog", "emu"],
    }


def test_a_line_unaccounted_for_fails_the_run():
    stats = _tally("cat", 5, 2, 1).as_dict()
    stats["lines_read"] += 1
    with pytest.raises(AssertionError, match="10 lines read but 9 accounted for"):
        accounting.check_accounting(stats)
