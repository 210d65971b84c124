"""Writes the drawing page and the game as a static site, the model in the tab.

  python -m serving.site --model EXPORT_DIR --out DIR [--int8]

DIR then holds the page (`index.html`, its scripts and style), the LiteRT.js
runtime's files that the page loads (`litert/`, with its licence) and the
export's on-device model (`ondevice/`: model.json and the float32 model, or
the int8 one with --int8). Any static file host serves it as it is (a
bucket, GitHub Pages, `python -m http.server -d DIR`): the page runs the
model in the tab (`ondevice.js`), with no server code and no request beyond
that host. The runtime comes from npm (`npm ci` installs it into
`node_modules/`, as `make venv` does); `serving.serve` serves the same files
for its page's "in this tab" switch (`runtime_files`, `read_ondevice`).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # before TensorFlow's import prints its notices
    from drawing import logs

    logs.setup(sys.argv[1:], stderr_filter=True)

import dataclasses
import importlib.metadata
import json
import logging
import posixpath
import shutil
from collections.abc import Sequence
from pathlib import Path

from drawing import flags, logs
from drawing.export_marker import IncompleteExport, check_complete
from drawing.flags import flag

log = logging.getLogger("serving.site")

STATIC_DIR = Path(__file__).resolve().parent / "static"
NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"
ONDEVICE = "ondevice"  # trainer.ondevice_export's folder in the export
METADATA = "model.json"
PAGE_FILES = ("index.html", "style.css", "app.js", "game.js", "ondevice.js",
              "simplify.js")  # fmt: skip
# What the page loads of LiteRT.js (@litertjs/core and its one dependency),
# by its path in the site: the module, and the WebAssembly builds it picks
# from (with relaxed SIMD, or without); not its WebGPU-only, threaded or
# JSPI builds, which the page never asks for.
RUNTIME_FILES = {
    "litert.js": "@litertjs/core/dist/index.js",
    "wasm-utils.js": "@litertjs/wasm-utils/dist/index.js",
    **{
        f"wasm/litert_wasm{build}_internal.{ext}": (
            f"@litertjs/core/wasm/litert_wasm{build}_internal.{ext}"
        )
        for build in ("", "_compat")
        for ext in ("js", "wasm")
    },
}
STATIC_MARK = ('<html lang="en">', '<html lang="en" data-site="static">')


class SiteError(Exception):
    """What stops the site from being written, and what to do."""


def runtime_files(node_modules: Path = NODE_MODULES) -> dict[str, Path]:
    """{path under litert/: file} of the installed runtime; {} without it."""
    files = {name: node_modules / path for name, path in RUNTIME_FILES.items()}
    return files if all(p.is_file() for p in files.values()) else {}


def no_ondevice_model(export_dir: str) -> str:
    """The message for an export without an on-device model (an older one)."""
    return (
        f"--model {export_dir} has no on-device model ({ONDEVICE}/{METADATA}): "
        "export it again with this version of trainer.task"
    )


def read_ondevice(export_dir: str, int8: bool = False) -> dict[str, bytes]:
    """The files of the export's on-device model that the page loads:
    model.json (listing only that model) and the float32 or int8 model;
    {} for an export without one (local or gs://)."""
    import tensorflow as tf

    folder = posixpath.join(str(export_dir), ONDEVICE)
    path = posixpath.join(folder, METADATA)
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        meta = json.load(f)
    variant = "int8" if int8 else "float32"
    name = meta["models"][variant]
    meta["models"] = {variant: name}
    with tf.io.gfile.GFile(posixpath.join(folder, name), "rb") as f:
        model = f.read()
    return {METADATA: json.dumps(meta, indent=2).encode(), name: model}


def _licence(node_modules: Path) -> str:
    """LiteRT.js's licence (Apache 2.0): the npm package names it; its text
    comes from the same project's Python package, installed with this one."""
    package = json.loads((node_modules / "@litertjs/core/package.json").read_text())
    text = importlib.metadata.distribution("ai-edge-litert").read_text(
        "licenses/LICENSE"
    )
    return (
        f"{package['name']} {package['version']} and @litertjs/wasm-utils "
        f"({package['repository']['url']}): {package['license']}\n\n{text or ''}"
    )


@dataclasses.dataclass(frozen=True)
class SiteConfig:
    """The command line's settings; each default lives here."""

    model: str = flag(help="exported model directory, local or gs://", required=True)
    out: str = flag(help="the site's folder (new, empty, or an earlier site)",
                    required=True)  # fmt: skip
    int8: bool = flag(
        False, "ship the int8 on-device model (smaller)", action="store_true"
    )
    node_modules: str = flag(str(NODE_MODULES), "where npm installed LiteRT.js")


def write_site(config: SiteConfig) -> Path:
    """Writes the site; returns its index.html. Raises SiteError, or
    IncompleteExport for an export that is not complete."""
    import tensorflow as tf

    check_complete(config.model, tf.io.gfile.exists, "--model")
    node_modules = Path(config.node_modules)
    runtime = runtime_files(node_modules)
    if not runtime:
        raise SiteError(
            f"LiteRT.js is not installed in {node_modules}: run npm ci in the "
            "repository (make venv does)"
        )
    model = read_ondevice(config.model, config.int8)
    if not model:
        raise SiteError(no_ondevice_model(config.model))
    out = Path(config.out)
    _clear(out)
    for name in PAGE_FILES:
        shutil.copyfile(STATIC_DIR / name, out / name)
    index = out / "index.html"
    index.write_text(index.read_text().replace(*STATIC_MARK, 1))
    for name, source in runtime.items():
        (out / "litert" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, out / "litert" / name)
    (out / "litert" / "LICENSE").write_text(_licence(node_modules))
    (out / ONDEVICE).mkdir()
    for name, data in model.items():
        (out / ONDEVICE / name).write_bytes(data)
    return index


def _clear(out: Path) -> None:
    """Makes `out` an empty folder: new, empty, or an earlier site emptied."""
    if out.exists():
        index = out / "index.html"
        earlier = index.is_file() and STATIC_MARK[1] in index.read_text()
        if any(out.iterdir()) and not earlier:
            raise SiteError(
                f"--out {out} holds other files than a site: name a new or empty folder"
            )
        shutil.rmtree(out)
    with flags.writing("--out", out):
        out.mkdir(parents=True)


def parse_args(argv: Sequence[str] | None = None) -> SiteConfig:
    """Flags -> SiteConfig."""
    description = __doc__.split("\n\n")[0]
    return flags.parse(SiteConfig, argv, "python -m serving.site", description)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    config = parse_args(argv)
    logs.setup(argv)
    with flags.one_line_errors("serving.site", SiteError, IncompleteExport):
        index = write_site(config)
    size = sum(f.stat().st_size for f in index.parent.rglob("*") if f.is_file())
    log.info("wrote the site to %s (%.1f MB): serve the folder as it is, e.g. "
             "python -m http.server -d %s", index.parent, size / 1e6,
             index.parent)  # fmt: skip


if __name__ == "__main__":
    main()
