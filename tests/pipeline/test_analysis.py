"""tf.Transform on Beam over raw Examples, and its statistics read back.

`pipeline.analysis` writes the transform; `drawing.tft_output` reads its
statistics back as the pipeline's last step and the trainer do.
"""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from drawing import features as F
from drawing import ink, ndjson, tft_output
from pipeline import analysis, records
from tests.synthetic import random_line

CLASSES = ["cat", "dog"]


@pytest.mark.slow
def test_the_transform_written_reads_back_with_numpys_statistics(tmp_path):
    rng = np.random.default_rng(3)
    lines = [random_line(CLASSES[i % 2], str(i), rng) for i in range(60)]
    drawings = [ndjson.parse_drawing(line) for line in lines]
    with TestPipeline(runner="FnApiRunner") as p:
        _ = (
            p
            | beam.Create([records.serialize_raw(d) for d in drawings])
            | analysis.AnalyzeAndWriteTransform(
                str(tmp_path / F.TRANSFORM_DIR), CLASSES, str(tmp_path / "tmp")
            )
        )
    got = tft_output.read_statistics(str(tmp_path / F.TRANSFORM_DIR))
    assert got[F.VOCABULARY] == CLASSES
    inks = [ink.drawing_to_ink(d) for d in drawings]
    deltas = np.concatenate([i[:, :2] for i in inks]).astype(np.float64)
    np.testing.assert_allclose(got[F.DELTA_MEAN], deltas.mean(0), atol=1e-6)
    np.testing.assert_allclose(got[F.DELTA_STD], deltas.std(0), rtol=1e-4)
    lengths = np.array([len(i) for i in inks])
    boundaries = got[F.LENGTH_QUANTILES]
    assert boundaries == sorted(boundaries)
    assert lengths.min() <= boundaries[0] and boundaries[-1] <= lengths.max()
