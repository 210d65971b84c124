"""A work unit's input lines and binary drawings, as columns.

A stripe holds ~100k lines. A tuple per line, built and permuted and taken
apart again, cost about as much as parsing them did, so the reader gives the
lines as one list of bytes and a few arrays (`Lines`). A `Line` or `Record`,
with where it came from, is built only for a line that needs one: a reject.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np


class Line(NamedTuple):
    """One input line and where it came from, for error reports."""

    source: str
    offset: int  # byte offset of the line in the (decompressed) file
    line_number: int | None  # 1-based, known when the chunk starts the file
    data: bytes


class Record(NamedTuple):
    """One binary drawing's bytes and where it came from; reads like a `Line`."""

    source: str
    offset: int  # byte offset of the drawing in the (decompressed) file
    line_number: int  # 1-based number of the drawing in its file
    data: bytes
    word: str  # the file's class


@dataclasses.dataclass(frozen=True)
class Lines:
    """Entries (ndjson lines or binary drawings) as columns, in reading order.

    Entry i is `data[i]`, from file `files[file[i]]` at byte `offset[i]`, its
    1-based `number[i]` in that file (0: not known). A file with a word in
    `words` is binary, its class that word; an ndjson file has None.
    """

    data: list[bytes]
    file: np.ndarray  # int64
    offset: np.ndarray  # int64
    number: np.ndarray  # int64
    files: tuple[str, ...]
    words: tuple[str | None, ...]

    @classmethod
    def of_file(
        cls,
        path: str,
        data: list[bytes],
        offset: np.ndarray,
        number: np.ndarray,
        word: str | None = None,
    ) -> Lines:
        """Entries that all come from one file."""
        file = np.zeros(len(data), np.int64)
        return cls(data, file, offset, number, (path,), (word,))

    @classmethod
    def concat(cls, parts: Sequence[Lines]) -> Lines:
        """Every part's entries, in order."""
        files, words, data, file = [], [], [], []
        for part in parts:
            file.append(part.file + len(files))
            files += part.files
            words += part.words
            data += part.data
        empty = np.zeros(0, np.int64)
        return cls(
            data,
            np.concatenate([empty, *file]),
            np.concatenate([empty, *(p.offset for p in parts)]),
            np.concatenate([empty, *(p.number for p in parts)]),
            tuple(files),
            tuple(words),
        )

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, which: slice) -> Lines:
        """The entries of a slice, as `Lines`."""
        return dataclasses.replace(
            self,
            data=self.data[which],
            file=self.file[which],
            offset=self.offset[which],
            number=self.number[which],
        )

    def __iter__(self) -> Iterator[Line | Record]:
        return map(self.entry, range(len(self)))

    def permuted(self, order: np.ndarray) -> Lines:
        """Entry order[i] as entry i."""
        return dataclasses.replace(
            self,
            data=list(map(self.data.__getitem__, order.tolist())),
            file=self.file[order],
            offset=self.offset[order],
            number=self.number[order],
        )

    def is_binary(self) -> np.ndarray:
        """Whether each entry is a binary drawing (bool)."""
        binary_file = np.array([w is not None for w in self.words], bool)
        return binary_file[self.file]

    def words_of(self, which: Sequence[int]) -> list[str]:
        """The class of each binary entry in `which`."""
        return [self.words[f] for f in self.file[which].tolist()]

    def entry(self, i: int) -> Line | Record:
        """Entry i as a `Line`, or a `Record` if it is a binary drawing."""
        f = int(self.file[i])
        offset, number = int(self.offset[i]), int(self.number[i])
        if self.words[f] is not None:
            return Record(self.files[f], offset, number, self.data[i], self.words[f])
        return Line(self.files[f], offset, number or None, self.data[i])


@dataclasses.dataclass(frozen=True)
class Damage:
    """A compressed input file that breaks off: how far it was read, and why not on."""

    path: str
    reason: str  # decompress.TRUNCATED or decompress.CORRUPT
    detail: str  # the decompressor's message
    lines_read: int  # complete, non-blank lines kept (they count in lines_read)
    offset: int  # decompressed bytes kept: where the unfinished line starts
    line_number: int  # 1-based number of the line the break falls in
    partial_line: bytes  # the unfinished line, dropped

    def as_dict(self) -> dict:
        """stats.json's entry: everything but the partial line's bytes."""
        return {
            "path": self.path,
            "reason": self.reason,
            "detail": self.detail,
            "lines_read": self.lines_read,
            "bytes_read": self.offset,
            "partial_line_bytes": len(self.partial_line),
        }
