"""Packages `pipeline`, `trainer` and `tools` for local use, Dataflow and Vertex AI.

Dataflow installs this file on every worker (``--setup_file ./setup.py``) and
Vertex AI runs the trainer from the sdist that ``trainer.submit`` builds from it,
so the pins here are the single source of truth for the stack.
"""

from setuptools import find_packages, setup

REQUIRED = [
    "apache-beam[gcp]==2.77.*",
    "tensorflow==2.21.*",
    "tensorflow-transform==1.21.*",
    # trainer.distribute patches Keras internals for multi-worker training
    # (keras-team/keras#20329, #20585); it was written for this minor version.
    "keras==3.15.*",
    "numpy",
    "orjson",
    # TF 2.21 no longer installs it; Keras' TensorBoard callback needs it.
    "tensorboard==2.21.*",
]

EXTRAS = {
    # Pictures for people: data grids, histograms, training curves, confusion.
    "viz": ["matplotlib"],
    "test": ["pytest", "gcp-storage-emulator", "matplotlib"],
    "dev": ["ruff", "pytest", "gcp-storage-emulator", "matplotlib"],
}

setup(
    name="quickdraw-rnn",
    version="0.1.0",
    description="Quick, Draw! sketch classifier: Beam preprocessing and Keras trainer",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["pipeline", "trainer", "tools"]),
    install_requires=REQUIRED,
    extras_require=EXTRAS,
)
