"""The product's commands as the tests run them, and the models they train.

Every command runs as a subprocess from this checkout (`run_module`), as users
run it: what a test process imported (tf.Transform switches tf.keras to the
legacy Keras) cannot reach it. The fixtures that train models from these
helpers are in `tests/conftest.py`.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson
import pytest

from drawing import features as F

REPO = Path(__file__).resolve().parents[1]
# The sample model: the first SAMPLE_SEEN lines of each big class go through
# the pipeline (90% train, 10% eval); the rest are never seen. About a minute
# of pipeline and a minute and a half of training on 2 busy cores (~51% top-1).
SAMPLE_SEEN = 400
SAMPLE_MODEL = [
    "--num_layers=1",
    "--num_nodes=32",
    "--num_conv=[32, 48]",
    "--conv_len=[5, 3]",
    "--batch_size=64",
    "--steps=500",
    "--eval_every=500",
    "--warmup_steps=50",
]
TINY_MODEL = [
    "--num_layers=1",
    "--num_nodes=16",
    "--num_conv=[16]",
    "--conv_len=[5]",
    "--batch_size=32",
    "--learning_rate=0.01",
    "--warmup_steps=10",
    "--export_top_k=3",
]


def product_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the product's commands run in, from this checkout."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in ("TF_CONFIG", "TF_USE_LEGACY_KERAS"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def run_module(args: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """`python -m ARGS` in a subprocess; its output is shown when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=product_env(env),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.fail(f"python -m {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def cloud_dry_run(module: str, *flags: str) -> dict:
    """Runs `python -m MODULE --dry-run ...` in a fresh interpreter and returns
    the spec it prints: a dry run must need no cloud library or TF."""
    code = (
        f"import sys, runpy; sys.argv[0] = {module!r};"
        f"runpy.run_module({module!r}, run_name='__main__');"
        "assert 'google.cloud.aiplatform' not in sys.modules;"
        "assert 'tensorflow' not in sys.modules"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *flags],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    return orjson.loads(out.stdout)


def train_and_export(data: Path, out: Path, *extra: str) -> Path:
    """trainer.task on `data` (a pipeline-style output dir); returns the export.

    A subprocess, as users run it: whatever this test process imported
    (tf.Transform switches tf.keras to legacy Keras) cannot reach the trainer.
    """
    export = out / "export"
    run_module(
        [
            "trainer.task",
            f"--training_data={data}/{F.TRAIN_PREFIX}-*",
            f"--eval_data={data}/{F.EVAL_PREFIX}-*",
            f"--model_dir={out / 'model'}",
            f"--export_dir={export}",
            *extra,
        ]
    )
    assert (export / "saved_model.pb").exists()
    return export


@dataclasses.dataclass(frozen=True)
class SampleModel:
    """A model of the sample's big classes, and the lines it never saw."""

    export: Path
    unseen: dict[str, list[bytes]]  # class -> lines neither trained nor evaluated
