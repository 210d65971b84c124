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

from drawing.features import EVAL, TRAIN

_TWO_32 = float(1 << 32)
# BLAKE2b rather than Python's `hash`, which is salted per process.
_HASH = functools.partial(hashlib.blake2b, digest_size=12)


def key_hash(key_id: str) -> tuple[float, int]:
    """(uniform value in [0, 1) for the split, 64-bit priority for the cap)."""
    digest = _HASH(key_id.encode("utf-8")).digest()
    u = int.from_bytes(digest[:4], "little") / _TWO_32
    return u, int.from_bytes(digest[4:], "little")


def assign(key_id: str, eval_fraction: float) -> tuple[str, int]:
    """(split name, cap priority) for one drawing."""
    u, priority = key_hash(key_id)
    return (EVAL if u < eval_fraction else TRAIN), priority


_DIGEST = np.dtype([("u", "<u4"), ("priority", "<u8")])


def assign_many(
    key_ids: Sequence[bytes], eval_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """`assign` for many UTF-8 key_ids: (is eval, bool; priority, uint64).

    One digest per key_id, as `key_hash` takes it; the digests are read as
    numbers together, which is most of the per-key cost saved.
    """
    digests = b"".join([_HASH(k).digest() for k in key_ids])
    parts = np.frombuffer(digests, _DIGEST)
    # u / 2**32 is exact in float64, as `key_hash`'s division is.
    return parts["u"] / _TWO_32 < eval_fraction, parts["priority"]
