"""The aiohttp application of `serving.serve`: routes, handlers, JSON errors.

Routes (MODEL = `quickdraw`):

* `GET /` and `GET /<file>`: the drawing page, `serving/static/`.
* `GET /ondevice/<file>` and `GET /litert/<path>`: the export's on-device
  model and the LiteRT.js runtime, for the page's "in this tab" switch (the
  same layout as the static site of `serving.site`), when both are there.
* `POST /v1/models/MODEL:predict`: TF Serving's REST predict, row format.
* `GET /v1/models/MODEL`: TF Serving's model status (also the health check).
* `GET /v1/models/MODEL/metadata`: TF Serving's metadata (the SavedModel's
  signature_def, as its GetModelMetadata gives it), plus `classes`, `k`,
  `threshold` (the recognition threshold chosen at export, or null) and
  `ondevice` (whether the page can run the model in the tab here).
* Vertex AI's `AIP_PREDICT_ROUTE` and `AIP_HEALTH_ROUTE`, when set.

Every error answer is JSON `{"error": "..."}` (plus `instance`, its index, when
one instance is at fault), and is logged as one line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import orjson
from aiohttp import web

from serving import request_parser as I
from serving.scorer import Scorer

log = logging.getLogger("serving.serve")

MODEL_NAME = "quickdraw"
MODEL_ROUTE = f"/v1/models/{MODEL_NAME}"
PREDICT_ROUTE = f"{MODEL_ROUTE}:predict"
METADATA_ROUTE = f"{MODEL_ROUTE}/metadata"
STATIC_DIR = Path(__file__).resolve().parent / "static"
# Explicit, so that no platform's mimetypes table decides what a browser runs.
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".wasm": "application/wasm",  # WebAssembly's streaming compile needs it
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

SCORER = web.AppKey("scorer", Scorer)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the status and metadata routes say about the loaded model."""

    version: str
    classes: tuple[str, ...]
    k: int  # the exported top-k: the most classes a prediction can return
    signature_def: dict  # TF Serving's metadata.signature_def
    threshold: float | None = None  # the game's recognition threshold, if any
    # The export's ondevice/ files the page loads (name -> bytes), if any.
    ondevice: Mapping[str, bytes] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class AppSettings:
    limits: I.Limits
    max_body_bytes: int = 4 << 20  # 4 MiB; Vertex AI itself takes 1.5 MB
    extra_predict_routes: tuple[str, ...] = ()
    extra_health_routes: tuple[str, ...] = ()
    static_dir: Path = STATIC_DIR
    # The runtime's files the page loads, by their path under /litert/.
    runtime_files: Mapping[str, Path] = dataclasses.field(default_factory=dict)


def json_response(payload: object, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type="application/json"
    )


def error_response(status: int, message: str, instance: int | None = None):
    payload: dict = {"error": message}
    if instance is not None:
        payload["instance"] = instance
    return json_response(payload, status)


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Turns every HTTP error into JSON `{"error": ...}` and one log line."""
    try:
        return await handler(request)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return refuse(request, err.status, err.reason)
    except Exception as err:  # the server keeps running
        log.error("500 %s %s: %r", request.method, request.path, err)
        return error_response(500, "internal error; see the server's log")


def refuse(
    request: web.Request, status: int, message: str, instance: int | None = None
) -> web.Response:
    """An error answer, and its one log line."""
    log.warning("%s %s %s: %s", status, request.method, request.path, message)
    return error_response(status, message, instance)


class Handlers:
    def __init__(self, info: ModelInfo, settings: AppSettings) -> None:
        self.info = info
        self.settings = settings

    async def predict(self, request: web.Request) -> web.Response:
        limit = self.settings.max_body_bytes
        too_large = f"request body over {limit} bytes"
        if request.content_length is not None and request.content_length > limit:
            return refuse(request, 413, too_large)
        try:  # the body may come chunked, without a length
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return refuse(request, 413, too_large)
        loop = asyncio.get_running_loop()
        try:
            parsed = await loop.run_in_executor(
                None, I.parse_request, body, self.settings.limits
            )
            k = self.info.k if parsed.k is None else parsed.k
            if k > self.info.k:
                raise I.BadRequest(f'"parameters.k" is at most {self.info.k}')
        except I.BadRequest as err:
            return refuse(request, 400, str(err), err.instance)
        scores = await request.app[SCORER].score(
            [instance.points for instance in parsed.instances], k
        )
        predictions = [
            {**score, **instance.echo}
            for score, instance in zip(scores, parsed.instances, strict=True)
        ]
        return json_response({"predictions": predictions})

    async def status(self, request: web.Request) -> web.Response:
        ok = {"error_code": "OK", "error_message": ""}
        return json_response(
            {
                "model_version_status": [
                    {"version": self.info.version, "state": "AVAILABLE", "status": ok}
                ]
            }
        )

    async def metadata(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "model_spec": {
                    "name": MODEL_NAME,
                    "signature_name": "",
                    "version": self.info.version,
                },
                "metadata": {"signature_def": self.info.signature_def},
                "classes": list(self.info.classes),
                "k": self.info.k,
                "threshold": self.info.threshold,
                "ondevice": bool(self.info.ondevice and self.settings.runtime_files),
            }
        )

    async def static(self, request: web.Request) -> web.StreamResponse:
        """A file of the page."""
        name = request.match_info.get("name") or "index.html"
        path = self.settings.static_dir / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound(reason=f"no such page: /{name}")
        return _file_response(path)

    async def ondevice(self, request: web.Request) -> web.Response:
        """A file of the export's on-device model, read at start-up."""
        name = request.match_info["name"]
        if name not in self.info.ondevice:
            raise web.HTTPNotFound(reason=f"no on-device model file: /ondevice/{name}")
        return web.Response(body=self.info.ondevice[name], headers=_headers(name))

    async def runtime(self, request: web.Request) -> web.StreamResponse:
        """A file of the LiteRT.js runtime that the page loads."""
        path = self.settings.runtime_files.get(request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound(reason="no such runtime file")
        return _file_response(path)


def _headers(name: str) -> dict[str, str]:
    """A file's headers: its type, and `no-cache`, which makes browsers
    revalidate it each time (ETag and Last-Modified answer 304), so a new
    version always shows."""
    content_type = CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
    return {"Cache-Control": "no-cache", "Content-Type": content_type}


def _file_response(path: Path) -> web.FileResponse:
    return web.FileResponse(path, headers=_headers(path.name))


def make_app(
    scorer_factory: Callable[[], Scorer], info: ModelInfo, settings: AppSettings
) -> web.Application:
    """The application; `scorer_factory()` makes the Scorer once the loop runs."""
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[json_errors]
    )
    handlers = Handlers(info, settings)

    async def scorer_context(app: web.Application):
        app[SCORER] = scorer_factory()
        yield
        await app[SCORER].close()

    app.cleanup_ctx.append(scorer_context)
    predict_routes = dict.fromkeys([PREDICT_ROUTE, *settings.extra_predict_routes])
    health_routes = dict.fromkeys([MODEL_ROUTE, *settings.extra_health_routes])
    for route in predict_routes:
        app.router.add_post(route, handlers.predict)
    for route in health_routes:
        app.router.add_get(route, handlers.status)
    app.router.add_get(METADATA_ROUTE, handlers.metadata)
    app.router.add_get("/", handlers.static)
    app.router.add_get("/ondevice/{name}", handlers.ondevice)
    app.router.add_get("/litert/{path:.+}", handlers.runtime)
    app.router.add_get("/{name}", handlers.static)
    return app
