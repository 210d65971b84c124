"""Parses a batch of canonical simplified-format ndjson lines at once.

`ndjson.parse_drawing` costs a Python int per coordinate: orjson builds them
and numpy converts them back. Lines whose `drawing` is written the way the
dataset writes it (`[[[x,...],[y,...]],...]`: digits, commas and brackets,
no spaces) are parsed here instead, every number of the batch by a few
numpy passes over the concatenated bytes. Their other fields are matched by
one compiled template when the line has the dataset's layout, else orjson
reads the line with its drawing cut out. A line this parser is not sure
about gets None, and its caller parses it with `parse_drawing`, so rejects
and their reasons stay the same.
A drawing read here equals `parse_drawing`'s but for its `xs`, `ys` (int16)
and `stroke_lengths` (int64): numpy views into the batch's arrays, not lists.

A twin of the reference, `drawing.ndjson`: tests/drawing/test_ndjson_batch.py
holds it to `parse_drawing` line for line (generated lines, canonical or
mutated, and every real line), the same fields and, encoded, the same ink.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from itertools import compress

import numpy as np
import orjson

from drawing import features as F
from drawing.columns import Columns
from drawing.ndjson import DEFAULT_MAX_POINTS

# The dataset's own lines, fields in its order, strings of printable ASCII
# without `"` or a backslash: valid JSON and UTF-8 whatever they hold, so a match
# needs no JSON decoder. Other lines have their fields decoded by orjson.
_TEXT = rb"[ !#-\[\]-~]"
_TEMPLATE = re.compile(
    rb'\{"word":"(' + _TEXT + rb'+)","countrycode":"' + _TEXT + rb'*",'
    rb'"timestamp":"' + _TEXT + rb'*","recognized":(true|false),'
    rb'"key_id":"([0-9]+)","drawing":\[\[\['
)
# A JSON string cannot hold `"drawing":`: its second `"` would end the string.
_KEY = b'"drawing":[[['
_END = b"]]]"
_LINE_END = _END + b"}"
_PLACEHOLDER = b"0"
MAX_DIGITS = 3  # the dataset's are 0-255; longer ones go to `parse_drawing`
_FRONT = b" " * 3  # before the first span: looking 3 bytes back stays inside
_PAD = b" " * 8  # after the last span: looking 6 bytes on stays inside
_ZERO, _COMMA, _OPEN, _CLOSE = b"0,[]"
# What ends a list: `],[` (a stroke's x -> its y), `]],[[` (y -> the next
# stroke's x), the drawing's end; numbers inside a list are followed by `,`.
_XY, _NEXT, _LAST = 3, 5, 7


def parse_columns(
    lines: Sequence[bytes],
    class_index: Mapping[str, int] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> Columns:
    """The drawings of the canonical lines among `lines`, as columns.

    Args:
      lines: Raw ndjson lines, without newlines.
      class_index: As in `parse_drawing`; a line of a word outside it is left.
      max_points: As in `parse_drawing`; a drawing past it is left.

    Returns:
      The canonical lines' drawings (each the `Drawing` that `parse_drawing`
      would return, with int16 array coordinates); `index` says which lines
      they are. Every other line must be parsed by `parse_drawing`.
    """
    index, fields, spans = _other_fields(lines, class_index)
    if not spans:
        return Columns.none()
    ok, counts, values, ends = _numbers(spans, max_points)
    ok, xs, ys, points, strokes, stroke_lengths = _strokes(ok, counts, values, ends)
    if not ok.all():
        index = list(compress(index, ok.tolist()))
        fields = list(compress(fields, ok.tolist()))
    return Columns(index, fields, xs, ys, points, strokes, stroke_lengths)


def _other_fields(
    lines: Sequence[bytes], class_index: Mapping[str, int] | None
) -> tuple[list[int], list[tuple[bytes, bytes, bytes]], list[bytes]]:
    """The index, fields (as `Columns.fields`) and `drawing` value bytes of
    each line whose fields but the drawing pass `parse_drawing`'s checks."""
    index, fields, spans = [], [], []
    template = _TEMPLATE.match
    words = None if class_index is None else _utf8(tuple(class_index))
    for i, line in enumerate(lines):
        found = template(line)
        if found is not None and line.endswith(_LINE_END):
            raw = found.groups()  # (word, recognized, key_id): no decoding here
            if words is None or raw[0] in words:
                index.append(i)
                fields.append(raw)
                spans.append(line[found.end() - 3 : -1])
            continue
        start = line.find(_KEY)
        if start < 0:
            continue
        start += len(_KEY) - 3
        # The dataset's lines end with the drawing; a span cut too long or too
        # short is not canonical, and the line goes to `parse_drawing`.
        if line.endswith(_LINE_END):
            end = len(line) - 1
        else:
            end = line.find(_END, start + 3) + 3
            if end < 3:
                continue
        rest = line[:start] + _PLACEHOLDER + line[end:]
        # No escapes, so no other key decodes to "drawing": the one found is it.
        if b"\\" in rest or rest.count(b'"drawing"') != 1:
            continue
        try:
            record = orjson.loads(rest)
        except orjson.JSONDecodeError:
            continue
        if type(record) is not dict:
            continue
        placeholder = record.get(F.DRAWING)
        if type(placeholder) is not int or placeholder != 0:
            continue
        word = record.get(F.WORD)
        if type(word) is not str or not word:
            continue
        if class_index is not None and word not in class_index:
            continue
        key_id = record.get(F.KEY_ID)
        if type(key_id) is int:
            key_id = str(key_id)
        elif type(key_id) is not str or not key_id:
            continue
        recognized = b"false" if record.get(F.RECOGNIZED) is False else b"true"
        index.append(i)
        fields.append((word.encode(), recognized, key_id.encode()))
        spans.append(line[start:end])
    return index, fields, spans


