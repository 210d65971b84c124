"""tensorflow_transform switches tf.keras to tf_keras; the trainer must not care."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_trainer_modules_do_not_import_tensorflow_transform():
    out = _run(
        """
        import sys
        import trainer.augment, trainer.callbacks, trainer.config, trainer.data
        import trainer.distribute, trainer.evaluate, trainer.export, trainer.model
        import serving.predict, trainer.statistics, trainer.submit, trainer.task
        print("tensorflow_transform" in sys.modules)
        """
    )
    assert out.strip() == "False"


def test_trainer_builds_a_keras_3_model_after_tft_was_imported():
    out = _run(
        """
        import os
        import tensorflow_transform  # sets TF_USE_LEGACY_KERAS=1
        import keras
        from trainer import config, model
        m = model.build_model(config.ModelConfig(num_classes=5, num_nodes=8,
                                                 num_layers=1))
        print(os.environ.get("TF_USE_LEGACY_KERAS"), keras.__version__,
              isinstance(m, keras.Model), type(m).__module__)
        """
    )
    legacy, version, is_keras3, module = out.split()
    assert legacy == "1"  # the trap is really set ...
    assert version.startswith("3.")  # ... and the trainer still uses Keras 3
    assert is_keras3 == "True"
    assert module.startswith("keras")
