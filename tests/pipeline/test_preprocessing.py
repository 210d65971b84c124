"""`preprocessing_fn` on tiny hand-made drawings whose statistics are known."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline
from tensorflow_transform.beam import tft_unit
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from drawing import features as F
from pipeline import preprocessing


class PreprocessingFnTest(tft_unit.TransformTestCase):
    def _makeTestPipeline(self):  # tft_unit's hook, by its name
        # The default DirectRunner tries to download Prism, which fails offline.
        return TestPipeline(runner="FnApiRunner")

    def test_ink_statistics_vocabulary_and_quantiles(self):
        # Drawing 1: one stroke (0,0) (1,4) (2,2) -> normalised x 0 .5 1,
        #   y 0 1 .5 -> ink [[.5, 1, 0], [.5, -.5, 1]].
        # Drawing 2: strokes (0,0) | (1,0) (2,0): y has no extent (scale 1)
        #   -> ink [[.5, 0, 0], [.5, 0, 1]] (each row: the later point's pen bit).
        # dx: .5 .5 .5 .5 -> mean .5, std 0.
        # dy: 1 -.5 0 0 -> mean .125, var (.875^2 + .625^2 + 2 * .125^2) / 4.
        input_data = [
            {
                F.DRAWING_X: [0.0, 1.0, 2.0],
                F.DRAWING_Y: [0.0, 4.0, 2.0],
                F.STROKE_LENGTHS: [3],
                F.WORD: b"dog",
            },
            {
                F.DRAWING_X: [0.0, 1.0, 2.0],
                F.DRAWING_Y: [0.0, 0.0, 0.0],
                F.STROKE_LENGTHS: [1, 2],
                F.WORD: b"cat",
            },
        ]
        std_dy = np.sqrt((0.875**2 + 0.625**2 + 2 * 0.125**2) / 4)
        stats = {
            F.DELTA_MEAN: [0.5, 0.125],
            F.DELTA_STD: [0.0, std_dy],
            # Every length is 2, so every boundary is 2.
            F.LENGTH_QUANTILES: [2.0] * (preprocessing.LENGTH_BUCKETS - 1),
        }
        expected = [
            {
                # TFT hands ragged outputs back as their flat values.
                f"{F.INK}$ragged_values": [0.5, 1.0, 0.0, 0.5, -0.5, 1.0],
                F.LENGTH: 2,
                F.CLASS_INDEX: 1,
                **stats,
            },
            {
                f"{F.INK}$ragged_values": [0.5, 0.0, 0.0, 0.5, 0.0, 1.0],
                F.LENGTH: 2,
                F.CLASS_INDEX: 0,
                **stats,
            },
        ]
        metadata = dataset_metadata.DatasetMetadata.from_feature_spec(
            preprocessing.raw_feature_spec()
        )
        self.assertAnalyzeAndTransformResults(
            input_data,
            metadata,
            functools.partial(
                preprocessing.preprocessing_fn, classes=["cat", "dog", "emu"]
            ),
            expected,
            expected_vocab_file_contents={
                F.CLASSES_VOCABULARY: [b"cat", b"dog", b"emu"]
            },
        )


def test_raw_schema_round_trips_through_tfmd():
    schema = schema_utils.schema_from_feature_spec(preprocessing.raw_feature_spec())
    spec = schema_utils.schema_as_feature_spec(schema).feature_spec
    assert isinstance(spec[F.DRAWING_X], tf.io.RaggedFeature)
