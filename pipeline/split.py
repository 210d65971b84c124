"""Deterministic train/eval assignment and cap priority from a drawing's key_id.

Both come from one stable hash of the key_id alone, so a drawing lands in the same
split with the same priority whatever the runner, the sharding, the file order or
the other input files. Caps keep the drawings with the smallest priority.
"""

from __future__ import annotations

import hashlib

from drawing.features import EVAL, TRAIN

_TWO_32 = float(1 << 32)


def key_hash(key_id: str) -> tuple[float, int]:
    """(uniform value in [0, 1) for the split, 64-bit priority for the cap).

    BLAKE2b rather than Python's `hash`, which is salted per process.
    """
    digest = hashlib.blake2b(key_id.encode("utf-8"), digest_size=12).digest()
    u = int.from_bytes(digest[:4], "little") / _TWO_32
    return u, int.from_bytes(digest[4:], "little")


def assign(key_id: str, eval_fraction: float) -> tuple[str, int]:
    """(split name, cap priority) for one drawing."""
    u, priority = key_hash(key_id)
    return (EVAL if u < eval_fraction else TRAIN), priority
