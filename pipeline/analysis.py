"""tf.Transform on Beam: one full pass over the training split's raw strokes.

Kept apart from `pipeline.encode` because importing tensorflow_transform is
heavy and switches `tf.keras` to the legacy Keras for the whole process.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Sequence

import apache_beam as beam
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils
from tfx_bsl.public import tfxio

from pipeline import preprocessing


@beam.ptransform_fn
def AnalyzeAndWriteTransform(
    raw_examples,
    transform_dir: str,
    classes: Sequence[str],
    temp_dir: str,
):
    """Serialised raw tf.Examples -> DIR/transform (transform_fn + raw metadata).

    Returns:
      A PCollection that is non-empty once both are written, to wait on.
    """
    schema = schema_utils.schema_from_feature_spec(preprocessing.raw_feature_spec())
    source = tfxio.TFExampleBeamRecord(physical_format="tfrecord", schema=schema)
    batches = raw_examples | "Decode" >> source.BeamSource()
    # TF1-style graph building: tracing preprocessing_fn as TF2 functions took
    # seconds more per run in the launcher, before any worker starts (a first
    # run's wait: bench/startup_bench.py), and the graph is the same: the
    # equivalence test holds it to the pipeline's stored ink.
    with tft_beam.Context(temp_dir=temp_dir, force_tf_compat_v1=True):
        transform_fn = (
            batches,
            source.TensorAdapterConfig(),
        ) | "Analyze" >> tft_beam.AnalyzeDataset(
            functools.partial(preprocessing.preprocessing_fn, classes=list(classes))
        )
        transform_written = transform_fn | "WriteTransformFn" >> (
            tft_beam.WriteTransformFn(transform_dir)
        )
    # WriteTransformFn writes only the transformed schema; readers of raw
    # examples (serving, TFTransformOutput.raw_feature_spec) need the raw one.
    raw_written = dataset_metadata.DatasetMetadata(schema) | "WriteRawMetadata" >> (
        tft_beam.WriteMetadata(
            posixpath.join(transform_dir, tft.TFTransformOutput.RAW_METADATA_DIR),
            raw_examples.pipeline,
        )
    )
    return (
        transform_written,
        raw_written,
    ) | "BothWritten" >> beam.Flatten()
