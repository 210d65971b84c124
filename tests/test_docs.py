"""Every command written in README.md, docs/ and bench/ runs as written.

The commands come from the Markdown's ```sh blocks. Offline, each is checked
as far as it can be without a cloud account or a long run:

* `make TARGET`: a target of the Makefile (`make -n` accepts it);
* `.venv/bin/python -m MODULE ARGS`: the module's own `parse_args` accepts
  ARGS (the pipeline's leftover flags must be Beam options); with `--help`,
  and the cloud commands with `--dry-run`, the command runs for real;
  `-m pytest PATHS` (a bench figure that a test measures): the paths exist;
* `.venv/bin/python SCRIPT ARGS` and `./dataflow_launch.sh ARGS`: every flag
  is one that the script's `--help` lists, and the launcher's flags after
  `--` are the pipeline's;
* anything else (gcloud, gsutil, docker, curl, pip) needs a cloud account, a
  Docker engine or the network, and is not collected.
"""

from __future__ import annotations

import functools
import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.product import REPO, product_env

PYTHON = ".venv/bin/python"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
DOCS += sorted((REPO / "bench").glob("*.md"))
# Commands that build a cloud spec and print it: run for real with --dry-run.
DRY_RUNS = ("trainer.submit", "serving.deploy")
_BLOCK = re.compile(r"^```(?:sh|shell|bash)\n(.*?)^```", re.M | re.S)


def _commands(path: Path) -> list[list[str]]:
    """The commands of a Markdown file's shell blocks, split as a shell would."""
    commands = []
    for block in _BLOCK.findall(path.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


# What can be checked offline; gcloud, docker, curl and the like are left out.
CHECKED = ("make", PYTHON, "./dataflow_launch.sh")
ALL = [(p, c) for p in DOCS for c in _commands(p) if c[0] in CHECKED]


def _id(item) -> str:
    path, words = item
    return f"{path.relative_to(REPO)}: {' '.join(words)[:60]}"


def test_the_docs_have_commands():
    assert {words[0] for _, words in ALL} == set(CHECKED)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=REPO, env=product_env(), capture_output=True, text=True
    )


@functools.cache
def _help(*command: str) -> str:
    done = _run([*command, "--help"])
    assert done.returncode == 0, done.stderr
    return done.stdout


def _flags(words: list[str]) -> list[str]:
    """The flags among `words`, up to a `--` that passes the rest on."""
    if "--" in words:
        words = words[: words.index("--")]
    return [w.split("=", 1)[0] for w in words if re.match(r"--[a-z]", w)]


def _parse(module: str, args: list[str]) -> None:
    """The module's own parser accepts `args` (SystemExit fails the test)."""
    parsed = importlib.import_module(module).parse_args(args)
    if module == "pipeline.main":
        from apache_beam.options.pipeline_options import PipelineOptions

        options = PipelineOptions(parsed[1])
        every = options.get_all_options(retain_unknown_options=True)
        known = options.get_all_options(retain_unknown_options=False)
        assert not set(every) - set(known), f"not Beam options: {parsed[1]}"


def _check_module(words: list[str]) -> None:
    module, args = words[2], words[3:]
    if module == "pytest":
        paths = [a.split("::")[0] for a in args if not a.startswith("-")]
        assert paths and [p for p in paths if not (REPO / p).exists()] == []
        return
    if "--help" in args or (module in DRY_RUNS and "--dry-run" in args):
        done = _run([sys.executable, "-m", module, *args])
        assert done.returncode == 0, done.stderr
        return
    _parse(module, args)


def _check_launcher(words: list[str]) -> None:
    ours, after = (words[1:], [])
    if "--" in ours:
        at = ours.index("--")
        ours, after = ours[:at], ours[at + 1 :]
    listed = _help("./dataflow_launch.sh")
    assert [f for f in _flags(ours) if f not in listed] == []
    if after:
        _parse("pipeline.main", ["--input=x", "--output=y", *after])


@pytest.mark.parametrize("item", ALL, ids=[_id(i) for i in ALL])
def test_a_documented_command_runs_as_written(item):
    _, words = item
    if words[0] == "make":
        done = _run(["make", "-n", *words[1:]])
        assert done.returncode == 0, done.stderr
    elif words[0] == PYTHON and words[1] == "-m":
        _check_module(words)
    elif words[0] == PYTHON:
        script = words[1]
        assert (REPO / script).is_file(), script
        listed = _help(sys.executable, script)
        assert [f for f in _flags(words[2:]) if f not in listed] == []
    else:
        _check_launcher(words)


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_picture_exists(path):
    """A link or picture to a file of the repository names one that is there
    (a screenshot left uncommitted, a renamed page)."""
    missing = []
    for target in _LINK.findall(path.read_text()):
        if "://" in target or target.startswith(("#", "mailto:")):
            continue
        if not (path.parent / target.split("#")[0]).exists():
            missing.append(target)
    assert not missing
