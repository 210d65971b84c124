"""Serves the drawing page and a TF Serving-style REST API from one process.

  python -m serving.serve --model EXPORT_DIR [--port 8080] [--host 127.0.0.1]

then open the printed URL and draw: the page asks the model while you draw,
or runs the export's on-device model in the tab (its "in this tab" switch,
`?engine=tab`; `serving.site` gives the runtime's files and the model's).
The API (`serving.rest_api`) speaks TF Serving's REST predict format, so clients of
TF Serving or of a Vertex AI endpoint work unchanged; request bodies are
parsed once and raw drawings simplified (`serving.request_parser`). On Vertex AI,
AIP_HTTP_PORT, AIP_STORAGE_URI, AIP_PREDICT_ROUTE and AIP_HEALTH_ROUTE are
the defaults; in a container pass `--host 0.0.0.0` (`serving.deploy` does).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # before TensorFlow's import prints its notices
    from drawing import logs

    logs.setup(sys.argv[1:], stderr_filter=True)

import dataclasses
import json
import logging
import posixpath
from collections.abc import Sequence

from drawing import features as F
from drawing import flags, logs
from drawing.flags import flag
from serving import request_parser as I
from serving.rest_api import AppSettings, ModelInfo

log = logging.getLogger("serving.serve")
CLASSES_ASSET = posixpath.join("assets.extra", "classes.txt")  # trainer.export's
RECOGNITION_ASSET = posixpath.join("assets.extra", F.RECOGNITION_FILE)


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """One server; each field is a flag, each default lives here."""

    model: str = flag(
        "", "exported model directory, local or gs://; $AIP_STORAGE_URI when set",
        env="AIP_STORAGE_URI",
    )  # fmt: skip
    host: str = flag("127.0.0.1", "address to listen on; 0.0.0.0 in a container")
    port: int = flag(8080, "port; $AIP_HTTP_PORT when set",
                      env="AIP_HTTP_PORT", type=int)  # fmt: skip
    predict_route: str = flag(
        "", "an extra predict route; $AIP_PREDICT_ROUTE when set",
        env="AIP_PREDICT_ROUTE",
    )  # fmt: skip
    health_route: str = flag(
        "", "an extra health route; $AIP_HEALTH_ROUTE when set",
        env="AIP_HEALTH_ROUTE",
    )  # fmt: skip
    max_body_bytes: int = flag(
        AppSettings.max_body_bytes, "larger request bodies get 413", type=int
    )
    max_instances: int = flag(I.Limits.max_instances, "drawings per request", type=int)
    max_points: int = flag(I.Limits.max_points, "points per drawing, as sent", type=int)
    threads: int = flag(2, "model calls at a time", type=int)
    gather: bool = flags.switch(
        True, "gather the requests that wait into one model call"
    )
    # A batch is padded to its longest drawing, so bigger calls are not always
    # faster (bench/README.md, "Serving").
    max_batch: int = flag(64, "drawings per model call", type=int)

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
    description = __doc__.split("\n\n")[0]
    return flags.parse(ServeConfig, argv, "python -m serving.serve", description)


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
    out, else 1), classes, signatures and on-device model of an export."""
    import tensorflow as tf

    from serving.site import read_ondevice

    with tf.io.gfile.GFile(posixpath.join(export_dir, CLASSES_ASSET)) as f:
        classes = tuple(line.rstrip("\n") for line in f if line.strip())
    name = posixpath.basename(export_dir.rstrip("/"))
    return ModelInfo(
        version=name if name.isdigit() else "1",
        classes=classes,
        k=k,
        signature_def=_signature_defs(export_dir),
        threshold=read_threshold(export_dir),
        ondevice=read_ondevice(export_dir),
    )


def read_threshold(export_dir: str) -> float | None:
    """The recognition threshold the trainer chose on the eval set; None for an
    export without one (no eval data, or an older trainer), which is logged."""
    import tensorflow as tf

    path = posixpath.join(export_dir, RECOGNITION_ASSET)
    if not tf.io.gfile.exists(path):
        log.warning("no %s: the page's game falls back to the top guess", path)
        return None
    with tf.io.gfile.GFile(path) as f:
        return float(json.load(f)[F.THRESHOLD])


def open_url(host: str, port: int) -> str:
    """The URL to open in a browser (any-address binds open on localhost)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}/"


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    config = parse_args(argv)
    logs.setup(argv)  # the product's lines and real errors (all with --verbose)
    from aiohttp import web

    from drawing.export_marker import IncompleteExport
    from serving.predict import Predictor
    from serving.rest_api import make_app
    from serving.scorer import Scorer
    from serving.site import runtime_files

    try:
        predictor = Predictor(config.model)
    except IncompleteExport as err:
        flags.fail("serving.serve", err)
    except OSError as err:  # complete, yet unreadable: one line, not a traceback
        what = f"--model {config.model} cannot be loaded ({err})"
        flags.fail("serving.serve", f"{what}: export it again, or name another")
    info = model_info(config.model, predictor.max_k)
    # Warm up: the first call of a loaded graph is slow; do it before serving.
    predictor.score([([0, 255], [0, 255], [2])], k=1)

    def scorer() -> Scorer:
        return Scorer(predictor, config.threads, config.gather, config.max_batch)

    runtime = runtime_files()
    if not (runtime and info.ondevice):
        log.info("the page's model in the tab is off: %s",
                 "no on-device model in the export" if runtime else
                 "LiteRT.js is not installed (npm ci)")  # fmt: skip
    settings = dataclasses.replace(config.settings, runtime_files=runtime)
    app = make_app(scorer, info, settings)
    url = open_url(config.host, config.port)

    def started(_: str) -> None:  # run_app calls it once the port is bound
        log.info("serving %s (%d classes) at %s : open it to draw",
                 config.model, len(info.classes), url)  # fmt: skip

    web.run_app(app, host=config.host, port=config.port, print=started, access_log=None)


if __name__ == "__main__":
    main()
