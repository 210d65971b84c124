"""Every command fails the same way, run as users run it.

A usage error (a flag argparse refuses) exits 2 with argparse's usage. A
runtime error (a missing file, an unwritable output, a refusal from Google
Cloud) is one line on stderr, `<prog>: error: what is wrong: what to do`, no
traceback, and exit status 1 (`drawing.flags.one_line_errors`). The cases are
the cheap ones: nothing here trains or reads real data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drawing.export_marker import INCOMPLETE_SUFFIX, MARKER, check_complete
from tests.product import REPO, product_env

COMMANDS = (
    "trainer.task",
    "trainer.submit",
    "serving.predict",
    "serving.serve",
    "serving.deploy",
    "serving.site",
    "tools.demo",
    "tools.synth",
    "tools.render",
    "pipeline.main",
)
# serving.deploy reads gs:// before it uploads; with no bucket to reach, this
# stands in for one where the export is not.
_NO_BUCKET = (
    "import runpy, sys, tensorflow as tf; tf.io.gfile.exists = lambda path: False; "
    "sys.argv[0] = 'serving.deploy'; "
    "runpy.run_module('serving.deploy', run_name='__main__', alter_sys=True)"
)


def _run(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=product_env(env),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("module", COMMANDS)
def test_a_usage_error_exits_2_with_the_usage(module):
    done = _run(["-m", module, "--no_such_flag=1"])
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith(f"usage: python -m {module} ")
    assert lines[-1].startswith(f"python -m {module}: error: ")


def _cases(tmp: Path) -> dict[str, tuple[list[str], dict, str, str | None]]:
    """command -> (python args, environment, what is wrong, what to do)."""
    missing = tmp / "missing"
    a_file = tmp / "a_file"
    return {
        "trainer.task": (
            ["-m", "trainer.task", f"--training_data={missing}/training-*",
             f"--model_dir={tmp / 'model'}"],
            {}, f"--training_data '{missing}/training-*' matches no file",
            "check the path",
        ),
        "trainer.submit": (
            ["-m", "trainer.submit", "--project=my-project-123",
             "--staging_bucket=gs://my-bucket"],
            {"GOOGLE_APPLICATION_CREDENTIALS": str(missing / "key.json")},
            "no usable Google Cloud credentials",
            "run `gcloud auth application-default login`",
        ),
        "serving.predict": (
            ["-m", "serving.predict", f"--model={missing}", "-"],
            {}, f"--model {missing} does not exist", "check the path",
        ),
        "serving.serve": (
            ["-m", "serving.serve", f"--model={missing}"],
            {}, f"--model {missing} does not exist", "check the path",
        ),
        "serving.deploy": (
            ["-c", _NO_BUCKET, "--project=my-project-123",
             "--artifact_uri=gs://my-bucket/model"],
            {}, "--artifact_uri gs://my-bucket/model does not exist",
            "check the path",
        ),
        "serving.site": (
            ["-m", "serving.site", f"--model={missing}", f"--out={a_file}/site"],
            {}, f"--model {missing} does not exist", "check the path",
        ),
        "tools.demo": (
            ["-m", "tools.demo", f"--output={a_file}/demo"],
            {}, f"--output {a_file}/demo cannot be written", "name a place",
        ),
        "tools.synth": (
            ["-m", "tools.synth", f"--output={a_file}/synth", "--per_class=1"],
            {}, f"--output {a_file}/synth cannot be written", "name a place",
        ),
        "tools.render": (
            ["-m", "tools.render", f"--output={tmp / 'grid.png'}",
             f"{missing}.ndjson"],
            {}, f"no input matches '{missing}.ndjson'", "check the path",
        ),
        "pipeline.main": (
            ["-m", "pipeline.main", f"--input={missing}.ndjson",
             f"--output={tmp / 'data'}"],
            {}, f"--input '{missing}.ndjson' matches no", None,
        ),
    }  # fmt: skip


@pytest.mark.parametrize("module", COMMANDS)
def test_a_runtime_error_is_one_line_and_exits_1(module, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    args, env, wrong, to_do = _cases(tmp_path)[module]
    done = _run(args, env)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{module}: error: {wrong}"), done.stderr
    # What is wrong comes first, then what to do.
    if to_do:
        assert f": {to_do}" in last[len(f"{module}: error: {wrong}") :], last


def test_every_command_is_tested():
    """A new command module (one with a `__main__` block) joins COMMANDS."""
    found = set()
    for package in ("pipeline", "trainer", "serving", "tools"):
        for path in (REPO / package).glob("*.py"):
            if 'if __name__ == "__main__":' in path.read_text():
                found.add(f"{package}.{path.stem}")
    assert found == set(COMMANDS)


def _export(tmp: Path, state: str) -> Path:
    """An export folder in one of the states a path given as --model can be in."""
    target = tmp / "export"
    if state == "incomplete":
        (target / "variables").mkdir(parents=True)
        (target / "saved_model.pb").write_bytes(b"\x08\x01")
    elif state == "not a model":
        target.mkdir()
    elif state == "interrupted beside":
        Path(f"{target}{INCOMPLETE_SUFFIX}").mkdir()
    return target


@pytest.mark.parametrize(
    ("state", "says"),
    [
        ("missing", "does not exist: check the path"),
        ("not a model", "is not an exported model (no saved_model.pb): name the "),
        (
            "interrupted beside",
            "does not exist, but {target}.incomplete holds its interrupted "
            "export: run the trainer.task command that exports to it again",
        ),
        (
            "incomplete",
            f"holds an incomplete export (no {MARKER}: it was interrupted): run "
            "the trainer.task command that exports to it again",
        ),
    ],
)
def test_only_an_interrupted_export_gets_the_advice_to_finish_it(tmp_path, state, says):
    target = _export(tmp_path, state)
    with pytest.raises(OSError) as refused:
        check_complete(str(target), os.path.exists, "--model")
    assert str(refused.value).startswith(
        f"--model {target} {says.format(target=target)}"
    )
    finishes = "run the trainer.task command" in str(refused.value)
    assert finishes == (state in ("interrupted beside", "incomplete"))


def test_a_failed_step_of_the_demo_names_it_after_its_own_error(tmp_path, capfd):
    from drawing.flags import InputError
    from tools import demo

    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(InputError) as failed:
        demo._run(["tools.synth", f"--output={tmp_path / 'a_file' / 'x'}"])
    assert str(failed.value) == (
        "the step `python -m tools.synth` failed (exit status 1): its own error "
        "is above; fix that, then run tools.demo again"
    )
    assert "tools.synth: error: --output " in capfd.readouterr().err
