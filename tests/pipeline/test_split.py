"""The split and cap priority of a key_id, held to a key-by-key transcription."""

from __future__ import annotations

import hashlib

from drawing import features as F
from pipeline import split


def key_hash(key_id: str) -> tuple[float, int]:
    """(uniform value in [0, 1) for the split, 64-bit priority for the cap):
    the 12-byte BLAKE2b digest of the key_id, as `split.assign_many` reads it."""
    digest = hashlib.blake2b(key_id.encode("utf-8"), digest_size=12).digest()
    u = int.from_bytes(digest[:4], "little") / float(1 << 32)
    return u, int.from_bytes(digest[4:], "little")


def assign(key_id: str, eval_fraction: float) -> tuple[str, int]:
    """(split name, cap priority) of one drawing."""
    u, priority = key_hash(key_id)
    return (F.EVAL if u < eval_fraction else F.TRAIN), priority


def test_assign_many_is_assign():
    keys = ["1", "5262014343544832", "ünïcode", "", *map(str, range(500))]
    is_eval, priority = split.assign_many([k.encode() for k in keys], 0.1)
    for k, e, p in zip(keys, is_eval.tolist(), priority.tolist(), strict=True):
        assert assign(k, 0.1) == (F.EVAL if e else F.TRAIN, p)


def test_the_split_is_about_the_fraction_asked_and_nothing_else_moves_it():
    keys = [str(k).encode() for k in range(20_000)]
    is_eval, priority = split.assign_many(keys, 0.1)
    assert 0.09 < is_eval.mean() < 0.11
    # A drawing's side depends only on its key_id: the same alone or in a batch.
    alone = [split.assign_many([k], 0.1) for k in keys[:50]]
    assert [bool(e[0]) for e, _ in alone] == is_eval[:50].tolist()
    assert [int(p[0]) for _, p in alone] == priority[:50].tolist()
    assert not split.assign_many(keys, 0.0)[0].any()
    assert split.assign_many(keys, 1.0)[0].all()