@functools.lru_cache(maxsize=8)
def _utf8(words: tuple[str, ...]) -> frozenset[bytes]:
    """The words as UTF-8, encoded once per class list rather than per batch."""
    return frozenset(w.encode() for w in words)


def _numbers(
    spans: list[bytes], max_points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every number of the spans, and which spans are canonical number by number.

    Returns:
      (ok, counts, values, ends): per span whether its bytes are `[[[`, numbers
      separated by `,`, `],[` or `]],[[`, and `]]]`, with 4 to 2 * max_points
      numbers of at most MAX_DIGITS digits and no leading zero; per span its
      count of numbers; per number its value (int16) and what ends it (0 for
      `,`, else _XY, _NEXT or _LAST; -1 for anything else).
    """
    sizes = np.fromiter(map(len, spans), np.int64, len(spans))
    span_end = np.cumsum(sizes + 1) - 1  # spans are joined by one space
    span_start = span_end - sizes
    text = np.frombuffer(_FRONT + b" ".join(spans) + _PAD, np.uint8)
    # at(k)[p] is the byte k after p (p counts from the first span's start).
    at = lambda k: text[len(_FRONT) + k :]  # noqa: E731
    b = at(0)
    digit = (b - _ZERO) < 10
    last = np.flatnonzero(digit[:-1] & ~digit[1:])  # each number's last digit
    first = np.searchsorted(last, span_start)
    counts = np.diff(np.append(first, len(last)))
    values, bad = _values(at, last)
    ends = _followers(b, digit)[last]
    ok = (counts >= 4) & (counts <= 2 * max_points) & digit[span_start + 3]
    has = np.flatnonzero(counts > 0)
    final = first[has] + counts[has] - 1
    ends[final] = np.where(last[final] == span_end[has] - 4, _LAST, -1)
    bad |= ends < 0
    owner = np.searchsorted(first, np.flatnonzero(bad), "right") - 1
    ok[owner] = False
    return ok, counts, values, ends


def _values(at, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int16 value of each number, from its last digits, and whether it has
    more than MAX_DIGITS (3) digits or a leading zero (JSON has none)."""
    ones, tens, hundreds, thousands = (at(-k)[last] - _ZERO for k in range(4))
    two = tens < 10  # uint8: a digit, or >= 10 if the byte is not one
    three = two & (hundreds < 10)
    values = ones.astype(np.int16)
    values += (tens * two) * np.int16(10)
    values += (hundreds * three) * np.int16(100)
    bad = three & (thousands < 10)
    bad |= two & ~three & (tens == 0)
    bad |= three & (hundreds == 0)
    return values, bad


def _followers(b: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """For every byte: 0 if `,` and a digit follow it, _XY if `],[` and a
    digit do, _NEXT if `]],[[` and a digit do, else -1 (int8)."""
    n = len(b) - 6
    comma, close, open_ = b == _COMMA, b == _CLOSE, b == _OPEN
    to_comma = comma[1 : n + 1] & digit[2 : n + 2]
    to_y = close[1 : n + 1] & comma[2 : n + 2] & open_[3 : n + 3] & digit[4 : n + 4]
    to_x = close[1 : n + 1] & close[2 : n + 2] & comma[3 : n + 3]
    to_x &= open_[4 : n + 4] & open_[5 : n + 5] & digit[6 : n + 6]
    ends = to_y.view(np.int8) * np.int8(_XY)
    ends += to_x.view(np.int8) * np.int8(_NEXT)
    ends -= ~(to_comma | to_y | to_x)
    return ends


def _strokes(ok, counts, values, ends):
    """The spans' lists paired into strokes; spans whose lists do not alternate
    x, y, x, y or whose x and y differ in length are no longer ok.

    Returns:
      (ok, xs, ys, points, strokes, stroke_lengths): xs and ys of the ok spans
      concatenated, their points and strokes per ok span, and the points per
      stroke (int64).
    """
    if not ok.all():
        keep = np.repeat(ok, counts)
        ends, values = ends[keep], values[keep]
    closes = np.flatnonzero(ends)  # each list's last number
    kind = ends[closes]
    sizes = np.diff(closes, prepend=-1)
    is_x = kind == _XY
    # The span (among the kept) of each list: ends of the spans before it.
    is_last = kind == _LAST
    span = np.cumsum(is_last) - is_last
    # Lists alternate x (closed by `],[`) and y (closed by `]],[[` or the end);
    # a break between lists i and i+1 is the fault of list i+1's span.
    broken = np.flatnonzero(is_x[:-1] == is_x[1:]) + 1
    if len(kind) and not is_x[0]:
        broken = np.append(broken, 0)
    x_lists = np.flatnonzero(is_x)
    unequal = x_lists[sizes[x_lists] != sizes[np.minimum(x_lists + 1, len(sizes) - 1)]]
    kept = np.flatnonzero(ok)
    fine = np.ones(len(kept), bool)
    fine[span[broken]] = False
    fine[span[unequal]] = False
    ok = ok.copy()
    ok[kept] = fine
    x_numbers = np.repeat(is_x, sizes)
    y_numbers = ~x_numbers
    if not fine.all():
        numbers = np.repeat(fine, counts[kept])
        x_numbers &= numbers
        y_numbers &= numbers
    xs, ys = values[x_numbers], values[y_numbers]
    strokes = np.bincount(span[x_lists], minlength=len(kept))[fine]
    stroke_lengths = sizes[x_lists][fine[span[x_lists]]]
    return ok, xs, ys, counts[ok] // 2, strokes, stroke_lengths
