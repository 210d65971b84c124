"""Deterministic train/eval assignment and cap priority from a drawing's key_id.

Both come from one stable hash of the key_id alone, so a drawing lands in the same
split with the same priority whatever the runner, the sharding, the file order or
the other input files. Caps keep the drawings with the smallest priority.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import numpy as np

_TWO_32 = float(1 << 32)
# BLAKE2b rather than Python's `hash`, which is salted per process.
_HASH = functools.partial(hashlib.blake2b, digest_size=12)


_DIGEST = np.dtype([("u", "<u4"), ("priority", "<u8")])


def assign_many(
    key_ids: Sequence[bytes], eval_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """(is eval, bool; cap priority, uint64) of each UTF-8 key_id.

    A key_id's 12-byte digest holds both: its first 4 bytes (little-endian)
    over 2**32 are a uniform value in [0, 1), below `eval_fraction` for an
    eval drawing; its last 8 are the priority. The digests are read as
    numbers together, which is most of the per-key cost saved.
    tests/pipeline/test_split.py holds it to a transcription key by key.
    """
    digests = b"".join([_HASH(k).digest() for k in key_ids])
    parts = np.frombuffer(digests, _DIGEST)
    # u / 2**32 is exact in float64.
    return parts["u"] / _TWO_32 < eval_fraction, parts["priority"]
