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
    drawing is the simplest way to read them back. The pipeline writes that
    graph in TF1 style (`pipeline.analysis`), so it is run the same way, in a
    graph and session of its own: loading it as a TF2 function took about
    twice as long, a share of a small run's wait (bench/startup_bench.py).

    Raises:
      ImportError: without tensorflow_transform.
    """
    import tensorflow as tf
    import tensorflow_transform as tft

    with tf.Graph().as_default():
        output = tft.TFTransformOutput(transform_dir)
        x = tf.RaggedTensor.from_row_lengths(
            tf.RaggedTensor.from_row_lengths(tf.constant([0.0, 1.0]), [2]), [1]
        )
        vocabulary = output.vocabulary_by_name(F.CLASSES_VOCABULARY)
        first = vocabulary[0] if vocabulary else b""
        raw = {F.DRAWING_X: x, F.DRAWING_Y: x, F.WORD: tf.constant([first])}
        out = output.transform_raw_features(raw)
        wanted = [out[F.DELTA_MEAN], out[F.DELTA_STD], out[F.LENGTH_QUANTILES]]
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.tables_initializer())
            mean, std, quantiles = session.run(wanted)
    return {
        F.VOCABULARY: [w.decode() for w in vocabulary],
        F.DELTA_MEAN: mean[0].tolist(),
        F.DELTA_STD: std[0].tolist(),
        F.LENGTH_QUANTILES: [round(v) for v in quantiles[0]],
    }
