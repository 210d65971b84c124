"""Reads back what tf.Transform's analyzers computed over the training split.

The pipeline's `preprocessing_fn` (pipeline/preprocessing.py) writes the
class vocabulary, the deltas' mean and std and the length quantiles into
`DATA/transform/`. The pipeline checks them and copies them into stats.json;
the trainer reads them for its length buckets and input standardisation.

tensorflow_transform is imported only when called: the import switches
`tf.keras` to the legacy Keras for the whole process, and the trainer image
does without it (the trainer then reads stats.json).
"""

from __future__ import annotations

from drawing import features as F


def read_statistics(transform_dir: str) -> dict:
    """The analyzers' results in plain form: vocabulary, delta mean and std,
    length quantiles.

    They live as constants in the transform graph; running it on one dummy
    drawing is the simplest way to read them back.

    Raises:
      ImportError: without tensorflow_transform.
    """
    import tensorflow as tf
    import tensorflow_transform as tft

    output = tft.TFTransformOutput(transform_dir)
    x = tf.RaggedTensor.from_row_lengths(
        tf.RaggedTensor.from_row_lengths(tf.constant([0.0, 1.0]), [2]), [1]
    )
    vocabulary = output.vocabulary_by_name(F.CLASSES_VOCABULARY)
    first = vocabulary[0] if vocabulary else b""
    raw = {F.DRAWING_X: x, F.DRAWING_Y: x, F.WORD: tf.constant([first])}
    out = output.transform_features_layer()(raw)
    return {
        F.VOCABULARY: [w.decode() for w in vocabulary],
        F.DELTA_MEAN: out[F.DELTA_MEAN][0].numpy().tolist(),
        F.DELTA_STD: out[F.DELTA_STD][0].numpy().tolist(),
        F.LENGTH_QUANTILES: [round(v) for v in out[F.LENGTH_QUANTILES][0].numpy()],
    }
