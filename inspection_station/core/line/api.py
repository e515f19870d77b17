"""The station's HTTP API for a PLC gateway or an MES (issue 12's contract).

FastAPI, as in the system this replaces: request bodies are validated by pydantic models
(a bad body is a 422 naming the field), the OpenAPI schema comes for free at
/openapi.json (docs at /docs), and it runs on uvicorn in a thread of its own
(core/line/server.py). Handlers only call the Station's thread-safe methods and await
their futures: the API never touches the GUI, and a cycle runs exactly as a button
press would (a trigger during a cycle is refused and counted: 409).

Auth: when bearer tokens are configured every endpoint needs one (401 without, 403 with
a wrong one); a non-loopback bind without tokens never starts (core/line/auth.py).

State changes (a trigger, a product switch) are the station's actions (core/actions.py),
called as the request's actor — the token's name, or "api" on loopback without tokens —
exactly as the screen calls them: role-checked, persisted, audited.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AliasChoices, BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from inspection_station import __version__
from inspection_station.core.cycle import CycleResult
from inspection_station.core.detection import Detection
from inspection_station.core.errors import StationError
from inspection_station.core.line.auth import Access, TokenCheck
from inspection_station.core.line.metrics import CONTENT_TYPE, StationMetrics
from inspection_station.core.line.records import (
    IMAGE_TYPES,
    cycle_image,
    cycle_record,
    decode_upload,
    encode_image,
)
from inspection_station.core.patterns.matching import match_pattern, verdict_fields

if TYPE_CHECKING:
    from inspection_station.core.actions import Outcome, StationActions
    from inspection_station.core.station import Station

UPLOAD_CHUNK = 1 << 20
log = logging.getLogger(__name__)


# --- request bodies ------------------------------------------------------------------------


Finite = Annotated[float, Field(allow_inf_nan=False)]


class BoxIn(BaseModel):
    class_id: int = Field(ge=0)
    box: list[Finite] = Field(min_length=4, max_length=4, description="x1, y1, x2, y2 in image pixels")
    score: float = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    class_name: str = ""

    @field_validator("box")
    @classmethod
    def _ordered(cls, box: list[float]) -> list[float]:
        if not (box[0] <= box[2] and box[1] <= box[3]):
            raise ValueError("expected x1 <= x2 and y1 <= y2")
        return box


class CheckIn(BaseModel):
    # "detections" too: a `detect --json` object can be posted as it is
    boxes: list[BoxIn] = Field(max_length=100_000, validation_alias=AliasChoices("boxes", "detections"))
    width: int = Field(gt=0, le=100_000)
    height: int = Field(gt=0, le=100_000)
    pattern_set: str | None = Field(None, description="default: the station's active pattern set")


class ProductIn(BaseModel):
    pattern_set: str = Field(min_length=1)


# --- the app -------------------------------------------------------------------------------


def _auth_dependency(tokens: TokenCheck):
    def check(request: Request) -> None:
        access = tokens.check(request.headers.get("authorization"))
        if access is Access.MISSING:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        if access is Access.WRONG:
            raise HTTPException(403, "the bearer token is not valid for this station")

    return check


def _guard_requests(app: FastAPI, metrics: StationMetrics | None) -> None:
    """Every request counted (and timed) per route; a handler that raised is answered here
    with a 500 naming the fault, logged, and the server and station run on. (Re-raised, the
    exception made uvicorn drop the kept-alive connection instead of answering.)"""

    @app.middleware("http")
    async def guard(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - any handler bug: a 500, never a dead API
            log.exception("API %s %s failed", request.method, request.url.path)
            response = JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)
        if metrics is not None:
            route = request.scope.get("route")  # the template (/results/{cycle_id}): few series
            metrics.api_request(getattr(route, "path", "unmatched"), response.status_code, time.perf_counter() - started)
        return response


def _validation_errors(app: FastAPI) -> None:
    """422 with where and what (loc, msg, type), without echoing the input: an input of
    Infinity or NaN cannot be written back as JSON, and a large body need not be."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)


# an action's outcome -> the HTTP status a refusal answers with
OUTCOME_STATUS = {"denied": 403, "invalid": 422, "not_found": 404, "busy": 409, "failed": 503, "unavailable": 503}


def refusal(outcome: Outcome) -> HTTPException:
    return HTTPException(OUTCOME_STATUS.get(outcome.status, 500), outcome.message)


def request_actor(actions: StationActions, request: Request):
    """Who a request is: its token's name (set by the auth check), else "api"."""
    return actions.api_actor(getattr(request.state, "token_name", None))


def metrics_response(metrics: StationMetrics | None) -> Response:
    if metrics is None:
        raise HTTPException(404, "metrics are not enabled on this station")
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)


def create_metrics_app(metrics: StationMetrics, tokens: TokenCheck) -> FastAPI:
    """Only /metrics: for `--metrics` on a port of its own."""
    app = FastAPI(title="Inspection Station metrics", version=__version__,
                  dependencies=[Depends(_auth_dependency(tokens))])

    @app.get("/metrics", response_class=Response, summary="Prometheus text format")
    def get_metrics() -> Response:
        return metrics_response(metrics)

    return app


