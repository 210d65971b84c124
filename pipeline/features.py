"""The record contract shared by the pipeline, the trainer and the tests.

The names follow the TensorFlow tutorial's `create_dataset.py`, so that its
`train_model.py` and the published `quickdraw_tutorial_dataset_v1` shards stay
interchangeable with ours. Nothing here imports Beam or TensorFlow.
"""

from __future__ import annotations

# tf.train.Example feature keys written by the pipeline.
INK = "ink"  # float list, (N-1) x 3 row-major: dx, dy, pen-up bit of the later point
SHAPE = "shape"  # int64 [N-1, 3]
CLASS_INDEX = "class_index"  # int64 [1], index into the classes file
KEY_ID = "key_id"  # bytes, the drawing's key_id: every record traces back to it
WORD = "word"  # bytes, the class name, for people reading records
COUNTRYCODE = "countrycode"  # bytes, may be empty
RECOGNIZED = "recognized"  # int64 [1], 1 when the game recognised the drawing

INK_CHANNELS = 3

# Output layout, identical to the tutorial's file names.
TRAIN_PREFIX = "training.tfrecord"
EVAL_PREFIX = "eval.tfrecord"
CLASSES_FILE = "training.tfrecord.classes"
STATS_FILE = "stats.json"
ERRORS_DIR = "errors"
TRANSFORM_DIR = "transform"
SUCCESS_FILE = "_SUCCESS"

TRAIN = "train"
EVAL = "eval"
SPLITS = (TRAIN, EVAL)
SPLIT_PREFIX = {TRAIN: TRAIN_PREFIX, EVAL: EVAL_PREFIX}
