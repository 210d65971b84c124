"""The trainer image (Dockerfile, CPU variant), built and run for real.

The pipeline writes records from synthetic drawings on the host; the image
then trains on them, exports, and classifies ndjson lines, as `docker run
IMAGE --training_data=...` and `docker run --entrypoint python IMAGE -m
serving.predict ...` would, and scores the same lines through the export's
on-device model (`--engine litert`), which the image converted and checked.
See tests/podman.py for how it builds and runs without a Docker engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drawing import features as F
from pipeline import main as pipeline_main
from tests import podman
from tools import synth

REPO = Path(__file__).resolve().parents[2]
TAG = "localhost/quickdraw-trainer:cpu-test"
CLASSES = 3
pytestmark = [pytest.mark.slow, pytest.mark.image]


@pytest.fixture(scope="module")
def image() -> str:
    reason = podman.missing()
    if reason:
        pytest.skip(f"cannot build images here: {reason}")
    podman.ensure_base()
    seconds = podman.build(TAG, REPO, {"VARIANT": "cpu"})
    print(f"built {TAG} in {seconds:.0f} s: {podman.size(TAG) / 1e9:.2f} GB")
    return TAG


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    """The pipeline's output from synthetic drawings, with their ndjson."""
    work = tmp_path_factory.mktemp("image_work")
    synth.write_dataset(work / "ndjson", CLASSES, 60)
    args = ["--input", str(work / "ndjson"), "--output", str(work / "data")]
    assert pipeline_main.main([*args, "--runner=FnApiRunner"]) == 0
    return work


def test_the_image_holds_no_beam_no_tf_transform_and_no_cuda(image, tmp_path):
    config = podman.inspect(image)["Config"]
    assert config["Entrypoint"] == ["python", "-m", "trainer.task"]
    probe = (
        "import importlib.util as u, importlib.metadata as m, json;"
        "print(json.dumps([x for x in ('apache_beam', 'tensorflow_transform',"
        " 'tensorflow', 'keras', 'tensorboard', 'drawing', 'trainer', 'serving',"
        " 'pipeline', 'tools')"
        " if u.find_spec(x)]));"
        "print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"
    )
    done = podman.run(image, ["-c", probe], tmp_path, entrypoint=["python"])
    assert done.returncode == 0, done.stderr
    found, installed = map(json.loads, done.stdout.splitlines()[-2:])
    # Whole packages: the shared drawing code, training and serving; no Beam job.
    assert found == [
        "tensorflow",
        "keras",
        "tensorboard",
        "drawing",
        "trainer",
        "serving",
    ]
    names = {n.lower() for n in installed}
    assert not {"apache-beam", "tensorflow-transform", "tfx-bsl"} & names
    assert not [n for n in names if n.startswith("nvidia-")]


def test_the_image_trains_exports_and_predicts(image, records):
    flags = [
        f"--training_data=/mnt/data/{F.TRAIN_PREFIX}-*",
        f"--eval_data=/mnt/data/{F.EVAL_PREFIX}-*",
        f"--transform_dir=/mnt/data/{F.TRANSFORM_DIR}",
        "--model_dir=/mnt/model",
        "--num_layers=1",
        "--num_nodes=16",
        "--num_conv=[16]",
        "--conv_len=[5]",
        "--batch_size=16",
        "--steps=20",
        "--eval_every=10",
        "--warmup_steps=2",
        "--export_top_k=2",
    ]
    trained = podman.run(image, flags, records)
    assert trained.returncode == 0, trained.stderr[-4000:]
    log = trained.stderr
    # No tf.Transform in the image: the statistics come from stats.json.
    assert "no tf.Transform here" in log
    assert f"length buckets from /mnt/data/{F.STATS_FILE}" in log
    report = json.loads((records / "model" / "eval_report.json").read_text())
    assert report["global_step"] == 20 and report["num_examples"] > 0
    assert (records / "model" / "export" / "saved_model.pb").is_file()

    lines = (records / "ndjson" / f"{synth.CLASSES[0]}.ndjson").read_text()
    (records / "few.ndjson").write_text("".join(lines.splitlines(True)[:5]))
    results, ondevice = (_predict(image, records, *engine) for engine in ([], LITERT))
    assert len(results) == 5
    for result, other in zip(results, ondevice, strict=True):
        assert result["word"] == synth.CLASSES[0]
        assert len(result["top_k"]) == 2
        assert {c["class"] for c in result["top_k"]} <= set(synth.CLASSES[:CLASSES])
        assert [c["class"] for c in other["top_k"]] == [
            c["class"] for c in result["top_k"]
        ]
        assert [c["probability"] for c in other["top_k"]] == pytest.approx(
            [c["probability"] for c in result["top_k"]], abs=1e-5
        )


LITERT = ["--engine=litert"]


def _predict(image: str, records: Path, *extra: str) -> list[dict]:
    """serving.predict in the image on few.ndjson, top 2."""
    flags = ["-m", "serving.predict", "--model=/mnt/model/export", "--k=2"]
    done = podman.run(
        image, [*flags, *extra, "/mnt/few.ndjson"], records, entrypoint=["python"]
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return [json.loads(x) for x in done.stdout.splitlines()]
