"""The in-graph ndjson reader (`drawing.ndjson_tf`) held against orjson.

Two properties, on batches of generated lines, one graph call per batch:

* Well-formed lines (any key order, JSON whitespace, ints, floats, exponents,
  t arrays, nested objects and arrays with their own `drawing` keys before and
  after the real one, unicode and escaped strings that spell `"drawing":`):
  the graph reads exactly the top-level drawing orjson reads, as float32, and
  calls the line valid exactly when that drawing is usable.
* Mutated lines (byte edits, truncations, bad UTF-8, duplicate keys, trailing
  garbage, NaN, 01, 1., .5, +1, lone surrogates, 1e400): whenever the graph
  calls a line valid, orjson reads the same drawing from it. Never a guess.

The generator avoids the cases the reader documents as "not sure" (escaped or
duplicated top-level keys, nesting beyond MAX_DEPTH); separate tests pin them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import orjson
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drawing import json_tf, ndjson_tf

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Read(NamedTuple):
    """One line as the graph read it."""

    valid: bool
    x: list[np.ndarray]
    y: list[np.ndarray]
    key_id: bytes
    word: bytes


@pytest.fixture(scope="module")
def read():
    """Runs the reader on a list of lines: one traced graph for the module."""
    graph = tf.function(
        ndjson_tf.parse_lines, input_signature=[tf.TensorSpec([None], tf.string)]
    )

    def run(lines: list[bytes]) -> list[Read]:
        parsed = graph(tf.constant(lines, tf.string))
        x, y = parsed.x.to_list(), parsed.y.to_list()
        return [
            Read(
                bool(parsed.valid[i]),
                [np.array(s, np.float32) for s in x[i]],
                [np.array(s, np.float32) for s in y[i]],
                parsed.key_id[i].numpy(),
                parsed.word[i].numpy(),
            )
            for i in range(len(lines))
        ]

    return run


# --------------------------------------------------------------------------
# What orjson reads.


def _numbers(values: object) -> np.ndarray | None:
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        return None
    with np.errstate(over="ignore"):  # beyond float32 is inf: not usable
        return np.array([float(v) for v in values], np.float64).astype(np.float32)


def usable(drawing: object) -> tuple[list, list] | None:
    """A drawing's float32 x and y per stroke, or None when it is not usable."""
    if not isinstance(drawing, list) or not drawing:
        return None
    xs, ys = [], []
    for stroke in drawing:
        if not isinstance(stroke, list) or len(stroke) not in (2, 3):
            return None
        parts = [_numbers(part) for part in stroke]
        if any(p is None for p in parts) or len(parts[0]) != len(parts[1]):
            return None
        xs.append(parts[0])
        ys.append(parts[1])
    points = np.concatenate(xs + ys)
    if len(points) < 4 or not np.isfinite(points).all():
        return None
    return xs, ys


