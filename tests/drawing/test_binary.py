"""drawing.binary: Google's binary layout, packed, walked and read as ndjson is.

Hypothesis writes random drawings with the writer and reads them back; every
truncation of a file is a reported problem, never an exception or a hang; a
drawing gives the same `Drawing` (or the same rejection) as its ndjson line,
on random drawings and on every real one of the sample.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawing import binary, ndjson
from drawing import features as F
from tests.shared_data import requires_sample
from tests.synthetic import Strokes, binary_drawings, pack
from tools import sample

_points = st.integers(0, 12).flatmap(
    lambda n: st.tuples(
        st.binary(min_size=n, max_size=n), st.binary(min_size=n, max_size=n)
    )
)
drawings = st.builds(
    Strokes,
    key_id=st.integers(0, 2**64 - 1),
    countrycode=st.binary(min_size=2, max_size=2),
    recognized=st.integers(0, 1),
    timestamp=st.integers(0, 2**32 - 1),
    strokes=st.lists(_points, max_size=5).map(tuple),
)


def unpack(data: bytes, offset: int = 0) -> tuple[Strokes, int]:
    """One drawing at `offset` and the offset after it, read field by field.

    Raises:
      ValueError: when it does not fit in `data` or is corrupt.
    """
    stop = binary.drawing_end(data, offset)
    if isinstance(stop, binary.Problem):
        raise ValueError(f"{stop.kind}: {stop.detail}")
    header = binary.HEADER.unpack_from(data, offset)
    pos = offset + binary.HEADER.size
    strokes = []
    for _ in range(header[-1]):
        n = int.from_bytes(data[pos : pos + 2], "little")
        pos += 2
        strokes.append((data[pos : pos + n], data[pos + n : pos + 2 * n]))
        pos += 2 * n
    return Strokes(*header[:-1], tuple(strokes)), stop


@given(st.lists(drawings, max_size=6))
def test_what_the_writer_packs_the_parser_reads_back(written):
    data = b"".join(pack(d) for d in written)
    starts, stop, problem = binary.scan(data)
    assert (stop, problem, len(starts)) == (len(data), None, len(written))
    for start, drawing in zip(starts, written, strict=True):
        assert unpack(data, start)[0] == drawing


@settings(max_examples=40)
@given(st.lists(drawings, min_size=1, max_size=4))
def test_a_file_cut_at_any_offset_is_a_truncation_never_an_error(written):
    data = b"".join(pack(d) for d in written)
    ends = {0}
    for d in written:
        ends.add(max(ends) + len(pack(d)))
    for cut in range(len(data)):
        starts, stop, problem = binary.scan(data[:cut])
        if cut in ends:  # a cut between drawings leaves whole drawings only
            assert (problem, stop) == (None, cut)
        else:
            assert problem.kind == binary.TRUNCATED
            assert stop == max(e for e in ends if e < cut)
        assert len(starts) == len([e for e in ends if 0 < e <= cut])


def test_a_recognized_byte_out_of_step_is_corrupt():
    good = pack(Strokes(7, b"US", 1, 0, ((b"\x01\x02", b"\x03\x04"),)))
    bad = bytearray(good)
    bad[10] = 9
    starts, stop, problem = binary.scan(good + bytes(bad))
    assert (starts, stop, problem.kind) == ([0], len(good), binary.CORRUPT)
    with pytest.raises(ValueError, match="corrupt"):
        unpack(bytes(bad))


def _ndjson_line(d: Strokes, word: str) -> bytes:
    strokes = [[list(xs), list(ys)] for xs, ys in d.strokes]
    return orjson.dumps(
        {
            F.WORD: word,
            F.KEY_ID: str(d.key_id),
            F.RECOGNIZED: bool(d.recognized),
            F.DRAWING: strokes,
        }
    )


def _parsed(parse):
    try:
        return parse()
    except ndjson.BadDrawing as err:
        return err.reason


@given(drawings, st.sampled_from(["cat", "dog"]), st.integers(1, 20))
def test_a_drawing_reads_as_its_ndjson_line_or_fails_the_same_way(d, word, most):
    classes = {"cat": 0}
    from_ndjson = _parsed(
        lambda: ndjson.parse_drawing(_ndjson_line(d, word), classes, most)
    )
    from_binary = _parsed(lambda: binary.to_drawing(pack(d), word, classes, most))
    assert from_binary == from_ndjson


@requires_sample
def test_every_real_drawing_reads_as_its_ndjson_line():
    for path in sorted(sample.SAMPLE.glob("*.ndjson")):
        lines = sample.file_lines(path)
        data = binary_drawings(lines)
        starts, stop, problem = binary.scan(data)
        assert (stop, problem, len(starts)) == (len(data), None, len(lines))
        ends = [*starts[1:], stop]
        for line, start, end in zip(lines, starts, ends, strict=True):
            expected = ndjson.parse_drawing(line)
            assert binary.to_drawing(data[start:end], expected.word) == expected
