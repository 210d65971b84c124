"""The synthetic classes' templates: strokes in a unit box around the origin,
evenly resampled, varied by the random generator, and a rotation tolerance
(tools.synth turns them into drawings: test_synth.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tools import shapes


@pytest.mark.parametrize("word", shapes.CLASSES)
def test_templates_are_strokes_in_the_unit_box_with_a_rotation(word):
    for seed in range(20):
        strokes, rotation = shapes.GENERATORS[word](np.random.default_rng(seed))
        assert strokes and 0 <= rotation <= np.pi
        for stroke in strokes:
            assert stroke.ndim == 2 and stroke.shape[1] == 2 and len(stroke) >= 2
            assert np.isfinite(stroke).all()
            assert np.abs(stroke).max() <= 0.75  # about the unit box's half-size


@pytest.mark.parametrize("word", shapes.CLASSES)
def test_a_class_is_drawn_in_more_than_one_way(word):
    drawn = {
        tuple(np.round(np.concatenate(shapes.GENERATORS[word](rng)[0]), 6).ravel())
        for rng in map(np.random.default_rng, range(10))
    }
    assert len(drawn) > 1


def test_densify_keeps_the_ends_and_steps_evenly():
    line = shapes.densify(np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 0.3]]))
    np.testing.assert_allclose(line[[0, -1]], [[0.0, 0.0], [0.5, 0.3]])
    steps = np.linalg.norm(np.diff(line, axis=0), axis=1)
    assert steps.max() <= shapes.STEP + 1e-9
    assert steps.sum() == pytest.approx(0.8)
    # A point stays a point.
    assert shapes.densify(np.array([[0.2, 0.1], [0.2, 0.1]])).tolist() == [[0.2, 0.1]]