def orjson_reading(line: bytes) -> tuple[dict | None, tuple | None]:
    """(the line's JSON object, its usable top-level drawing) as orjson reads."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(record, dict):
        return None, None
    return record, usable(record.get("drawing"))


def json_text(echo: bytes) -> str:
    return orjson.loads(b'"' + echo + b'"')


def check_sound(line: bytes, got: Read) -> tuple[dict | None, tuple | None]:
    """Whatever the graph claims, orjson confirms from the same line."""
    record, truth = orjson_reading(line)
    if got.valid:
        assert truth is not None, line
        for mine, theirs in zip((got.x, got.y), truth, strict=True):
            assert len(mine) == len(theirs), line
            for a, b in zip(mine, theirs, strict=True):
                np.testing.assert_array_equal(a, b, err_msg=repr(line))
    if got.word:
        assert json_text(got.word) == record["word"], line
    if got.key_id:
        key_id = record["key_id"]
        if isinstance(key_id, str):
            assert json_text(got.key_id) == key_id, line
        else:
            assert int(got.key_id) == key_id and not isinstance(key_id, bool), line
    return record, truth


def tiny(drawing: list) -> bool:
    """A coordinate that float32 holds only as a subnormal: "not sure" in TF."""
    return any(
        2.0**-150 < abs(v) < 2.0**-126
        for stroke in drawing
        for part in stroke[:2]
        for v in part
    )


def check_complete(line: bytes, got: Read) -> None:
    """On well-formed lines the graph also reads everything orjson reads."""
    record, truth = check_sound(line, got)
    assert record is not None, line
    if truth is not None and not got.valid:
        assert tiny(record["drawing"]), line  # the only "not sure" generated
    assert got.valid == (truth is not None and not tiny(record["drawing"])), line
    word, key_id = record.get("word"), record.get("key_id")
    assert bool(got.word) == (isinstance(word, str) and word != ""), line
    short_int = type(key_id) is int and len(str(abs(key_id))) <= 18
    has_id = isinstance(key_id, str) and key_id != "" or short_int
    assert bool(got.key_id) == has_id, line


# --------------------------------------------------------------------------
# Strategies: JSON text written token by token, so layout is under test too.

WS = st.text(" \t\n\r", max_size=2)
PLAIN = st.text(
    st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters='"\\'),
    max_size=4,
)
ESCAPES = st.sampled_from(
    ['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0000", "\\u00e9"]
    + ["\\uFFFF", "\\ud83d\\ude00", '\\"drawing\\":', '\\"drawing\\":[[[1,2],[3,4]]]']
)
TRICKY = st.sampled_from(["[", "]", "{", "}", ",", ":", "drawing", " ", "\x7f"])
UNICODE_ESCAPE = (
    st.integers(0, 0xFFFF)
    .filter(lambda c: not 0xD800 <= c < 0xE000)
    .map(lambda c: f"\\u{c:04x}")
)


def _pair(code: int) -> str:
    high, low = divmod(code - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04X}"


SURROGATE_PAIR = st.integers(0x10000, 0x10FFFF).map(_pair)
STRING = st.lists(
    st.one_of(PLAIN, ESCAPES, TRICKY, UNICODE_ESCAPE, SURROGATE_PAIR), max_size=5
).map(lambda pieces: '"' + "".join(pieces) + '"')
# Top-level keys are unescaped and not ours: escaped ones are "not sure".
OTHER_KEY = PLAIN.filter(lambda k: k not in ("drawing", "word", "key_id")).map(
    lambda k: f'"{k}"'
)
INTEGER = st.one_of(
    st.integers(0, 255), st.integers(-(10**6), 10**6), st.integers(-(2**70), 2**70)
).map(str)


def rarely(draw, one_in: int) -> bool:
    """True about once in `one_in` draws (hypothesis favours 0, so not 0)."""
    return draw(st.integers(0, one_in - 1)) == one_in // 2


@st.composite
def number(draw) -> str:
    if not rarely(draw, 3):
        return draw(INTEGER)
    head = draw(st.from_regex(r"-?(0|[1-9][0-9]{0,3})", fullmatch=True))
    fraction = draw(st.from_regex(r"(\.[0-9]{1,20})?", fullmatch=True))
    exponent = draw(st.from_regex(r"([eE][-+]?0?[0-9])?", fullmatch=True))
    if rarely(draw, 20):  # now and then beyond float32
        exponent = draw(st.sampled_from(["e38", "E+39", "e99", "e-45", "e-99"]))
    return head + fraction + exponent


@st.composite
def joined(draw, items: list[str], open_: str = "[", close: str = "]") -> str:
    """`items` in a JSON container, with random whitespace around every token."""
    inner = ",".join(draw(WS) + item + draw(WS) for item in items)
    return open_ + (inner or draw(WS)) + close


@st.composite
def number_list(draw, size: int) -> str:
    return draw(joined([draw(number()) for _ in range(size)]))


@st.composite
def drawing(draw) -> str:
    strokes = []
    for _ in range(draw(st.integers(1, 4))):
        points = 0 if rarely(draw, 6) else draw(st.integers(1, 6))
        unequal = rarely(draw, 15)
        parts = [draw(number_list(points)), draw(number_list(points + unequal))]
        if draw(st.booleans()):  # raw format: a t list
            parts.append(draw(number_list(draw(st.integers(0, 5)))))
        strokes.append(draw(joined(parts)))
    return draw(joined(strokes))


@st.composite
def members(draw, keys, values) -> str:
    pairs = draw(st.lists(st.tuples(keys, values), max_size=3))
    return draw(joined([f"{k}{draw(WS)}:{draw(WS)}{v}" for k, v in pairs], "{", "}"))


SCALAR = st.one_of(number(), STRING, st.sampled_from(["true", "false", "null"]))
OUR_KEYS = st.sampled_from(['"drawing"', '"word"', '"key_id"'])
VALUE = st.recursive(
    st.one_of(SCALAR, drawing()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).flatmap(joined),
        members(st.one_of(STRING, OUR_KEYS), inner),
    ),
    max_leaves=6,
)


@st.composite
def line(draw) -> bytes:
    """A JSON object line with a top-level drawing (usually usable) and extras."""
    fields = [('"drawing"', draw(VALUE if rarely(draw, 5) else drawing()))]
    if draw(st.booleans()):
        fields.append(('"word"', draw(STRING)))
    if draw(st.booleans()):
        fields.append(('"key_id"', draw(st.one_of(STRING, INTEGER))))
    for _ in range(draw(st.integers(0, 3))):
        fields.append((draw(OTHER_KEY), draw(VALUE)))
    if draw(st.booleans()):  # a decoy: a nested object with our keys
        decoy = draw(members(OUR_KEYS, st.one_of(drawing(), STRING, INTEGER)))
        fields.append((draw(OTHER_KEY), decoy if draw(st.booleans()) else f"[{decoy}]"))
    pairs = [
        f"{key}{draw(WS)}:{draw(WS)}{value}"
        for key, value in draw(st.permutations(fields))
    ]
    return (draw(WS) + draw(joined(pairs, "{", "}")) + draw(WS)).encode()


# The same, written by orjson from Python values: its own escapes and floats.
COORD = st.one_of(
    st.integers(0, 255),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
PY_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), COORD, st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(OUR_KEYS.map(orjson.loads), st.text(max_size=4)), inner
        ),
    ),
    max_leaves=8,
)
# Top-level keys orjson writes without escapes, and not ours.
PY_KEY = st.text(
    st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters='"\\'),
    max_size=4,
).filter(lambda k: k not in ("drawing", "word", "key_id"))


@st.composite
def dumped(draw) -> bytes:
    strokes = []
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 5))
        stroke = [draw(st.lists(COORD, min_size=n, max_size=n)) for _ in range(2)]
        if draw(st.booleans()):
            stroke.append(draw(st.lists(COORD, max_size=4)))
        strokes.append(stroke)
    record = draw(st.dictionaries(PY_KEY, PY_VALUE, max_size=3))
    record["drawing"] = strokes
    if draw(st.booleans()):
        record["word"] = draw(st.text(max_size=6))
    if draw(st.booleans()):
        record["key_id"] = draw(st.one_of(st.text(max_size=6), st.integers(0, 10**18)))
    return orjson.dumps(record)


NASTY = [
    b"NaN", b"01", b"1.", b".5", b"+1", b"-", b"1e400", b"-1e400", b"1e39", b"1 2",
    b"\\ud800", b'"\\ud800"', b"\\udc00", b'"\\udc00\\ud800"', b"\\x", b"\\",
    b"\xff", b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"\x00", b"\x0c",
    b"\x01", b"{", b"}", b"[", b"]", b'"', b",", b":", b"true", b"nul", b" x",
    b'"drawing":[[[1,2],[3,4]]],', b',"drawing":[[[7,8],[9,10]]]', b'"drawing"',
    b"\xef\xbb\xbf", b"\t", b"\r\n",
]  # fmt: skip


@st.composite
def mutated(draw) -> bytes:
    """A well-formed line after a few random edits; often no longer valid."""
    data = draw(st.one_of(line(), dumped()))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.integers(0, 6))
        if edit == 0:  # one byte replaced by any byte
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
        elif edit == 1:  # a run deleted, or the line truncated
            data = data[:at] + data[at + draw(st.integers(1, 8)) :]
        elif edit == 2:
            data = data[: draw(st.integers(0, len(data)))]
        elif edit == 3:  # a nasty token inserted anywhere
            data = data[:at] + draw(st.sampled_from(NASTY)) + data[at:]
        elif edit == 4:  # a drawing key in the first object, or in a random one
            extra = b'{"drawing":' + draw(drawing()).encode() + b","
            braces = [i for i, c in enumerate(data) if c == ord("{")] or [0]
            at = braces[0] if draw(st.booleans()) else draw(st.sampled_from(braces))
            data = data[:at] + extra + data[at + 1 :]
        elif edit == 5:  # trailing garbage
            data += draw(st.sampled_from(NASTY))
        else:  # whitespace anywhere: between tokens, in strings or numbers
            data = data[:at] + draw(WS.filter(bool)).encode() + data[at:]
    return data


# --------------------------------------------------------------------------
# Properties.


@PROPERTY
@given(st.lists(st.one_of(line(), dumped()), min_size=1, max_size=12))
def test_well_formed_lines_are_read_exactly_as_orjson_reads_them(read, lines):
    for text, got in zip(lines, read(lines), strict=True):
        check_complete(text, got)


@PROPERTY
@given(st.lists(st.one_of(mutated(), st.binary(max_size=30)), min_size=1, max_size=12))
def test_a_line_the_graph_calls_valid_is_one_orjson_reads_the_same(read, lines):
    for text, got in zip(lines, read(lines), strict=True):
        check_sound(text, got)


# --------------------------------------------------------------------------
# The cases the issue names, and the "not sure" cases, one by one.

DRAWING = b"[[[10,20,30],[5,6,7]],[[1,2],[3,4]]]"
DECOY = b"[[[1,2],[3,4]]]"
PLAIN_LINE = b'{"word":"cat","key_id":"7","drawing":' + DRAWING + b"}"


def strokes(got: Read) -> list:
    return [[a.tolist() for a in got.x], [a.tolist() for a in got.y]]


def test_only_the_top_level_drawing_is_read(read):
    lines = [
        PLAIN_LINE,
        b'{"meta":{"drawing":' + DECOY + b'},"drawing":' + DRAWING + b"}",
        b'{"drawing":' + DRAWING + b',"meta":[{"drawing":' + DECOY + b"}]}",
        b'{"note":"\\"drawing\\":' + DECOY + b'","drawing":' + DRAWING + b"}",
        b'{"a":{"b":{"drawing":' + DECOY + b'}},"drawing":' + DRAWING + b"}",
    ]
    got = read(lines)
    assert all(g.valid for g in got)
    assert all(strokes(g) == strokes(got[0]) for g in got)
    assert strokes(got[0]) == [[[10, 20, 30], [1, 2]], [[5, 6, 7], [3, 4]]]
    # A line whose only drawing is nested has none.
    (nested,) = read([b'{"meta":{"drawing":' + DECOY + b"}}"])
    assert not nested.valid


def test_whitespace_separates_numbers_and_is_never_removed_first(read):
    spaced, joined_up = read(
        [b'{"drawing":[[[1 2],[3,4]]]}', b'{"drawing" : [ [ [ 1 , 2 ] , [3,4] ] ] }']
    )
    assert not spaced.valid
    assert joined_up.valid and strokes(joined_up) == [[[1, 2]], [[3, 4]]]


@pytest.mark.parametrize(
    "line",
    [
        b'{"drawing":' + DECOY + b',"drawing":' + DRAWING + b"}",  # orjson: the last
        b'{"dr\\u0061wing":' + DECOY + b"}",  # an escaped key might spell ours
        b'{"x\\n":1,"drawing":' + DRAWING + b"}",
        b'{"drawing":[[[1,2],[3,1e-40]]]}',  # float32 subnormal: TF flushes it
        b'{"deep":' + b"[" * json_tf.MAX_DEPTH + b"]" * json_tf.MAX_DEPTH
        + b',"drawing":' + DRAWING + b"}",
    ],
)  # fmt: skip
def test_lines_the_reader_is_not_sure_of_are_not_valid(read, line):
    """orjson reads them, but the graph will not guess."""
    record, truth = orjson_reading(line)
    assert record is not None
    (got,) = read([line])
    assert (got.valid, got.key_id, got.word) == (False, b"", b"")


def test_numbers_are_read_as_a_json_decoder_then_float32_would(read):
    numbers = ["16777217", "0.1", "-0", "1e-400", "1.5E+3", "18446744073709551617"]
    text = ",".join(numbers).encode()
    (got,) = read([b'{"drawing":[[[' + text + b"],[" + text + b"]]]}"])
    expected = np.array([float(n) for n in numbers]).astype(np.float32)
    assert got.valid
    np.testing.assert_array_equal(got.x[0], expected)


def test_numbers_that_may_overflow_are_checked_exactly(read):
    ok = b'{"t":[true,false,null],"n":1e300,"m":' + b"9" * 300 + b',"drawing":'
    too_big = b'{"t":true,"n":1e309,"drawing":'
    got = read([ok + DRAWING + b"}", too_big + DRAWING + b"}"])
    assert [g.valid for g in got] == [True, False]
    assert orjson_reading(ok + DRAWING + b"}")[1] is not None


@pytest.mark.parametrize(
    "line",
    [
        b'{"n":1e400,"drawing":' + DRAWING + b"}",  # beyond float64 anywhere
        b'{"n":' + b"9" * 400 + b',"drawing":' + DRAWING + b"}",
        b'{"s":"\\ud800","drawing":' + DRAWING + b"}",  # a lone surrogate
        b'{"s":"\xed\xa0\x80","drawing":' + DRAWING + b"}",  # an encoded one
        b'{"s":"\xff","drawing":' + DRAWING + b"}",
        b'{"s":"tab\there","drawing":' + DRAWING + b"}",
        b'{"n":NaN,"drawing":' + DRAWING + b"}",
        b'{"n":01,"drawing":' + DRAWING + b"}",
        b'{"drawing":' + DRAWING + b"} x",
        b'{"drawing":' + DRAWING + b"}{}",
        b"\xef\xbb\xbf" + PLAIN_LINE,
        b'[{"drawing":' + DRAWING + b"}]",
        b'{"drawing":[[[1,2],[3,1e39]]]}',  # beyond float32
        b'{"drawing":[[[1,2],[3,4]],{}]}',
        b'{"drawing":[[[1,2],[3,4],[5],[6]]]}',
        b'{"drawing":[[[1],[2]]]}',
        b'{"drawing":[[[1,2],[3]]]}',
        b'{"drawing":[[["1",2],[3,4]]]}',
        b'{"drawing":[]}',
    ],
)
def test_lines_orjson_rejects_or_without_a_usable_drawing_are_not_valid(read, line):
    assert orjson_reading(line)[1] is None
    (got,) = read([line])
    assert not got.valid


def test_a_bad_line_does_not_fail_the_batch_and_echoes_are_top_level(read):
    lines = [
        b"not json",
        b"",
        b'{"word":"\\u00e9t\\u00e9","key_id":123,"drawing":' + DRAWING + b"}",
        b'{"meta":{"word":"dog","key_id":"9"},"drawing":' + DRAWING + b"}",
        b'{"key_id":12.5,"word":7,"drawing":' + DRAWING + b"}",
    ]
    bad, empty, escaped, nested, other_types = read(lines)
    assert not bad.valid and not empty.valid
    assert escaped.valid and (escaped.word, escaped.key_id) == (
        b"\\u00e9t\\u00e9",
        b"123",
    )
    assert json_text(escaped.word) == "été"
    assert nested.valid and (nested.word, nested.key_id) == (b"", b"")
    assert other_types.valid and (other_types.word, other_types.key_id) == (b"", b"")
    assert read([]) == []


def test_orjson_behaves_as_these_tests_assume():
    """The reference itself: what it accepts decides what the graph may accept."""
    assert orjson.loads(b'{"a":1,"a":2}') == {"a": 2}  # duplicates: the last wins
    assert orjson.loads(b"18446744073709551616") == 2.0**64  # big ints: floats
    assert orjson.loads(b'"\\ud83d\\ude00"') == "\U0001f600"  # pairs decode
    for bad in (b"1e400", b"9" * 400, b'"\\ud800"', b'"\\udc00\\ud800"', b"01"):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(bad)
    assert orjson.loads(b"[" * 1024 + b"]" * 1024)  # deeper than MAX_DEPTH


def test_nesting_up_to_max_depth_is_read(read):
    inner = json_tf.MAX_DEPTH - 1  # the line's own object is one level
    line = b'{"deep":' + b"[" * inner + b"]" * inner + b',"drawing":' + DRAWING + b"}"
    (got,) = read([line])
    assert got.valid and strokes(got) == strokes(read([PLAIN_LINE])[0])


# --------------------------------------------------------------------------
# Through an exported model.
