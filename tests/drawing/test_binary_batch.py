"""The batch reader of binary drawings against `binary.to_drawing`, one by one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drawing import binary, binary_batch
from drawing.ndjson import BadDrawing
from tests.drawing.test_binary import drawings
from tests.synthetic import pack

CLASSES = {"cat": 0, "dog": 1}


def _as_lists(drawing) -> tuple:
    return (*drawing[:3], *(list(map(int, v)) for v in drawing[3:]))


@settings(max_examples=200, deadline=None)
@given(
    batch=st.lists(
        st.tuples(drawings, st.sampled_from(["cat", "dog", "emu"]), st.integers(-3, 3)),
        max_size=12,
    ),
    most=st.integers(1, 30),
)
def test_the_batch_takes_what_to_drawing_takes_and_reads_it_the_same(batch, most):
    """Cuts and extra bytes (the integer) make drawings whose counts do not
    fit their bytes; to_drawing must then fail or the batch leave them."""
    data = []
    for drawing, _, cut in batch:
        packed = pack(drawing)
        data.append(packed[:cut] if cut < 0 else packed + b"\0" * cut)
    words = [word for _, word, _ in batch]
    columns = binary_batch.parse_columns(data, words, CLASSES, most)
    taken = dict(zip(columns.index, columns.drawings(), strict=True))
    for i, (packed, word) in enumerate(zip(data, words, strict=True)):
        try:
            expected = binary.to_drawing(packed, word, CLASSES, most)
        except (BadDrawing, IndexError):
            assert i not in taken
            continue
        if i in taken:
            assert _as_lists(taken[i]) == _as_lists(expected)
        else:  # only a drawing whose counts overrun or underrun its bytes
            assert binary.drawing_end(packed, 0) != len(packed)
