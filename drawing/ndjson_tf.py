"""Reads the top-level fields of Quick, Draw! ndjson lines inside a TF graph.

The serving graph gets raw ndjson lines and must find each line's `drawing`
without Python (no `tf.py_function`: it has to live in a SavedModel). A regex
for `"drawing":` alone is not enough: a nested object may have a `drawing` key
too, strings may contain the text `"drawing":`, and whitespace sits between
tokens. So the reading is done in two passes, vectorised over the batch:

1. The whole line must be a JSON object that a strict parser (orjson) accepts
   (`drawing.json_tf`).
2. On such a line, depth (brackets outside strings) picks the top-level object's
   own keys. The value of the only top-level key spelt `"drawing"` must match
   the drawing grammar (strokes of [xs, ys] or [xs, ys, ts] number lists,
   whitespace allowed between tokens) before it is split into numbers.

A line gets `valid` False when it is not such a JSON object or its drawing is
not usable (not a list of strokes of number lists, unequal x/y counts, under 2
points, a coordinate beyond float32). It also gets False when the parser cannot
be sure, never guessing: nesting deeper than `MAX_DEPTH`; a top-level key that
is duplicated (orjson keeps the last one) or written with escapes (it might
spell `drawing`), which also empties `key_id` and `word`; a coordinate that is
a nonzero float32 subnormal (TensorFlow's CPU kernels flush it to zero). A
bad line never fails the batch: it gets a placeholder drawing, so shapes hold.

Coordinates are read as float64 and then rounded to float32, the path a JSON
decoder followed by a float32 cast takes, so they equal the pipeline's.

A twin of the reference's reading (`drawing.ndjson`: orjson, then the drawing
checks), without reasons, only `valid`; its checks are the server's
(`serving.request_parser`: a boolean is no number, times may follow). Held
to orjson on generated and mutated lines by tests/drawing/test_ndjson_tf.py.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from drawing import features as F
from drawing.json_tf import NUMBER, WS, json_objects

_F32_TINY = 2.0**-126  # float32's smallest normal number
_F32_ZERO = 2.0**-150  # at most this rounds to zero in float32

_LIST = rf"\[{WS}(?:{NUMBER}{WS}(?:,{WS}{NUMBER}{WS})*)?\]"
_STROKE = rf"\[{WS}{_LIST}{WS},{WS}{_LIST}{WS}(?:,{WS}{_LIST}{WS})?\]"
_DRAWING = rf"\[{WS}{_STROKE}{WS}(?:,{WS}{_STROKE}{WS})*\]"
_ESCAPE_MARK = "\x01"  # stands for an escape's 2 characters; raw, never valid JSON
_NESTED = "V"  # stands for a nested value in the top-level view
# Stands in for the drawing of a line that has none, so the batch keeps its shape.
_PLACEHOLDER = "[[[0,1],[0,1]]]"


class ParsedLines(NamedTuple):
    """What the graph reads from a batch of ndjson lines.

    Attributes:
      x, y: float32 ragged [B, strokes, points]; a placeholder where not valid.
      valid: bool [B], True where the line's top-level drawing is usable.
      key_id: string [B], the top-level `key_id` (a string's JSON text, escapes
        as written, or an integer of up to 18 digits), else "".
      word: string [B], the top-level `word` string's JSON text, else "".
    """

    x: tf.RaggedTensor
    y: tf.RaggedTensor
    valid: tf.Tensor
    key_id: tf.Tensor
    word: tf.Tensor


class _View(NamedTuple):
    """The top-level structure of JSON object lines (see `_top_level_view`).

    Attributes:
      text: string [B], one character per byte kept (bytes read as Latin-1):
        the line's own tokens, a `V` for each nested value, and escapes as two
        `\\x01`, so that quotes only delimit strings.
      kept: int64 ragged [B, characters of text], each character's byte offset
        in the batch's lines joined; a `V`'s value runs up to the next one.
      starts: int64 [B], each line's first byte in the lines joined.
    """

    text: tf.Tensor
    kept: tf.RaggedTensor
    starts: tf.Tensor


def _top_level_view(lines: tf.Tensor) -> _View:
    """Each line with its nested values shrunk to one `V` each.

    Every line must be a JSON object (see `json_objects`): then each line has
    an even number of delimiting quotes and balanced brackets, so running sums
    over the whole batch restart at every line without being told to.
    """
    marked = tf.strings.regex_replace(lines, r"\\[\s\S]", _ESCAPE_MARK * 2)
    code = tf.io.decode_raw(tf.strings.reduce_join(marked), tf.uint8)
    code = tf.cast(code, tf.int32)
    splits = tf.cumsum(tf.cast(tf.strings.length(marked), tf.int64))
    splits = tf.concat([[0], splits], 0)
    quote = tf.cast(code == ord('"'), tf.int32)
    in_string = (tf.bitwise.bitwise_and(tf.cumsum(quote), 1) == 1) | (quote == 1)
    opens = ~in_string & ((code == ord("[")) | (code == ord("{")))
    closes = ~in_string & ((code == ord("]")) | (code == ord("}")))
    level = tf.cumsum(tf.cast(opens, tf.int32) - tf.cast(closes, tf.int32))
    level += tf.cast(closes, tf.int32)  # a bracket belongs to what it encloses
    nested = opens & (level == 2)
    keep = (level <= 1) | nested
    offsets = tf.where(keep)[:, 0]
    kept_splits = tf.concat([[0], tf.cumsum(tf.cast(keep, tf.int64))], 0)
    kept = tf.RaggedTensor.from_row_splits(
        offsets, tf.gather(kept_splits, splits), validate=False
    )
    text = kept.with_flat_values(
        tf.gather(tf.where(nested, ord(_NESTED), code), offsets)
    )
    return _View(tf.strings.unicode_encode(text, "UTF-8"), kept, splits[:-1])


def _key_once(view: _View, key: str) -> tf.Tensor:
    """bool [B]: `key` is a top-level key of the line exactly once."""
    key = rf'"{key}"{WS}:'
    once = rf"[\s\S]*{key}[\s\S]*"
    twice = rf"[\s\S]*{key}[\s\S]*{key}[\s\S]*"
    return tf.strings.regex_full_match(view.text, once) & ~tf.strings.regex_full_match(
        view.text, twice
    )


def _field(
    lines: tf.Tensor,
    view: _View,
    key: str,
    value: str,
    before: str = "",
    after: str = "",
) -> tuple[tf.Tensor, tf.Tensor]:
    """The top-level `key`'s value text (the line's own bytes) where found.

    `before`, `value` and `after` are matched in the view, where a nested value
    is one `V`; the text returned is what `value` matched. Its span runs to the
    next character of the view, so a `V` stands for the whole nested value.
    """
    pattern = rf'(?s)^(.*?"{key}"{WS}:{WS}{before})({value}){after}.*$'
    found = _key_once(view, key) & tf.strings.regex_full_match(view.text, pattern)
    head = tf.strings.regex_replace(view.text, pattern, r"\1", replace_global=False)
    body = tf.strings.regex_replace(view.text, pattern, r"\2", replace_global=False)
    first = tf.cast(tf.strings.length(head, unit="UTF8_CHAR"), tf.int64)
    count = tf.cast(tf.strings.length(body, unit="UTF8_CHAR"), tf.int64)
    offsets, last = view.kept.flat_values, tf.size(view.kept.flat_values, tf.int64) - 1

    def position(index: tf.Tensor) -> tf.Tensor:
        flat = tf.clip_by_value(index + view.kept.row_starts(), 0, tf.maximum(last, 0))
        return tf.gather(offsets, flat) - view.starts

    # Clipped, as substr fails the batch on a position beyond a line's end.
    size = tf.cast(tf.strings.length(lines), tf.int64)
    start = tf.clip_by_value(position(first), 0, size)
    end = tf.clip_by_value(position(first + count), start, size)
    return found, tf.where(found, tf.strings.substr(lines, start, end - start), "")


def _split_numbers(lists: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """ "1,2,3" strings [S] -> float32 ragged [S, points] and bool [S], exact.

    The bool is False where a number does not survive as float32: beyond its
    range, or one that rounds to a nonzero float32 below the smallest normal
    (TensorFlow's CPU kernels flush those to zero, numpy keeps a subnormal).
    """
    tokens = tf.strings.split(lists, ",")
    tokens = tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)
    wide = tf.strings.to_number(tokens.flat_values, tf.float64)
    narrow = tf.cast(wide, tf.float32)
    size = tf.abs(wide)
    exact = tf.math.is_finite(narrow) & ((size >= _F32_TINY) | (size <= _F32_ZERO))
    exact = tf.reduce_all(tokens.with_flat_values(exact), axis=1)
    return tokens.with_flat_values(narrow), exact


def _strokes(drawing: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.Tensor]:
    """Whitespace-free drawings [B] -> x, y ragged [B, strokes, points], usable."""
    # "[[[1,2],[3,4]],[[5],[6]]]" -> strokes "1,2],[3,4" and "5],[6".
    inner = tf.strings.regex_replace(drawing, r"^\[\[\[|\]\]\]$", "")
    strokes = tf.strings.split(inner, "]],[[")  # [B, S]
    parts = tf.strings.split(strokes.flat_values, "],[")  # [S total, 2 or 3]
    starts = parts.row_starts()
    xs, x_exact = _split_numbers(tf.gather(parts.flat_values, starts))  # [S, P]
    ys, y_exact = _split_numbers(tf.gather(parts.flat_values, starts + 1))
    per_drawing = strokes.row_lengths()

    def per_line(values: tf.Tensor) -> tf.RaggedTensor:
        return tf.RaggedTensor.from_row_lengths(values, per_drawing)

    good = (xs.row_lengths() == ys.row_lengths()) & x_exact & y_exact
    points = tf.reduce_sum(per_line(xs.row_lengths()), axis=1)
    usable = tf.reduce_all(per_line(good), axis=1) & (points >= 2)
    return per_line(xs), per_line(ys), usable


def _placeholders_where_not(
    valid: tf.Tensor, coords: tf.RaggedTensor
) -> tf.RaggedTensor:
    """`coords` with the rows that are not valid replaced by the placeholder."""
    placeholder = tf.ragged.constant(
        [[[0.0, 1.0]]], tf.float32, row_splits_dtype=tf.int64
    )
    num_valid = tf.reduce_sum(tf.cast(valid, tf.int64))
    index = tf.where(valid, tf.cumsum(tf.cast(valid, tf.int64)) - 1, num_valid)
    kept = tf.ragged.boolean_mask(coords, valid)
    return tf.gather(tf.concat([kept, placeholder], axis=0), index)


def parse_lines(lines: tf.Tensor) -> ParsedLines:
    """Reads each ndjson line's top-level `drawing`, `key_id` and `word`, in-graph.

    Args:
      lines: string [B], one ndjson line each (a trailing newline is allowed).
    """
    lines = tf.convert_to_tensor(lines, tf.string)
    objects = json_objects(lines)
    lines = tf.where(objects, lines, "{}")
    view = _top_level_view(lines)
    # A key written with escapes might spell one of ours: not sure of any.
    sure = objects & ~tf.strings.regex_full_match(
        view.text, rf'[\s\S]*"[^"]*{_ESCAPE_MARK}[^"]*"{WS}:[\s\S]*'
    )
    found, drawing = _field(lines, view, F.DRAWING, _NESTED)
    found = sure & found & tf.strings.regex_full_match(drawing, _DRAWING)
    drawing = tf.strings.regex_replace(drawing, r"[ \t\n\r]+", "")
    x, y, usable = _strokes(tf.where(found, drawing, _PLACEHOLDER))
    valid = found & usable
    _, word = _field(lines, view, F.WORD, '[^"]*', before='"', after='"')
    is_text, text_id = _field(lines, view, F.KEY_ID, '[^"]*', before='"', after='"')
    _, number_id = _field(
        lines, view, F.KEY_ID, r"-?(?:0|[1-9][0-9]{0,17})", after="[ \t\n\r,}]"
    )
    key_id = tf.where(is_text, text_id, number_id)
    return ParsedLines(
        x=_placeholders_where_not(valid, x),
        y=_placeholders_where_not(valid, y),
        valid=valid,
        key_id=tf.where(sure, key_id, ""),
        word=tf.where(sure, word, ""),
    )
