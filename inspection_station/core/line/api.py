"""The station's HTTP API for a PLC gateway or an MES (issue 12's contract).

FastAPI, as in the system this replaces: request bodies are validated by pydantic models
(a bad body is a 422 naming the field), the OpenAPI schema comes for free at
/openapi.json (docs at /docs), and it runs on uvicorn in a thread of its own
(core/line/server.py). Handlers only call the Station's thread-safe methods and await
their futures: the API never touches the GUI, and a cycle runs exactly as a button
press would (a trigger during a cycle is refused and counted: 409).

Auth: when bearer tokens are configured every endpoint needs one (401 without, 403 with
a wrong one); a non-loopback bind without tokens never starts (core/line/auth.py). In
front of the app, core/line/request_guard.py refuses foreign Host names, cross-origin state
changes, too many requests and oversized bodies before anything is parsed;
core/line/server.py bounds the connections. With `[line] legacy_api` the old backend's
routes are served too (core/line/legacy.py).

State changes (a trigger, a product switch) are the station's actions (core/actions.py),
called as the request's actor — the token's name, or "api" on loopback without tokens —
exactly as the screen calls them: role-checked, persisted, audited.
"""

from __future__ import annotations

import asyncio
import logging
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
from inspection_station.core.image_header import HEADER_BYTES
from inspection_station.core.line.auth import Access, TokenCheck
from inspection_station.core.line.metrics import CONTENT_TYPE, StationMetrics
from inspection_station.core.line.records import (
    IMAGE_TYPES,
    cycle_image,
    cycle_record,
    encode_image,
)
from inspection_station.core.line.request_guard import HostPolicy, RequestGuard
from inspection_station.core.line.uploads import UploadRefused, check_upload_header
from inspection_station.core.patterns.matching import match_pattern, verdict_fields
from inspection_station.core.settings.model import LineSettings

if TYPE_CHECKING:
    from inspection_station.core.actions import Outcome, StationActions
    from inspection_station.core.line.services import Transport
    from inspection_station.core.line.uploads import UploadLane
    from inspection_station.core.station import Station

log = logging.getLogger(__name__)
MAX_CLASS_ID = 1_000_000  # no detector has more classes; larger ids are refused, not overflowed


# --- request bodies ------------------------------------------------------------------------


Finite = Annotated[float, Field(allow_inf_nan=False)]


class BoxIn(BaseModel):
    class_id: int = Field(ge=0, le=MAX_CLASS_ID)
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
        grant = tokens.authenticate(request.headers.get("authorization"))
        if grant.access is Access.MISSING:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        if grant.access is Access.WRONG:
            raise HTTPException(403, "the bearer token is not valid for this station")
        # who: the token's name (unnamed: token-<8 hex>), the actions' actor (request_actor)
        request.state.token_name = grant.actor if tokens.required else None

    return check


def _internal_errors(app: FastAPI) -> None:
    """A handler that raised is answered here with a 500 naming the fault, logged, and the
    server and station run on (core/line/request_guard.py keeps the connection)."""

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.error("API %s %s failed", request.method, request.url.path, exc_info=(type(exc), exc, exc.__traceback__))
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)


def guarded(app: FastAPI, line: LineSettings, metrics: StationMetrics | None, body_limits=None) -> RequestGuard:
    """The app behind the request guard (Host, Origin, requests in flight, body limits, counts)."""
    return RequestGuard(
        app,
        routes=lambda: app.router.routes,
        hosts=HostPolicy(line.allowed_hosts),
        cors_origins=line.cors_origins,
        body_limits=body_limits,
        max_in_flight=line.max_requests_in_flight,
        on_request=metrics.api_request if metrics is not None else None,
    )


async def read_upload(image: UploadFile, uploads: UploadLane | None, max_pixels: int) -> bytes:
    """An uploaded file's bytes, its header sized first and a place in the upload lane taken
    (release it, or hand the bytes to `uploads.submit`, which does)."""
    if uploads is None:
        raise HTTPException(503, "uploads are not served here")
    label = image.filename or "image"
    head = await image.read(HEADER_BYTES)
    try:
        check_upload_header(head, label, max_pixels)
        uploads.reserve()
    except UploadRefused as exc:
        raise HTTPException(exc.status, str(exc), headers={"Retry-After": "1"} if exc.status == 503 else None) from None
    try:
        return head + await image.read()
    except BaseException:
        uploads.release()
        raise


async def inspect_upload(uploads: UploadLane | None, data: bytes, label: str, **options) -> CycleResult:
    """The verdict on an uploaded file's bytes (`read_upload` first); 4xx for what is no image.
    `options`: the upload's own pattern_set / min_score (UploadLane.submit)."""
    if uploads is None:
        raise HTTPException(503, "uploads are not served here")
    try:
        return await asyncio.wrap_future(uploads.submit(data, label, **options))
    except UploadRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except StationError as exc:  # not a readable image
        raise HTTPException(422, str(exc)) from None


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


def create_metrics_app(metrics: StationMetrics, tokens: TokenCheck, line: LineSettings | None = None) -> RequestGuard:
    """Only /metrics: for `--metrics` on a port of its own."""
    app = FastAPI(title="Inspection Station metrics", version=__version__,
                  dependencies=[Depends(_auth_dependency(tokens))])
    _internal_errors(app)

    @app.get("/metrics", response_class=Response, summary="Prometheus text format")
    def get_metrics() -> Response:
        return metrics_response(metrics)

    return guarded(app, line or LineSettings(), metrics)


def create_app(
    station: Station,
    *,
    actions: StationActions,
    tokens: TokenCheck,
    metrics: StationMetrics | None = None,
    line: LineSettings | None = None,
    uploads: UploadLane | None = None,
    transport: Transport | None = None,
) -> RequestGuard:
    line = line or LineSettings()
    app = FastAPI(
        title="Inspection Station",
        version=__version__,
        summary="Trigger inspections, read verdicts, boxes and images; Prometheus metrics.",
        dependencies=[Depends(_auth_dependency(tokens))],
    )
    _internal_errors(app)
    _validation_errors(app)
    name = station.settings.station.name
    upload_bytes = int(line.max_upload_mb * (1 << 20))
    json_bytes = int(line.max_json_mb * (1 << 20))
    upload_limit = (upload_bytes + 64 * 1024, "[line] max_upload_mb")  # + the multipart framing
    json_limit = (json_bytes, "[line] max_json_mb")
    body_limits = {"/inspect/image": upload_limit, "/check": json_limit, "/product": json_limit}

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
            "transport": transport.describe() if transport is not None else {"tls": False},
            "legacy_api": line.legacy_api,
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

    @app.post("/inspect/image", summary="The verdict on an uploaded image (no station cycle; "
              "a CSV row only with [line] log_uploads)")
    async def inspect_image(image: Annotated[UploadFile, File()]) -> dict:
        label = image.filename or "image"
        data = await read_upload(image, uploads, station.settings.camera.max_image_pixels)
        result = await inspect_upload(uploads, data, label)
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

    if line.legacy_api:
        from inspection_station.core.line.legacy import add_legacy_routes

        body_limits |= add_legacy_routes(app, station, actions=actions, uploads=uploads, upload_limit=upload_limit,
                                         json_limit=json_limit)
    return guarded(app, line, metrics, body_limits)
