"""Training throughput: the trainer's input and precision against the tutorial's.

One run, two configurations, the tutorial-size model (3x128 BiLSTM, conv
48/64/96) and the same global batch:

* trainer: `trainer.data` with its defaults: windows of records sorted by
  length bucket (boundaries from the pipeline's tf.Transform statistics),
  augmentation (point dropping included), mixed_float16 when a GPU is
  present;
* baseline: the same records in read order, each batch padded to its
  longest drawing (as the tutorial's input_fn did with `padded_batch`),
  float32, no augmentation.

Data: the 15 big classes of ../shared/quickdraw_sample through `pipeline.main`
(see bench/train_accuracy.py). Prints examples/s for each, the ratio, and the
share of LSTM steps that are padding.

  .venv/bin/python bench/train_throughput.py [--seconds 60] [--batch_size 128]
"""

from __future__ import annotations

import argparse
import json
import time

# A sibling script: Python puts bench/ first on sys.path when it runs this one.
from train_accuracy import OUT, build_records

from drawing import features as F

ROUNDS = 6


def padding_share(ds, batches: int = 50) -> float:
    """Padded steps / all steps over some batches."""
    real = total = 0
    for features, _ in ds.take(batches):
        lengths = features[F.LENGTHS].numpy()
        real += int(lengths.sum())
        total += int(features[F.INK].shape[1]) * len(lengths)
    return 1 - real / total


class Runner:
    """One configuration: its model (in its precision) and its input."""

    def __init__(self, name: str, ds, mixed: bool, num_classes: int) -> None:
        import keras

        from trainer.config import ModelConfig, TrainConfig
        from trainer.model import build_model, compile_model

        keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
        self.name = name
        self.model = build_model(ModelConfig(num_classes=num_classes))
        compile_model(
            self.model,
            num_classes,
            1e-3,
            weight_decay=TrainConfig.weight_decay,
            label_smoothing=TrainConfig.label_smoothing,
        )
        keras.mixed_precision.set_global_policy("float32")
        self.iterator = iter(ds)
        self.steps = 0
        self.seconds = 0.0
        for _ in range(10):  # warm up: tracing for the first few shapes
            self.model.train_on_batch(*next(self.iterator))

    def run_for(self, seconds: float) -> None:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            self.model.train_on_batch(*next(self.iterator))
            self.steps += 1
        self.seconds += time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per config")
    parser.add_argument("--batch_size", type=int, default=128)
    args = parser.parse_args()

    import tensorflow as tf

    from trainer import data as D
    from trainer import statistics
    from trainer.config import InputConfig

    records = build_records(OUT / "train_accuracy")
    transform_dir = str(records / F.TRANSFORM_DIR)
    stats = statistics.load_transform_statistics(transform_dir)
    pattern = f"{records}/{F.TRAIN_PREFIX}-*"
    boundaries, source = statistics.bucket_boundaries(pattern, transform_dir, stats)
    num_classes = len(D.load_classes(f"{records}/{F.CLASSES_FILE}"))
    gpu = bool(tf.config.list_physical_devices("GPU"))

    def trainer_ds():
        config = InputConfig(boundaries=tuple(boundaries))
        return D.make_dataset(pattern, args.batch_size, training=True, config=config)

    def baseline_ds():
        config = InputConfig(bucket=False, augment=False)
        return D.make_dataset(pattern, args.batch_size, training=True, config=config)

    device = tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices()
    print(f"device: {device[0].name}; buckets from {source}: {boundaries}")
    pad_trainer, pad_baseline = (
        padding_share(trainer_ds()),
        padding_share(baseline_ds()),
    )
    print(
        f"padding share of LSTM steps: trainer {pad_trainer:.1%}, "
        f"baseline {pad_baseline:.1%}"
    )
    runners = [
        Runner("trainer", trainer_ds(), gpu, num_classes),
        Runner("baseline", baseline_ds(), False, num_classes),
    ]
    # Alternate short rounds so that both see the same background load.
    for _ in range(ROUNDS):
        for runner in runners:
            runner.run_for(args.seconds / ROUNDS)
    rates = {}
    for r in runners:
        rates[r.name] = r.steps * args.batch_size / r.seconds
        print(
            f"{r.name:9s} {rates[r.name]:9.1f} examples/s "
            f"({r.steps} steps in {r.seconds:.1f} s)"
        )
    trainer, baseline = rates["trainer"], rates["baseline"]
    result = {
        "device": "GPU" if gpu else "CPU",
        "batch_size": args.batch_size,
        "seconds_per_config": args.seconds,
        "trainer_examples_per_s": round(trainer, 1),
        "baseline_examples_per_s": round(baseline, 1),
        "ratio": round(trainer / baseline, 2),
        "padding_share": {
            "trainer": round(pad_trainer, 3),
            "baseline": round(pad_baseline, 3),
        },
        "mixed_precision": gpu,
    }
    print(f"ratio trainer / baseline: {result['ratio']:.2f}x")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "train_throughput.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
