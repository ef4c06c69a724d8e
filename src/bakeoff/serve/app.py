"""The HTTP face of a Predictor: decode the request, call the predictor, encode JSON. No model logic here.

POST /v1/predict   multipart field `file`, or the raw image as the body; ?model=NAME&top_k=3&include_input=1
GET  /v1/models    every model: name, dataset, classes, test accuracy, parameters
GET  /healthz      liveness
GET  /docs         OpenAPI docs: Swagger UI served from the swagger-ui-bundle package, no CDN
GET  /             the web page (static/, no external resources)
"""
from __future__ import annotations

import contextlib
import gc
import os
import socket
from pathlib import Path

import anyio
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from .. import __version__
from ..data.photos.decode import decode_bytes
from ..data.photos.preprocess import MAX_PIXELS, PhotoError
from ..errors import BakeoffError
from .batching import (
    DEFAULT_MAX_BATCH,
    DEFAULT_WINDOW_MS,
    BatcherClosed,
    BatchFailed,
    ModelBatchers,
)
from .budget import DEFAULT_BUDGET, MemoryBudget
from .guards import Guards
from .predictor import decode_side, Predictor
from .protocol import connection_limit, HEAD_TIMEOUT, MAX_HEAD, with_head_timeout

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 10 * 1024 * 1024  # bytes: a 12 Mpixel phone JPEG is 3-6 MB
MULTIPART_SLACK = 16 * 1024  # boundaries and part headers around the file
BODY_TIMEOUT = 60.0  # s: 10 MB at 2 Mbit/s takes 40 s
BODY_SCHEMA = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the photo"}}}},
    "image/*": {"schema": {"type": "string", "format": "binary", "description": "the photo as the body"}}}}}


class TooLarge(Exception):
    pass


