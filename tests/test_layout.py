"""The layout's rules, read from the source: who may import whom, and sizes.

`drawing` is the ground. `pipeline` and `trainer` stand on it and neither
imports the other; `serving` stands on `drawing` (and on the SavedModel's
contract); `tools` stand above them all. Only the Beam job imports Beam or
tf.Transform, except the lazy look-ups listed in `LAZY_HEAVY` with their
reason. docs/layout.md says the same in words.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("drawing", "pipeline", "trainer", "serving", "tools")
# What each package may import of the others.
ALLOWED = {
    "drawing": set(),
    "pipeline": {"drawing"},
    "trainer": {"drawing"},
    "serving": {"drawing"},
    "tools": {"drawing", "pipeline", "trainer", "serving"},
}
HEAVY = ("apache_beam", "tensorflow_transform", "tfx_bsl")
# Imports of HEAVY outside pipeline/, inside a function, and why.
LAZY_HEAVY = {
    "drawing/tft_output.py": "tf.Transform's output, read with its own reader",
}
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level name, imported at module level) of every import in a file."""
    tree = ast.parse(path.read_text())
    at_top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        found += [(name.split(".")[0], id(node) in at_top) for name in names]
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_run_one_way(package):
    wrong = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in _modules(package)
        for name, _ in _imports(path)
        if name in PACKAGES and name != package and name not in ALLOWED[package]
    ]
    assert not wrong


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "pipeline"])
def test_only_the_beam_job_imports_beam_or_tf_transform(package):
    wrong = []
    for path in _modules(package):
        relative = str(path.relative_to(REPO))
        for name, at_top in _imports(path):
            if name in HEAVY and (at_top or relative not in LAZY_HEAVY):
                wrong.append(f"{relative} imports {name}")
    assert not wrong


def test_drawing_needs_no_keras_and_the_trainer_never_tf_keras():
    keras_in_drawing = [
        str(p.relative_to(REPO))
        for p in _modules("drawing")
        if any(name == "keras" for name, _ in _imports(p))
    ]
    assert not keras_in_drawing
    # Once tensorflow_transform is imported, tf.keras is the legacy Keras 2.
    tf_keras = [
        f"{p.relative_to(REPO)}:{node.lineno}"
        for package in PACKAGES
        for p in _modules(package)
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr == "keras"
        and isinstance(node.value, ast.Name)
        and node.value.id == "tf"
    ]
    assert not tf_keras


def test_modules_and_functions_stay_small():
    too_long = []
    for package in PACKAGES:
        for path in _modules(package):
            text = path.read_text()
            relative = path.relative_to(REPO)
            if len(text.splitlines()) > MAX_FILE_LINES:
                too_long.append(f"{relative}: {len(text.splitlines())} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        too_long.append(f"{relative}:{node.name}: {lines} lines")
    assert not too_long


def test_the_image_copies_whole_packages():
    """The Dockerfile copies packages, never single files of one."""
    copies = [
        line.split()[1:]
        for line in (REPO / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    ]
    sources = [c[0] for c in copies if c[0] != "setup.py"]
    assert sources == ["drawing/", "trainer/", "serving/"]


# Packages whose every module a test imports by name. drawing and pipeline join
# once their tests do (issue 28).
TESTED_BY_NAME = ("drawing", "pipeline", "trainer", "serving", "tools")
# Module names more than one package may use.
SHARED_NAMES = {"__init__", "config"}


def _tested_modules() -> set[str]:
    """Every `package.module` that a file under tests/ imports by name, or
    names in a string (a command it runs as `python -m package.module`)."""
    found = set()
    for path in (REPO / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("package", TESTED_BY_NAME)
def test_every_module_is_imported_by_name_by_a_test(package):
    tested = _tested_modules()
    untested = [
        f"{package}.{path.stem}"
        for path in _modules(package)
        if path.stem != "__init__" and f"{package}.{path.stem}" not in tested
    ]
    assert not untested


def test_no_two_packages_have_a_module_of_the_same_name():
    """A module's name says its role, so `shards.py` cannot mean three things."""
    where: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in _modules(package):
            where.setdefault(path.stem, []).append(str(path.relative_to(REPO)))
    shared = {n: p for n, p in where.items() if len(p) > 1 and n not in SHARED_NAMES}
    assert not shared