def create_app(
    station: Station,
    *,
    actions: StationActions,
    tokens: TokenCheck,
    metrics: StationMetrics | None = None,
    max_upload_bytes: int = 40 << 20,
) -> FastAPI:
    app = FastAPI(
        title="Inspection Station",
        version=__version__,
        summary="Trigger inspections, read verdicts, boxes and images; Prometheus metrics.",
        dependencies=[Depends(_auth_dependency(tokens))],
    )
    _guard_requests(app, metrics)
    _validation_errors(app)
    name = station.settings.station.name

    def find(cycle_id: str) -> CycleResult:
        for result in reversed(list(station.recent_results)):  # a snapshot: cycles append meanwhile
            if result.cycle_id == cycle_id:
                return result
        raise HTTPException(404, f"cycle {cycle_id!r} is not among the last {station.recent_results.maxlen} cycles")

    @app.get("/health", summary="Camera, model, pattern set, provider; ready = can take a trigger")
    def health() -> dict:
        states = dict(station.states)
        camera = states.get("camera", ("closed", ""))
        model = states.get("model", ("loading", ""))
        detector = station.detector
        pattern_set = station.active_pattern_set
        return {
            "ready": station.ready,
            "station": name,
            "busy": station.busy,
            "camera": {"state": camera[0], "reason": camera[1]},
            "model": {"state": model[0], "reason": model[1],
                      "file": detector.model_path.name if detector else None},
            "provider": detector.provider if detector else None,
            "pattern_set": pattern_set.name if pattern_set else None,
            "pattern_sets": list(station.pattern_sets),
        }

    @app.get("/ready", summary="200 when ready for a trigger, 503 (with the health body) when not")
    def ready() -> JSONResponse:
        body = health()
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    @app.post("/inspect", summary="Trigger one cycle (as the button does); 409 while one runs")
    async def inspect(request: Request) -> dict:
        outcome = actions.inspect(request_actor(actions, request), "api")
        if not outcome.ok:
            raise refusal(outcome)
        return cycle_record(await asyncio.wrap_future(outcome.value), name)

    @app.post("/inspect/image", summary="The verdict on an uploaded image (not logged as a cycle)")
    async def inspect_image(request: Request, image: Annotated[UploadFile, File()]) -> dict:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_upload_bytes + 64 * 1024:
            raise HTTPException(413, f"upload larger than {max_upload_bytes} bytes ([line] max_upload_mb)")
        data = bytearray()
        while chunk := await image.read(UPLOAD_CHUNK):
            data += chunk
            if len(data) > max_upload_bytes:
                raise HTTPException(413, f"upload larger than {max_upload_bytes} bytes ([line] max_upload_mb)")
        label = image.filename or "image"
        try:
            pixels = decode_upload(bytes(data), label)
        except StationError as exc:
            raise HTTPException(422, str(exc)) from None
        result = await asyncio.wrap_future(station.inspect_image(pixels, label))
        record = cycle_record(result, name)
        record["image"] = label
        del record["links"]  # not kept: an upload is not a station cycle
        return record

    @app.post("/check", summary="Check boxes against a pattern set (the old /check-pattern)")
    def check(body: CheckIn) -> dict:
        wanted = body.pattern_set
        pattern_set = station.pattern_sets.get(wanted) if wanted else station.active_pattern_set
        if pattern_set is None:
            have = ", ".join(station.pattern_sets) or "none"
            what = f"no pattern set {wanted!r}" if wanted else "no pattern set is active"
            raise HTTPException(404, f"pattern_set: {what}; have: {have}")
        detections = [Detection(b.class_id, b.class_name, b.score, (b.box[0], b.box[1], b.box[2], b.box[3]))
                      for b in body.boxes]
        try:
            m = match_pattern(pattern_set, detections, body.width, body.height)
        except StationError as exc:
            raise HTTPException(422, str(exc)) from None
        return verdict_fields(m.verdict, pattern_set.name, m)

    @app.get("/results/last", summary="The newest cycle")
    def last() -> dict:
        result = station.last_result
        if result is None:
            raise HTTPException(404, "no cycle has run yet")
        return cycle_record(result, name)

    @app.get("/results/{cycle_id}", summary="One of the last 50 cycles")
    def by_id(cycle_id: str) -> dict:
        return cycle_record(find(cycle_id), name)

    @app.get(
        "/results/{cycle_id}/image",
        summary="Raw or annotated image of a recent cycle",
        responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
    )
    async def image(
        cycle_id: str,
        annotated: Annotated[bool, Query()] = False,
        format: Annotated[str, Query(pattern="^(png|jpeg)$")] = "png",  # noqa: A002 - the query name
    ) -> Response:
        result = find(cycle_id)

        def render() -> bytes:
            return encode_image(cycle_image(result, annotated=annotated), format)

        try:  # encoding a 5 MP image takes tens of ms: off the event loop
            data = await run_in_threadpool(render)
        except StationError as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(data, media_type=IMAGE_TYPES[format][0])

    @app.put("/product", summary="Select the product (pattern set): saved and audited, as on the screen")
    def product(request: Request, body: ProductIn) -> dict:
        outcome = actions.select_product(request_actor(actions, request), body.pattern_set)
        if not outcome.ok:
            raise refusal(outcome)
        return {"pattern_set": body.pattern_set}

    @app.get("/metrics", response_class=Response, summary="Prometheus text format")
    def get_metrics() -> Response:
        return metrics_response(metrics)

    return app