def create_app(predictor: Predictor, max_upload: int = MAX_UPLOAD, max_pixels: int = MAX_PIXELS,
               concurrency: int | None = None, memory: int = DEFAULT_BUDGET, host: str | None = None,
               allowed_hosts: tuple[str, ...] = (), batch_window_ms: float = 0,
               max_batch: int = DEFAULT_MAX_BATCH) -> FastAPI:
    """The app around a loaded Predictor. Photos are decoded `concurrency` at a time (default: one per core) and
    within `memory` bytes together (budget.py); `host`: the address served on, for the Host check (guards.py;
    None: no check, for the app driven in-process). `batch_window_ms` > 0: concurrent requests share forward
    passes, up to `max_batch` views each (batching.py; `bakeoff serve` batches by default, the app in-process
    only when asked); 0: each request runs its own."""
    batchers = ModelBatchers(predictor.models, batch_window_ms, max_batch) if batch_window_ms > 0 else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if batchers is not None:  # after uvicorn has answered the requests in flight
            await anyio.to_thread.run_sync(batchers.close)

    app = FastAPI(title="bakeoff", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Image classifiers trained by bakeoff, side by side. The page is at /.")
    app.add_middleware(Guards, bound_host=host, allowed_hosts=allowed_hosts)
    _offline_docs(app)
    limiter = anyio.CapacityLimiter(concurrency or max(2, os.cpu_count() or 2))
    budget = MemoryBudget(memory)

    @contextlib.asynccontextmanager
    async def decoding_room(data: bytes, chosen):
        """What decoding will cost, from the header alone, then wait until the budget has room for it."""
        cost = await anyio.to_thread.run_sync(decode_bytes, data, max_pixels, decode_side(chosen), limiter=limiter)
        async with budget.hold(cost):
            yield

    @app.exception_handler(RequestValidationError)
    async def one_line_validation_error(request: Request, exc: RequestValidationError):
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e.get("loc", ())[1:]) or "request"
        return JSONResponse({"detail": f"{where}: {e.get('msg', 'invalid')}"}, status_code=422)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "models": len(predictor.models)}

    @app.get("/v1/models")
    def models() -> dict:
        return {"models": [m.describe() for m in predictor.models], "max_upload_bytes": max_upload}

    @app.post("/v1/predict", openapi_extra=BODY_SCHEMA)
    async def predict(request: Request,
                      model: str | None = Query(None, description="one model's name (default: every model)"),
                      top_k: int = Query(3, ge=1, le=1000, description="classes per model, best first"),
                      include_input: bool = Query(False, description="add each model's input as a PNG data URL")):
        """Classify one photo with every model (or `model`): top-k labels, probabilities and milliseconds."""
        try:
            chosen = predictor.select(model)  # an unknown name fails before the upload is read
        except BakeoffError as e:
            raise HTTPException(422, str(e)) from None
        data = await read_image(request, max_upload)
        try:
            if batchers is None:
                async with decoding_room(data, chosen):
                    return JSONResponse(await anyio.to_thread.run_sync(
                        lambda: predictor.predict(data, top_k, model, include_input, max_pixels, name="upload"),
                        limiter=limiter))
            with batchers.preparing([m.name for m in chosen]):  # a forward under way waits for these views
                async with decoding_room(data, chosen):
                    prepared = await anyio.to_thread.run_sync(
                        lambda: predictor.prepare(data, model, include_input, max_pixels, name="upload"),
                        limiter=limiter)
            logits, ms = await batchers.forward(prepared.inputs)  # holds neither a thread nor decoding memory
            # plain JSON types already: a JSONResponse skips FastAPI's walk of the answer (jsonable_encoder)
            return JSONResponse(predictor.answer(prepared, logits, ms, top_k))
        except PhotoError as e:
            raise HTTPException(e.status, str(e)) from None
        except BakeoffError as e:
            raise HTTPException(422, str(e)) from None
        except BatcherClosed as e:
            raise HTTPException(503, str(e)) from None
        except BatchFailed as e:
            raise HTTPException(500, str(e)) from None

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _offline_docs(app: FastAPI) -> None:
    """/docs with Swagger UI's files served from this machine: FastAPI's default loads them from a CDN."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="bakeoff API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")


async def read_image(request: Request, limit: int, timeout: float = BODY_TIMEOUT) -> bytes:
    """The photo's bytes from a multipart `file` field or the raw body, refused (413) as soon as it passes `limit`,
    or (408) when it has not all arrived within `timeout` seconds: a trickling client holds no slot for long."""
    try:
        with anyio.fail_after(timeout):
            return await _read_image(request, limit)
    except TimeoutError:
        raise HTTPException(408, f"the upload did not arrive within {timeout:g} s") from None


async def _read_image(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    body_limit = limit + MULTIPART_SLACK
    if declared and declared.isdigit() and int(declared) > body_limit:
        raise HTTPException(413, f"upload is {int(declared):,} bytes; the limit is {limit:,}")

    async def limited_stream():
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > body_limit:
                raise TooLarge()
            yield chunk

    try:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await MultiPartParser(request.headers, limited_stream(), max_files=1, max_fields=8).parse()
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(400, "no image: send the photo as multipart field 'file' or as the body")
            data = await upload.read(limit + 1)
            await form.close()
        else:
            data = b"".join([chunk async for chunk in limited_stream()])
    except TooLarge:
        raise HTTPException(413, f"upload is over the limit of {limit:,} bytes") from None
    except MultiPartException as e:
        raise HTTPException(400, f"bad multipart body: {e.message}") from None
    if len(data) > limit:
        raise HTTPException(413, f"upload is over the limit of {limit:,} bytes")
    if not data:
        raise HTTPException(400, "no image: send the photo as multipart field 'file' or as the body")
    return data


def check_port_free(host: str, port: int) -> None:
    """A taken port is one line before the models load, not a uvicorn traceback after."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise BakeoffError(f"cannot listen on {host}:{port} ({e.strerror}); pick another with --port") from None


def run_server(predictor: Predictor, host: str, port: int, max_upload: int = MAX_UPLOAD,
               memory: int = DEFAULT_BUDGET, allowed_hosts: tuple[str, ...] = (),
               head_timeout: float = HEAD_TIMEOUT, batch_window_ms: float = DEFAULT_WINDOW_MS,
               max_batch: int = DEFAULT_MAX_BATCH) -> None:
    """Serve until Ctrl-C. Slow or stalled clients are cut off (a request's head within `head_timeout`, its
    body within BODY_TIMEOUT, 5 s idle between requests) so they cannot hold the slots others need. Concurrent
    requests share forward passes (`batch_window_ms`, `max_batch`: see create_app)."""
    import uvicorn

    app = create_app(predictor, max_upload, memory=memory, host=host, allowed_hosts=allowed_hosts,
                     batch_window_ms=batch_window_ms, max_batch=max_batch)
    # Everything alive now (models, torch, the app) lives as long as the server: frozen, the collector never walks
    # it again. Its full collections had stalled every request in flight: p99 200-250 -> 110-150 ms under 32
    # clients (docs/serving.md).
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning", http=with_head_timeout(head_timeout),
                loop="auto",  # uvloop where installed
                limit_concurrency=connection_limit(), timeout_keep_alive=5,
                h11_max_incomplete_event_size=MAX_HEAD)  # h11 only; protocol.py counts httptools' head
