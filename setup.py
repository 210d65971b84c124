"""Packages `drawing`, `pipeline`, `trainer`, `serving` and `tools`; the extras
say who needs what.

- The plain install is what training and serving need, and all that the
  trainer image (Dockerfile) holds: TensorFlow, Keras, tensorboard, numpy,
  orjson, aiohttp (serving.serve), ai-edge-litert (the on-device model that
  every export holds is checked with it, and `serving.predict --engine
  litert` runs it). `[gpu]` adds TensorFlow's CUDA 12 libraries from pip.
- The page's on-device runtime, LiteRT.js, comes from npm (package.json,
  package-lock.json; `make venv` runs `npm ci`), not from here.
- `[pipeline]` adds Apache Beam and tf.Transform. Dataflow workers install
  this package from `--setup_file ./setup.py`, which cannot name an extra, so
  `pipeline.main` hands them this extra as a requirements file, read from the
  installed package's metadata: the pins below stay the one source of truth.
- `[vertex]` submits training to Vertex AI; `[viz]` draws the pictures;
  `[dev]` is everything, for `make`.
"""

from setuptools import find_packages, setup

TENSORFLOW = "tensorflow==2.21.*"

REQUIRED = [
    TENSORFLOW,
    # trainer.distribute patches Keras internals for multi-worker training
    # (keras-team/keras#20329, #20585); it was written for this minor version.
    "keras==3.15.*",
    # TF 2.21 no longer installs it; Keras' TensorBoard callback needs it.
    "tensorboard==2.21.*",
    "numpy",
    "orjson",
    # serving.serve: the drawing page and the TF Serving-style REST API.
    "aiohttp>=3.9,<4",
    # The LiteRT interpreter (tf.lite.Interpreter is deprecated): the export
    # checks its on-device model, serving.predict --engine litert runs it.
    "ai-edge-litert==2.3.*",
]

EXTRAS = {
    "gpu": [TENSORFLOW.replace("tensorflow", "tensorflow[and-cuda]", 1)],
    "pipeline": [
        "apache-beam[gcp]==2.77.*",
        "tensorflow-transform==1.21.*",
        # The encoder frames its TFRecord shards itself (pipeline.records); Beam
        # uses the same C CRC-32C when it is installed, as [gcp] installs it.
        "google-crc32c",
        # The Dataflow launcher: Beam builds the workers' sdist of --setup_file
        # with `python -m build --no-isolation` when it is installed, and
        # otherwise prints "No module named build" and falls back.
        "build",
    ],
    "vertex": ["google-cloud-aiplatform>=1.26,<2"],
    "viz": ["matplotlib"],
}
EXTRAS["test"] = [
    *EXTRAS["pipeline"],
    *EXTRAS["vertex"],
    *EXTRAS["viz"],
    "pytest",
    # `make test` runs two test processes: the suite waits on its product
    # subprocesses about half the time.
    "pytest-xdist",
    "gcp-storage-emulator",
    "pyyaml",
    # Property-based tests of the parsers.
    "hypothesis",
    # The browser test of the drawing page drives Debian's /usr/bin/chromium.
    "playwright",
]
EXTRAS["dev"] = [*EXTRAS["test"], "ruff"]

setup(
    name="quickdraw-rnn",
    version="0.1.0",
    description="Quick, Draw! sketch classifiers: Beam pipeline, Keras trainer, server",
    python_requires=">=3.11,<3.12",
    packages=find_packages(
        include=["drawing", "pipeline", "trainer", "serving", "tools"]
    ),
    # serving.serve's drawing page, installed beside the code (and in the image).
    package_data={"serving": ["static/*"]},
    install_requires=REQUIRED,
    extras_require=EXTRAS,
)
