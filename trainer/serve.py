"""Serves the drawing page and a TF Serving-style REST API from one process.

  python -m trainer.serve --model EXPORT_DIR [--port 8080] [--host 127.0.0.1]

then open the printed URL and draw: the page asks the model while you draw.
The API (`trainer.serve_app` lists the routes) speaks TF Serving's REST predict
format, so a client written for TF Serving, or for a Vertex AI endpoint, works
unchanged:

  curl -d '{"instances": [{"drawing": [[[0, 90, 200], [10, 80, 20]]]}],
            "parameters": {"k": 3}}' localhost:8080/v1/models/quickdraw:predict
  -> {"predictions": [{"classes": [...], "probabilities": [...]}]}

Instances are raw or simplified drawings, or ndjson lines (`trainer.instances`);
raw ones are simplified as the dataset was, then every drawing is scored by the
exported model's `predict_ndjson` signature (`trainer.scorer`), the graph TF
Serving would run on the same lines.

Vertex AI custom-container conventions: `AIP_HTTP_PORT` is the default port,
`AIP_STORAGE_URI` the default model (a gs:// copy of the export), and
`AIP_PREDICT_ROUTE` / `AIP_HEALTH_ROUTE` add routes for predict and health.
In a container, pass `--host 0.0.0.0` (`trainer.deploy` does).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # before TensorFlow's import prints its notices
    from pipeline import logs

    logs.setup(sys.argv[1:], stderr_filter=True)

import argparse
import dataclasses
import logging
import os
import posixpath
from collections.abc import Sequence

from pipeline import logs
from trainer import instances as I
from trainer.config import parse_bool
from trainer.serve_app import AppSettings, ModelInfo

log = logging.getLogger("trainer.serve")
CLASSES_ASSET = posixpath.join("assets.extra", "classes.txt")  # trainer.export's


def _flag(default: object, help: str, env: str | None = None, **kwargs):
    return dataclasses.field(
        default=default, metadata={"help": help, "env": env, **kwargs}
    )


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """One server; each field is a flag, each default lives here."""

    model: str = _flag(
        "", "exported model directory, local or gs://; $AIP_STORAGE_URI when set",
        env="AIP_STORAGE_URI",
    )  # fmt: skip
    host: str = _flag("127.0.0.1", "address to listen on; 0.0.0.0 in a container")
    port: int = _flag(8080, "port; $AIP_HTTP_PORT when set",
                      env="AIP_HTTP_PORT", type=int)  # fmt: skip
    predict_route: str = _flag(
        "", "an extra predict route; $AIP_PREDICT_ROUTE when set",
        env="AIP_PREDICT_ROUTE",
    )  # fmt: skip
    health_route: str = _flag(
        "", "an extra health route; $AIP_HEALTH_ROUTE when set",
        env="AIP_HEALTH_ROUTE",
    )  # fmt: skip
    max_body_bytes: int = _flag(
        AppSettings.max_body_bytes, "larger request bodies get 413", type=int
    )
    max_instances: int = _flag(I.Limits.max_instances, "drawings per request", type=int)
    max_points: int = _flag(
        I.Limits.max_points, "points per drawing, as sent", type=int
    )
    threads: int = _flag(2, "model calls at a time", type=int)
    gather: bool = _flag(
        True, "gather the requests that wait into one model call",
        type=parse_bool, nargs="?", const=True,
    )  # fmt: skip
    # A batch is padded to its longest drawing: on the demo's model, calls of 8
    # drawings score 430/s, of 64 400/s, of 256 240/s (one at a time: 130/s).
    max_batch: int = _flag(64, "drawings per model call", type=int)

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("--model is required (or set AIP_STORAGE_URI)")
        for name in ("max_body_bytes", "max_instances", "max_points", "threads",
                     "max_batch"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1")
        for name in ("predict_route", "health_route"):
            route = getattr(self, name)
            if route and not route.startswith("/"):
                raise ValueError(f"--{name} must start with /, got {route!r}")

    @property
    def settings(self) -> AppSettings:
        return AppSettings(
            limits=I.Limits(self.max_instances, self.max_points),
            max_body_bytes=self.max_body_bytes,
            extra_predict_routes=tuple(filter(None, [self.predict_route])),
            extra_health_routes=tuple(filter(None, [self.health_route])),
        )


def parse_args(argv: Sequence[str] | None = None) -> ServeConfig:
    """Flags (defaults from the fields, or their environment variables)."""
    parser = argparse.ArgumentParser(
        prog="python -m trainer.serve",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for field in dataclasses.fields(ServeConfig):
        kwargs = dict(field.metadata)
        env = kwargs.pop("env")
        default = os.environ.get(env, field.default) if env else field.default
        parser.add_argument(f"--{field.name}", default=default, **kwargs)
    parser.add_argument(logs.VERBOSE_FLAG, action="store_true", help=logs.VERBOSE_HELP)
    values = vars(parser.parse_args(argv))
    values.pop("verbose")  # logs.setup reads it from the arguments
    try:
        values["port"] = int(values["port"])  # from the environment: a string
        return ServeConfig(**values)
    except ValueError as err:
        parser.error(str(err))


def _signature_defs(export_dir: str) -> dict:
    """The SavedModel's signature_def map as TF Serving's metadata shows it."""
    import tensorflow as tf
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(posixpath.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    signatures = {
        name: json_format.MessageToDict(sig, preserving_proto_field_name=True)
        for name, sig in proto.meta_graphs[0].signature_def.items()
        if not name.startswith("__")  # __saved_model_init_op
    }
    return {"signature_def": signatures}


def model_info(export_dir: str, k: int) -> ModelInfo:
    """Version (the directory's name when numeric, as TF Serving lays models
    out, else 1), classes and signatures of an export."""
    import tensorflow as tf

    with tf.io.gfile.GFile(posixpath.join(export_dir, CLASSES_ASSET)) as f:
        classes = tuple(line.rstrip("\n") for line in f if line.strip())
    name = posixpath.basename(export_dir.rstrip("/"))
    return ModelInfo(
        version=name if name.isdigit() else "1",
        classes=classes,
        k=k,
        signature_def=_signature_defs(export_dir),
    )


def open_url(host: str, port: int) -> str:
    """The URL to open in a browser (any-address binds open on localhost)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}/"


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    config = parse_args(argv)
    logs.setup(argv)  # the product's lines and real errors (all with --verbose)
    from aiohttp import web

    from trainer.predict import Predictor
    from trainer.scorer import Scorer
    from trainer.serve_app import make_app

    try:
        predictor = Predictor(config.model)
    except OSError as err:  # no SavedModel there: one line, not a traceback
        sys.exit(f"trainer.serve: cannot load --model {config.model}: {err}")
    info = model_info(config.model, predictor.max_k)
    # Warm up: the first call of a loaded graph is slow; do it before serving.
    predictor.predict([b'{"drawing":[[[0,255],[0,255]]]}'], k=1)

    def scorer() -> Scorer:
        return Scorer(predictor, config.threads, config.gather, config.max_batch)

    app = make_app(scorer, info, config.settings)
    url = open_url(config.host, config.port)

    def started(_: str) -> None:  # run_app calls it once the port is bound
        log.info("serving %s (%d classes) at %s : open it to draw",
                 config.model, len(info.classes), url)  # fmt: skip

    web.run_app(app, host=config.host, port=config.port, print=started, access_log=None)


if __name__ == "__main__":
    main()
