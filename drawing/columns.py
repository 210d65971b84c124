"""A batch of drawings as columns: one array per field, no object per drawing.

`drawing.ndjson_batch` parses the dataset's lines into it, and the pipeline's
encoder (`pipeline.chunk_encoder`) encodes and serialises it a batch at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from drawing.ndjson import Drawing


class Columns(NamedTuple):
    """The canonical lines of a batch, column by column: no object per drawing.

    Drawing j has `fields[j]` (word, recognized, key_id) and `points[j]` points
    from `xs`, `ys` (int16, every drawing concatenated) in `strokes[j]` strokes
    of `stroke_lengths` (int64). The fields stay as the line's UTF-8 bytes
    (recognized as b"true" or b"false"): the records take them as bytes.
    """

    index: list[int]  # the line of the batch each drawing comes from
    fields: list[tuple[bytes, bytes, bytes]]
    xs: np.ndarray
    ys: np.ndarray
    points: np.ndarray
    strokes: np.ndarray
    stroke_lengths: np.ndarray

    @classmethod
    def none(cls) -> Columns:
        """No drawing at all."""
        empty = np.zeros(0, np.int64)
        return cls([], [], empty.astype(np.int16), empty.astype(np.int16), *[empty] * 3)

    @classmethod
    def concat(cls, parts: Sequence[Columns]) -> Columns:
        """The drawings of every part, in order; `index` as each part has it."""
        parts = [p for p in parts if p.index]
        if len(parts) < 2:
            return parts[0] if parts else cls.none()
        arrays = ("xs", "ys", "points", "strokes", "stroke_lengths")
        return cls(
            [i for p in parts for i in p.index],
            [f for p in parts for f in p.fields],
            *(np.concatenate([getattr(p, name) for p in parts]) for name in arrays),
        )

    def drawings(self, which: Sequence[int] | None = None) -> list[Drawing]:
        """A `Drawing` per drawing (or per drawing in `which`), its arrays
        views into the columns."""
        point = np.cumsum(np.append(0, self.points)).tolist()
        stroke = np.cumsum(np.append(0, self.strokes)).tolist()
        xs, ys, lengths = self.xs, self.ys, self.stroke_lengths
        new = tuple.__new__  # Drawing(...) costs several times as much: keywords
        return [
            new(
                Drawing,
                (
                    self.fields[j][0].decode(),
                    self.fields[j][2].decode(),
                    self.fields[j][1] == b"true",
                    xs[point[j] : point[j + 1]],
                    ys[point[j] : point[j + 1]],
                    lengths[stroke[j] : stroke[j + 1]],
                ),
            )
            for j in (range(len(self.fields)) if which is None else which)
        ]
