"""trainer.task end to end on tiny synthetic records: training, export,
prediction, preemption and multi-worker runs. Everything runs on CPU with a
model small enough that the whole file takes a couple of minutes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from drawing import features as F
from tests.product import product_env
from tests.synthetic import CLASSES, draw, ndjson_line, to_ink, write_records
from trainer import config as C

REPO = Path(__file__).resolve().parents[2]
TINY_MODEL = [
    "--num_layers=1",
    "--num_nodes=16",
    "--num_conv=[16, 16]",
    "--conv_len=[5, 3]",
    "--dropout=0.1",
    "--batch_size=32",
    "--learning_rate=0.01",
    "--warmup_steps=10",
    "--label_smoothing=0",
    "--export_top_k=3",
]


def flags(data: Path, model_dir: Path, *extra: str) -> list[str]:
    return [
        f"--training_data={data}/{F.TRAIN_PREFIX}-*",
        f"--eval_data={data}/{F.EVAL_PREFIX}-*",
        f"--model_dir={model_dir}",
        *TINY_MODEL,
        *extra,
    ]


def run_task(args: list[str], env: dict | None = None, stdout=subprocess.PIPE):
    return subprocess.Popen(
        [sys.executable, "-m", "trainer.task", *args],
        cwd=REPO,
        env=product_env(env),
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_records(tmp_path_factory.mktemp("records"), train=480, evals=120)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> Path:
    """One tiny in-process training run shared by the tests that need a model."""
    from trainer import task

    model_dir = tmp_path_factory.mktemp("model")
    task.train(
        C.parse_args(flags(dataset, model_dir, "--steps=150", "--eval_every=50"))
    )
    return model_dir


def test_epochs_become_steps_by_counting_records(dataset, tmp_path):
    from trainer import task

    config = C.parse_args(flags(dataset, tmp_path, "--epochs=2.5"))
    assert task.total_steps(config) == 38  # ceil(2.5 * 480 / 32)


# --------------------------------------------------------------------------
# Training, report, export, prediction.


@pytest.mark.slow
def test_tiny_training_run_learns(trained):
    report = json.loads((trained / "eval_report.json").read_text())
    assert report["global_step"] == 150
    assert report["num_examples"] == 120
    assert report["top1"] > 0.8, report  # chance is 0.25
    assert report["top3"] >= report["top1"]
    assert report["top1"] <= report["map3"] <= report["top3"]
    assert set(report["per_class"]) == set(CLASSES)
    recognition = report["recognition"]
    assert recognition["target_met"] and recognition["precision"] >= 0.95
    assert 0 < recognition["threshold"] < 1 and recognition["recognized"] > 0.5
    served = json.loads((trained / "export/assets.extra/recognition.json").read_text())
    assert served["threshold"] == recognition["threshold"]
    drawing = recognition["while_drawing"]
    assert drawing["drawings"] == 120
    curve = list(drawing["curve"].values())
    assert len(curve) == 10 and curve == sorted(curve)
    # The prefixes end with each drawing whole (an earlier one may pass alone).
    assert curve[-1] >= recognition["recognized"] - 1e-6
    assert 0 < drawing["median_points_needed"] <= 1
    assert {c["class"] for c in drawing["latest_classes"]} <= set(CLASSES)
    history = json.loads((trained / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert [h["step"] for h in history] == [50, 100, 150]
    assert {"loss", "top1", "top3", "map3", "val_top1"} <= set(history[-1])
    assert list((trained / "checkpoints").glob("epoch-0003.weights.h5"))


@pytest.mark.slow
def test_export_round_trip_with_ndjson_and_a_bad_line(trained, tmp_path):
    from serving import predict

    rng = np.random.default_rng(7)
    labels = [i % len(CLASSES) for i in range(40)]
    lines = [ndjson_line(draw(y, rng), y, f"k{i}") for i, y in enumerate(labels)]
    lines.insert(3, '{"word": "circle", "key_id": "bad", "drawing": [[[1, 2], [3]]]}')
    lines.insert(5, "this is not json")
    # Finite coordinates whose span overflows float32: NaN ink, so not usable.
    lines.insert(7, '{"key_id": "huge", "drawing": [[[3e38, -3e38], [0, 1]]]}')
    predictor = predict.load(trained / "export")
    results = predictor.predict(lines, k=2)
    assert len(results) == len(lines)
    assert "error" in results[3] and results[3]["key_id"] == "bad"
    assert "error" in results[5]
    assert "error" in results[7] and results[7]["key_id"] == "huge"
    good = [r for i, r in enumerate(results) if i not in (3, 5, 7)]
    assert [r["key_id"] for r in good] == [f"k{i}" for i in range(40)]
    assert all(len(r["top_k"]) == 2 for r in good)
    top1 = [r["top_k"][0]["class"] for r in good]
    accuracy = np.mean([t == CLASSES[y] for t, y in zip(top1, labels, strict=True)])
    assert accuracy > 0.8
    for r in good:
        p = [c["probability"] for c in r["top_k"]]
        assert p == sorted(p, reverse=True) and 0 < sum(p) <= 1 + 1e-5

    # The CLI prints the same, one JSON line per input line.
    path = tmp_path / "drawings.ndjson"
    path.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "serving.predict",
            "--model",
            str(trained / "export"),
            "--k=2",
            str(path),
        ],
        cwd=REPO,
        env=product_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert [json.loads(o) for o in out] == [
        {**r, "line": i + 1} if "error" in r else r for i, r in enumerate(results)
    ]


@pytest.mark.slow
def test_exported_signatures_agree(trained, dataset):
    """ndjson lines, raw tf.Examples and pre-encoded ink give the same answer."""
    loaded = tf.saved_model.load(str(trained / "export"))
    rng = np.random.default_rng(3)
    drawings = [draw(i % len(CLASSES), rng) for i in range(6)]
    lines = [ndjson_line(d, 0, str(i)) for i, d in enumerate(drawings)]
    by_line = loaded.signatures["serving_default"](lines=tf.constant(lines))
    examples = []
    for d in drawings:
        feature = {
            F.DRAWING_X: tf.train.Feature(
                float_list=tf.train.FloatList(value=np.concatenate(d)[:, 0])
            ),
            F.DRAWING_Y: tf.train.Feature(
                float_list=tf.train.FloatList(value=np.concatenate(d)[:, 1])
            ),
            F.STROKE_LENGTHS: tf.train.Feature(
                int64_list=tf.train.Int64List(value=[len(s) for s in d])
            ),
        }
        examples.append(
            tf.train.Example(
                features=tf.train.Features(feature=feature)
            ).SerializeToString()
        )
    by_example = loaded.predict_example(tf.constant(examples))
    inks = [to_ink(d) for d in drawings]
    padded = np.zeros((len(inks), max(map(len, inks)), 3), np.float32)
    for i, ink in enumerate(inks):
        padded[i, : len(ink)] = ink
    by_ink = loaded.predict_ink(padded, np.array([len(i) for i in inks], np.int32))
    for other in (by_example, by_ink):
        np.testing.assert_array_equal(other["classes"], by_line["classes"])
        np.testing.assert_allclose(
            other["probabilities"], by_line["probabilities"], atol=1e-5
        )
    assert by_line["key_id"].numpy().tolist() == [str(i).encode() for i in range(6)]


@pytest.mark.slow
def test_trains_on_the_pipelines_output_with_its_transform(tmp_path, caplog):
    """pipeline.main's records, classes file and tf.Transform output feed the
    trainer as they are; the bucket boundaries come from the transform."""
    from pipeline import main as pipeline_main
    from trainer import task

    rng = np.random.default_rng(11)
    raw = tmp_path / "ndjson"
    raw.mkdir()
    for label, name in enumerate(CLASSES):
        lines = [
            ndjson_line(draw(label, rng), label, f"{label}{i:04d}") for i in range(30)
        ]
        (raw / f"{name}.ndjson").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert (
        pipeline_main.main(
            [
                "--input",
                str(raw),
                "--output",
                str(out),
                "--train_per_class",
                "0",
                "--eval_per_class",
                "0",
                "--runner=FnApiRunner",
            ]
        )
        == 0
    )
    stats = json.loads((out / F.STATS_FILE).read_text())
    model_dir = tmp_path / "model"
    with caplog.at_level("INFO", logger="trainer"):
        report = task.train(
            C.parse_args(
                flags(
                    out,
                    model_dir,
                    "--steps=10",
                    "--eval_every=10",
                    f"--transform_dir={out / F.TRANSFORM_DIR}",
                )
            )
        )
    expected = sorted({v for v in stats["transform"]["length_quantiles"] if v >= 2})
    assert f"length buckets from tf.Transform statistics: {expected}" in caplog.text
    assert report["num_examples"] == stats["written"][F.EVAL]
    assert sorted(report["per_class"]) == sorted(CLASSES)
    assert (model_dir / "export" / "saved_model.pb").exists()


# --------------------------------------------------------------------------
# Preemption and multi-worker runs, in subprocesses.


@pytest.mark.slow
def test_resumes_after_being_killed(dataset, tmp_path):
    model_dir = tmp_path / "model"
    args = flags(dataset, model_dir, "--steps=200", "--eval_every=20", "--eval_steps=1")
    backup = model_dir / "backup" / "chief-0" / "training_metadata.json"
    # Its output goes to a file: nobody reads a pipe while it runs.
    log = (tmp_path / "first.log").open("w")
    first = run_task(args, stdout=log)

    def backed_up_epoch() -> int:
        try:
            return json.loads(backup.read_text())["epoch"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return 0  # not written yet, or caught mid-write

    # Wait on the condition: a backup taken after at least one period.
    while backed_up_epoch() < 1:
        assert first.poll() is None, (tmp_path / "first.log").read_text()
        time.sleep(0.05)  # polling interval, not a stand-in for the condition
    first.send_signal(signal.SIGKILL)
    first.wait()
    log.close()
    assert first.returncode == -signal.SIGKILL
    killed_at = backed_up_epoch()
    assert 1 <= killed_at < 10, "the first run was not killed part-way"

    second = run_task(args)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    line = next(x for x in output.splitlines() if "training starts at epoch" in x)
    started = int(line.split("epoch ")[1].split(",")[0])
    step = int(line.split("step ")[1])
    assert started >= killed_at and step == started * 20
    report = json.loads((model_dir / "eval_report.json").read_text())
    assert report["global_step"] == 200
    history = json.loads((model_dir / "history.json").read_text())
    assert [h["epoch"] for h in history] == list(range(10))
    assert [h["step"] for h in history] == [20 * (e + 1) for e in range(10)]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_from_tf_config(dataset, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    model_dir = tmp_path / "model"
    args = flags(dataset, model_dir, "--steps=20", "--eval_every=10")
    procs = [
        run_task(
            args,
            env={
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                )
            },
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out
    assert all("CollectiveAllReduceStrategy, 2 replicas" in out for out in outputs)
    # Both workers trained the same model: their final weights agree.
    checksums = {
        line.split("checksum ")[1]
        for out in outputs
        for line in out.splitlines()
        if "final weights checksum" in line
    }
    assert len(checksums) == 1
    report = json.loads((model_dir / "eval_report.json").read_text())
    assert report["global_step"] == 20
    assert (model_dir / "export" / "saved_model.pb").exists()


@pytest.mark.slow
def test_single_worker_training_leaves_keras_unpatched(trained):
    """The multi-worker workaround is applied to multi-worker jobs only."""
    from keras.src.backend.tensorflow import trainer as tf_trainer

    assert (trained / "export" / "saved_model.pb").exists()  # it did train
    patched = getattr(tf_trainer.reduce_per_replica, "patched_for_multi_worker", False)
    assert not patched
