"""Where a process sits in a job, and the multi-worker Keras workaround."""

from __future__ import annotations

import inspect
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.backend.tensorflow import trainer as tf_trainer

from tests.product import REPO
from trainer import distribute
from trainer.config import ModelConfig
from trainer.model import build_model


def test_cluster_from_tf_config(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        '{"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},'
        ' "task": {"type": "worker", "index": 1}}',
    )
    cluster = distribute.read_cluster()
    assert (cluster.num_workers, cluster.worker_index, cluster.is_chief) == (
        3,
        2,
        False,
    )
    monkeypatch.setenv(
        "TF_CONFIG",
        '{"cluster": {"chief": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
    )
    cluster = distribute.read_cluster()
    assert (cluster.num_workers, cluster.is_chief) == (1, True)
    monkeypatch.delenv("TF_CONFIG")
    assert distribute.read_cluster().is_chief


def _owner(cls: type, name: str) -> type:
    """The class in `cls`'s MRO that defines `name`."""
    return next(c for c in cls.__mro__ if name in vars(c))


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (tf_trainer, "reduce_per_replica"),
        (_owner(keras.Model, "_symbolic_build"), "_symbolic_build"),
        (_owner(keras.Model, "_maybe_symbolic_build"), "_maybe_symbolic_build"),
    ],
)
def test_workaround_fails_loudly_when_the_keras_internals_changed(
    monkeypatch, owner, name
):
    model = build_model(ModelConfig(num_classes=3, num_layers=1, num_nodes=4))
    dataset = tf.data.Dataset.from_tensors(
        ({"ink": np.zeros((2, 5, 3), np.float32), "lengths": np.ones(2, np.int32)},
         np.zeros(2, np.int64))
    )  # fmt: skip
    original = tf_trainer.reduce_per_replica
    monkeypatch.delattr(owner, name)
    with pytest.raises(RuntimeError) as raised:
        distribute.patch_keras_for_multi_worker(
            model, tf.distribute.get_strategy(), dataset
        )
    message = str(raised.value)
    assert "keras-team/keras#20329" in message and name in message
    assert f"keras=={distribute.KERAS_WORKAROUND_FOR}.*" in message
    # Nothing was patched on the way to the error.
    monkeypatch.undo()
    assert tf_trainer.reduce_per_replica is original


def test_the_workaround_is_for_the_pinned_keras_which_still_has_the_bug():
    """When setup.py's pin moves, this says to check keras-team/keras#20329 and
    #20585 on the new Keras, and to drop the workaround once both are fixed."""
    pinned = re.search(r'"keras==(\d+\.\d+)\.\*"', (REPO / "setup.py").read_text())
    assert pinned and pinned[1] == distribute.KERAS_WORKAROUND_FOR
    assert keras.__version__.startswith(f"{distribute.KERAS_WORKAROUND_FOR}.")
    # #20585: a multi-worker "mean" is reduced along axis 0, which scalars lack.
    # The module's source, not the function: a multi-worker run patches it.
    assert 'strategy.reduce("MEAN", v, axis=0)' in inspect.getsource(tf_trainer)
