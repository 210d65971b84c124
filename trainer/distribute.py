"""Where this process sits in a training job, and how it distributes.

One worker with several GPUs uses MirroredStrategy; a `TF_CONFIG` naming more
than one task (Vertex AI sets it for multi-replica jobs) uses
MultiWorkerMirroredStrategy. Multi-worker `fit` needs a workaround for two
Keras bugs, applied by `patch_keras_for_multi_worker` and nowhere else.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

# The Keras minor version the workaround was written and tested against;
# setup.py pins keras to it, and tests/trainer/test_distribute.py holds the
# two equal and checks that this Keras still has the bug.
KERAS_WORKAROUND_FOR = "3.15"
_KERAS_ISSUES = "keras-team/keras#20329 and #20585"


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Where this process sits in the job, as TF_CONFIG describes it."""

    num_workers: int
    task_type: str
    task_index: int
    has_chief: bool = False

    @property
    def worker_index(self) -> int:
        """0..num_workers-1 over chief and workers, the chief first."""
        return self.task_index + (
            1 if self.task_type == "worker" and self.has_chief else 0
        )

    @property
    def is_chief(self) -> bool:
        """The task that writes reports and exports: "chief", else worker 0."""
        return self.task_type == "chief" or (
            self.task_type == "worker" and self.task_index == 0 and not self.has_chief
        )


def read_cluster() -> Cluster:
    """This process's place, from TF_CONFIG; a lone chief without one."""
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    jobs = resolver.cluster_spec().as_dict()
    return Cluster(
        num_workers=max(1, len(jobs.get("chief", [])) + len(jobs.get("worker", []))),
        task_type=resolver.task_type or "chief",
        task_index=int(resolver.task_id or 0),
        has_chief=bool(jobs.get("chief")),
    )


def make_strategy(cluster: Cluster) -> tf.distribute.Strategy:
    """MultiWorkerMirrored for a multi-task TF_CONFIG, Mirrored for several
    local GPUs, else the default strategy. Must run before other TF work."""
    if cluster.num_workers > 1:
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=tf.distribute.cluster_resolver.TFConfigClusterResolver()
        )
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _keras_internals():
    """The Keras internals the workaround replaces, or a RuntimeError that says
    what to do when this Keras no longer has them."""
    problem = ""
    try:
        from keras.src import tree
        from keras.src.backend.tensorflow import trainer as tf_trainer
    except ImportError as err:
        problem = str(err)
    else:
        missing = [
            name
            for owner, name in (
                (tf_trainer, "reduce_per_replica"),
                (keras.Model, "_symbolic_build"),
                (keras.Model, "_maybe_symbolic_build"),
            )
            if not hasattr(owner, name)
        ]
        if not missing:
            return tree, tf_trainer
        problem = f"it has no {', '.join(missing)}"
    raise RuntimeError(
        f"multi-worker training needs a workaround for {_KERAS_ISSUES}, written "
        f"for Keras {KERAS_WORKAROUND_FOR}, but the Keras internals it patches "
        f"changed in Keras {keras.__version__} ({problem}). Install "
        f"keras=={KERAS_WORKAROUND_FOR}.* as setup.py pins it, or, if this Keras "
        "fixed both bugs, remove the workaround from trainer/distribute.py."
    )


def patch_keras_for_multi_worker(
    model: keras.Model, strategy: tf.distribute.Strategy, dataset: tf.data.Dataset
) -> None:
    """Works around Keras 3's broken `fit` under MultiWorkerMirroredStrategy.

    Two bugs (keras-team/keras#20329, #20585), both in the Keras that setup.py
    pins (`KERAS_WORKAROUND_FOR`):

    * `fit` first all-reduces a real batch only to learn its shapes; that fails
      on dict inputs, and could not work with bucketing anyway (each worker's
      batch has its own padded length). We build the metrics, loss and
      optimizer from the dataset's element spec instead and skip that step.
    * The per-step loss and metric values are averaged across workers with
      `strategy.reduce("MEAN", v, axis=0)`, which rejects scalars. We average
      them with `axis=None`, which is what was meant.

    Call it for multi-worker jobs only; single-worker training needs neither.

    Raises:
      RuntimeError: if the Keras internals it replaces are missing or renamed.
    """
    tree, tf_trainer = _keras_internals()
    with strategy.scope():
        model._symbolic_build(data_batch=dataset.element_spec)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None

    original = tf_trainer.reduce_per_replica
    if getattr(original, "patched_for_multi_worker", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):
            return tree.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None), values
            )
        return original(values, strategy, reduction)

    reduce_per_replica.patched_for_multi_worker = True
    tf_trainer.reduce_per_replica = reduce_per_replica
