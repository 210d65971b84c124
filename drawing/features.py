"""The record contract: every key and file name that crosses a module boundary.

The pipeline writes these names, tf.Transform reads and writes them, the trainer
and the served model read them, and the tools and tests look them up here
rather than spelling them again. The names follow the TensorFlow tutorial's
`create_dataset.py`, so that its `train_model.py` and the published
`quickdraw_tutorial_dataset_v1` shards stay interchangeable with ours.
Nothing here imports Beam or TensorFlow.
"""

from __future__ import annotations

# Fields of a Quick, Draw! ndjson line that the pipeline reads.
WORD = "word"  # the class name
KEY_ID = "key_id"  # the drawing's id: every record traces back to it
RECOGNIZED = "recognized"  # whether the game recognised the drawing
DRAWING = "drawing"  # strokes, each [xs, ys] (or [xs, ys, ts] in the raw format)

# The training record (tf.train.Example) the pipeline writes, the tutorial's.
INK = "ink"  # float list, (N-1) x INK_CHANNELS row-major
INK_CHANNELS = 3  # dx, dy, pen-up bit of the later point
SHAPE = "shape"  # int64 [N-1, INK_CHANNELS]
CLASS_INDEX = "class_index"  # int64 [1], line number in the classes file
# ... plus KEY_ID (bytes) and RECOGNIZED (int64 [1]), which the tutorial lacks.

# The raw drawing (tf.train.Example) that tf.Transform analyses and the served
# model's `predict_example` takes: every point of every stroke in drawing order
# (float lists), the points per stroke (int64 list), and WORD (bytes).
DRAWING_X = "drawing_x"
DRAWING_Y = "drawing_y"
STROKE_LENGTHS = "stroke_lengths"

# What tf.Transform's preprocessing_fn returns: INK (ragged), CLASS_INDEX and
LENGTH = "length"  # rows of ink
DELTA_MEAN = "delta_mean"  # [2]: mean dx, dy over the analysed training points
DELTA_STD = "delta_std"  # [2]
LENGTH_QUANTILES = "length_quantiles"  # the trainer's length bucket boundaries
CLASSES_VOCABULARY = "classes"  # its vocabulary file in transform_fn/assets
# stats.json holds the same statistics, and the vocabulary, under TRANSFORM_STATS.
TRANSFORM_STATS = "transform"
VOCABULARY = "vocabulary"

# The model's inputs: INK, right-padded dense [B, T, INK_CHANNELS], and
LENGTHS = "lengths"  # int32 [B], valid rows per drawing

# Beside an export's classes (assets.extra/): the game's recognition threshold,
# which the trainer chooses on the eval set and the server serves.
RECOGNITION_FILE = "recognition.json"
THRESHOLD = "threshold"

# Output layout of the pipeline, identical to the tutorial's file names.
TRAIN_PREFIX = "training.tfrecord"
EVAL_PREFIX = "eval.tfrecord"
CLASSES_FILE = "training.tfrecord.classes"
STATS_FILE = "stats.json"
ERRORS_DIR = "errors"
TRANSFORM_DIR = "transform"
SUCCESS_FILE = "_SUCCESS"
# A run writes everything here first (OUTPUT/.incoming/) and moves it into
# place only once the whole new dataset exists (`pipeline.staging`).
STAGING_DIR = ".incoming"

TRAIN = "train"
EVAL = "eval"
SPLITS = (TRAIN, EVAL)
SPLIT_PREFIX = {TRAIN: TRAIN_PREFIX, EVAL: EVAL_PREFIX}


def parse_classes(text: str) -> list[str]:
    """The class names in a classes file's text; the line number is the class_index.

    Blank lines at the end are dropped (an editor's trailing newline must not
    add a class); anywhere else a line keeps its place, so indices never shift.
    """
    names = [line.rstrip("\r") for line in text.split("\n")]
    while names and not names[-1].strip():
        names.pop()
    return names
