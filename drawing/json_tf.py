"""Tells, inside a TF graph, which lines are JSON objects that orjson accepts.

The first pass of `drawing.ndjson_tf`, vectorised over a batch of lines with
tf.strings ops only, so it lives in a SavedModel. A line passes when it is
valid UTF-8; every string is well-formed (no raw control characters, only
JSON escapes, surrogate escapes only as high+low pairs); every number is
strict (no `01`, `1.`, `.5`, `+1`, `NaN`) and within float64's range; and
nothing follows the object. Strings collapse to `""`, scalars to `0`,
whitespace goes, and innermost containers collapse to `0` until one `0` is
left; nesting deeper than `MAX_DEPTH` does not pass ("not sure").

A twin of orjson's verdict, the decoder of the reference parser
(`drawing.ndjson`): tests/drawing/test_ndjson_tf.py holds the two equal on
generated and mutated lines.
"""

from __future__ import annotations

import tensorflow as tf

MAX_DEPTH = 32  # deeper lines are "not sure"; drawings are 4 deep

WS = r"[ \t\n\r]*"
_HEX = "[0-9a-fA-F]"
# A JSON string as orjson accepts it: `\u` escapes of surrogates only in pairs.
_STRING = (
    r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u(?:'
    rf"[0-9a-cA-CefEF]{_HEX}{{3}}|[dD][0-7]{_HEX}{{2}}"
    rf"|[dD][89abAB]{_HEX}{{2}}\\u[dD][c-fC-F]{_HEX}{{2}}"
    r'))*"'
)
# Any run from a quote to the next unescaped quote: how a parser splits tokens.
_ANY_STRING = r'"(?:[^"\\]|\\[\s\S])*"'
NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
# Only numbers with a 3-digit exponent or 200 digits can overflow float64.
_MAY_OVERFLOW = r"[\s\S]*(?:[eE]\+?[0-9]{3}|[0-9]{200})[\s\S]*"
_SCALAR = rf"{NUMBER}|true|false|null"
_VALUE = '(?:""|0)'
_CONTAINER = rf'\[(?:{_VALUE}(?:,{_VALUE})*)?\]|\{{(?:"":{_VALUE}(?:,"":{_VALUE})*)?\}}'


def _reduce_containers(compact: tf.Tensor) -> tf.Tensor:
    """Collapses innermost containers of scalar tokens until none changes."""

    def body(step, _, text):
        reduced = tf.strings.regex_replace(text, _CONTAINER, "0")
        return step + 1, tf.reduce_any(reduced != text), reduced

    _, _, reduced = tf.while_loop(
        lambda step, changed, _: (step < MAX_DEPTH) & changed,
        body,
        (tf.constant(0), tf.constant(True), compact),
    )
    return reduced


def _numbers_finite(strings: tf.Tensor, check: tf.Tensor) -> tf.Tensor:
    """False where a row in `check` has a number beyond float64 (orjson rejects).

    `strings` are JSON lines with their strings collapsed to `""`.
    """
    text = tf.strings.regex_replace(
        tf.where(check, strings, ""), "true|false|null", " "
    )
    text = tf.strings.regex_replace(text, r"[^-+.eE0-9]+", " ")
    tokens = tf.strings.split(tf.strings.strip(text))
    # Only numbers reach to_number, which would fail the whole batch otherwise.
    numbers = tokens.with_flat_values(
        tf.where(
            tf.strings.regex_full_match(tokens.flat_values, NUMBER),
            tokens.flat_values,
            "inf",
        )
    )
    finite = tf.math.is_finite(tf.strings.to_number(numbers, tf.float64))
    return tf.reduce_all(finite, axis=1)


def json_objects(lines: tf.Tensor) -> tf.Tensor:
    """bool [B]: the line is one JSON object that orjson would accept."""
    utf8 = tf.equal(
        tf.strings.unicode_transcode(lines, "UTF-8", "UTF-8", errors="replace"), lines
    )
    lines = tf.where(utf8, lines, "")
    strings = tf.strings.regex_replace(lines, _STRING, '""')
    aligned = strings == tf.strings.regex_replace(lines, _ANY_STRING, '""')
    scalars = tf.strings.regex_replace(strings, _SCALAR, "0")
    compact = tf.strings.regex_replace(scalars, r"[ \t\n\r]+", "")
    ok = (
        utf8
        & aligned
        & tf.strings.regex_full_match(compact, r"\{[\s\S]*")
        & tf.equal(_reduce_containers(compact), "0")
    )
    suspect = ok & tf.strings.regex_full_match(strings, _MAY_OVERFLOW)
    return ok & (~suspect | _numbers_finite(strings, suspect))
