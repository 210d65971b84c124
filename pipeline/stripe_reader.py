"""Reads a work unit (a stripe): every chunk by its format's reader, mixed.

A stripe holds the k-th byte range of every input file (`pipeline.sources`).
Its ndjson chunks are read by `pipeline.ndjson_reader`, its `.bin` chunks by
`pipeline.bin_reader`, and their lines are permuted in one fixed order, so
each output shard mixes every class without a shuffle of the whole dataset
(which the local runner would hold in memory).
"""

from __future__ import annotations

import numpy as np

from pipeline import bin_reader, ndjson_reader
from pipeline.lines import Damage, Lines
from pipeline.sources import Stripe


def permuted(
    stripe: Stripe, chunks: list[tuple[Lines, Damage | None]]
) -> tuple[Lines, list[Damage]]:
    """The chunks' lines as one `Lines`, in a fixed pseudo-random order that
    mixes the classes, and the compressed files among them that break off."""
    lines = Lines.concat([got for got, _ in chunks])
    order = np.random.default_rng(stripe.index).permutation(len(lines))
    return lines.permuted(order), [d for _, d in chunks if d is not None]


def read_stripe(stripe: Stripe) -> tuple[Lines, list[Damage]]:
    """The lines and binary drawings of every chunk of a stripe, in one
    class-mixing order, and the files that break off."""
    return permuted(
        stripe,
        [
            bin_reader.read_chunk(chunk)
            if isinstance(chunk, bin_reader.BinaryChunk)
            else ndjson_reader.read_chunk(chunk)
            for chunk in stripe.chunks
        ],
    )
