"""GPU check: what to run first on a new GPU machine, all figures in one run.

For the default model (`trainer.config.ModelConfig`: 3x128 BiLSTM, conv
48/64/96) at each batch size (128, 512, 1024), in float32 and in
mixed_float16, it prints examples/s of training fed by the trainer's own
input (`trainer.data` with the trainer's defaults: length buckets,
augmentation), the input pipeline alone at that batch size (and per host
core), and each step's time split into waiting for the input and computing.
It says whether a GPU was found and whether the LSTMs run cuDNN's kernel.
On a machine without a GPU it runs the same steps, fewer of them by default,
and says that the figures are CPU ones; there it leaves mixed_float16 out
unless --mixed_on_cpu (float16 is emulated on CPU: 48 s a step at batch 128
on 2 vCPUs, against 3.4 s in float32).

Data: synthetic drawings written as the pipeline's records into a temporary
folder, or --data, a glob of real shards (`pipeline.main`'s output).

  .venv/bin/python bench/gpu_check.py [--steps 20] [--batch_sizes 128,512,1024]
      [--mixed_on_cpu]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from drawing import features as F

NUM_CLASSES = 345  # the full dataset's, so the output layer is realistic
RECORDS = 8192


def write_records(folder: Path, records: int = RECORDS, shards: int = 8) -> str:
    """Synthetic drawings (10 to 150 points, strokes of ~15) as the pipeline's
    training records; returns their glob."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for shard in range(shards):
        path = folder / f"{F.TRAIN_PREFIX}-{shard:05d}-of-{shards:05d}"
        with tf.io.TFRecordWriter(str(path)) as writer:
            for _ in range(records // shards):
                n = int(rng.integers(10, 150))
                ink = np.zeros((n, 3), np.float32)
                ink[:, :2] = rng.normal(0, 0.05, (n, 2))
                ink[rng.integers(0, n, max(1, n // 15)), 2] = 1
                ink[-1, 2] = 1
                feature = {
                    F.INK: tf.train.Feature(
                        float_list=tf.train.FloatList(value=ink.ravel())
                    ),
                    F.SHAPE: tf.train.Feature(
                        int64_list=tf.train.Int64List(value=[n, 3])
                    ),
                    F.CLASS_INDEX: tf.train.Feature(
                        int64_list=tf.train.Int64List(
                            value=[int(rng.integers(NUM_CLASSES))]
                        )
                    ),
                }
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                writer.write(example.SerializeToString())
    return str(folder / f"{F.TRAIN_PREFIX}-*")


def dataset(pattern: str, batch_size: int):
    """The trainer's input with its defaults (`trainer.config.InputConfig`)."""
    from trainer import data as D
    from trainer.config import InputConfig

    return D.make_dataset(pattern, batch_size, True, InputConfig(seed=0))


def input_alone(pattern: str, batch_size: int, seconds: float = 5.0) -> float:
    """Examples/s of the input pipeline with nothing consuming it, over
    `seconds` after as long a warm-up (it makes a window of batches at a
    time: a few batches would only time the ones already made)."""
    it = iter(dataset(pattern, batch_size))
    rates = []
    for _ in range(2):  # warm-up, then the measure
        made, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            made += len(next(it)[1])
        rates.append(made / (time.perf_counter() - start))
    return rates[-1]


def train_steps(pattern: str, batch_size: int, mixed: bool, steps: int, warmup: int):
    """(examples/s, input seconds per step, compute seconds per step, the
    kernels line) of the default model trained on the trainer's input."""
    import keras

    from trainer.config import ModelConfig, TrainConfig
    from trainer.model import build_model, compile_model
    from trainer.speed import kernels

    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    model = build_model(ModelConfig(num_classes=NUM_CLASSES))
    compile_model(
        model,
        NUM_CLASSES,
        1e-3,
        weight_decay=TrainConfig.weight_decay,
        label_smoothing=TrainConfig.label_smoothing,
    )
    keras.mixed_precision.set_global_policy("float32")
    it = iter(dataset(pattern, batch_size))
    # Tracing: Keras traces the step for the first two batch shapes, then
    # once for any length; timed steps must not include it.
    for _ in range(warmup):
        model.train_on_batch(*next(it))
    waited = computed = 0.0
    for _ in range(steps):
        start = time.perf_counter()
        batch = next(it)
        got = time.perf_counter()
        model.train_on_batch(*batch)  # returns numbers: the step has finished
        waited += got - start
        computed += time.perf_counter() - got
    rate = steps * batch_size / (waited + computed)
    return rate, waited / steps, computed / steps, kernels(model, mixed, "on")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps", type=int, default=0, help="timed steps per configuration "
        "(default: 20 on a GPU, 1 on CPU)"
    )  # fmt: skip
    parser.add_argument(
        "--warmup", type=int, default=0,
        help="untimed steps first, for tracing (default: 5 on a GPU, 2 on CPU)",
    )  # fmt: skip
    parser.add_argument("--batch_sizes", default="128,512,1024")
    parser.add_argument("--data", default="", help="glob of real training shards")
    parser.add_argument(
        "--mixed_on_cpu", action="store_true", help="also mixed_float16 without a GPU"
    )
    args = parser.parse_args()

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    steps = args.steps or (20 if gpus else 1)
    warmup = args.warmup or (5 if gpus else 2)
    precisions = (False, True) if gpus or args.mixed_on_cpu else (False,)
    if gpus:
        print(f"device: {len(gpus)} GPU(s): {', '.join(g.name for g in gpus)}")
    else:
        print("device: CPU only, no GPU found: these are CPU figures, not a GPU's")
    with tempfile.TemporaryDirectory() as tmp:
        pattern = args.data or write_records(Path(tmp))
        print(f"data: {args.data or 'synthetic drawings'}; {steps} timed steps "
              f"after {warmup} untimed per configuration")  # fmt: skip
        header = (
            f"{'batch':>5}  {'precision':<13} {'train ex/s':>10}  "
            f"{'input alone ex/s':>16}  {'step ms':>8}  {'input ms':>8}  "
            f"{'compute ms':>10}  {'input share':>11}"
        )
        print(header)
        lines, alone_rates = set(), {}
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            alone = alone_rates[batch_size] = input_alone(pattern, batch_size)
            for mixed in precisions:
                rate, wait, compute, line = train_steps(
                    pattern, batch_size, mixed, steps, warmup
                )
                lines.add(line.split(";")[0])
                precision = "mixed_float16" if mixed else "float32"
                print(
                    f"{batch_size:>5}  {precision:<13} {rate:>10.0f}  "
                    f"{alone:>16.0f}  {(wait + compute) * 1e3:>8.0f}  "
                    f"{wait * 1e3:>8.1f}  {compute * 1e3:>10.0f}  "
                    f"{wait / (wait + compute):>11.0%}",
                    flush=True,
                )
        for line in sorted(lines):
            print(line)
        cores = len(os.sched_getaffinity(0))
        print(
            f"input alone on {cores} host cores: "
            + ", ".join(
                f"{rate / cores:.0f} examples/s per core at batch {batch}"
                for batch, rate in alone_rates.items()
            )
        )
        if len(precisions) == 1:
            print("mixed_float16: left out on CPU (--mixed_on_cpu runs it)")


if __name__ == "__main__":
    main()
