"""The old backend's routes, for the old clients unchanged (`[line] legacy_api = true`).

The plant's gateway, MES scripts and the old web frontend call the old system's backend
(FastAPI on port 5051). These routes answer them with the station's own cycle, with the
old parameters and JSON keys (../shared/reference/old-system: Backend/main.py,
DataModels.py, Frontend/communication.py):

- `GET /main/with-camera?pattern_key=&min_score=&return_options=` — a station cycle, through
  the station's actions as the request's actor (trigger "legacy": a CSV row, counted, 409
  while one runs, 503 on hold). `pattern_key` is that
  cycle's pattern set (the station's product stays as it is), `min_score` drops weaker
  detections before the check (the old default 0.5), `return_options` the old bit flags:
  1 decision, 2 pattern_name + pattern_lg, 4 images.img, 8 images.img_drawn, 16/32/64
  results.bboxes/class_ids/scores (127 = all, the default). The camera and image query
  parameters the old frontend also sends (exposure, pixel format, ...) are accepted and
  ignored: the station's [camera] settings apply (said once in the log).
- `GET|POST /main` with a file `image` — the same on an uploaded image (the upload lane:
  no station cycle).
- `POST /check-pattern` `{coordinates, class_ids, pattern_key}` — `{decision, pattern_name, lg}`.
- `GET /image-raw`, `/image-draw` — the newest image (JPEG) as the old backend kept it.
- `POST /inference` with a file `image` — the old inference server's `{bboxes, class_ids, scores}`.

Differences, on purpose: `decision` is the station's verdict (a one-slot pattern can pass;
the old greedy check never passed one); an ERROR cycle answers as the old backend did for
its failures (408 for the camera, 400 otherwise) with the reason; a busy station is 409.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from enum import IntFlag
from typing import TYPE_CHECKING, Annotated

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.errors import StationError
from inspection_station.core.line.api import (
    MAX_CLASS_ID,
    inspect_upload,
    read_upload,
    refusal,
    request_actor,
)
from inspection_station.core.line.records import cycle_image, encode_image
from inspection_station.core.patterns.matching import match_pattern

if TYPE_CHECKING:
    from inspection_station.core.actions import StationActions
    from inspection_station.core.line.uploads import UploadLane
    from inspection_station.core.patterns.model import PatternSet
    from inspection_station.core.station import Station

log = logging.getLogger(__name__)
SOURCE = "legacy"


class ReturnOptions(IntFlag):  # the old DataModels.ReturnValuesMain, bit for bit
    DECISION = 1
    PATTERN_NAME = 2
    IMAGE = 4
    IMAGE_DRAWN = 8
    BBOXES = 16
    CLASS_IDS = 32
    SCORES = 64


ALL_OPTIONS = int(sum(ReturnOptions))  # 127: the old default
# what the old frontend and backend passed to the camera adapter: accepted, ignored
CAMERA_PARAMETERS = frozenset({
    "serial_number", "ip_address", "subnet_mask", "transmission_type", "destination_ip_address",
    "destination_port", "convert_to_format", "pixel_format", "acquisition_mode", "format", "quality",
    "rotation_angle", "rotation_expand", "exposure_time_microseconds", "timeout", "timeout_ms",
    "emulate_camera", "token",
})


Options = Annotated[int, Query(ge=0, le=ALL_OPTIONS, description="the old bit flags (127 = all)")]
MinScore = Annotated[float, Query(ge=0.0, le=1.0, allow_inf_nan=False, description="the old default: 0.5")]


class PatternRequest(BaseModel):  # the old DataModels.PatternRequest
    coordinates: list[Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=4, max_length=4)]] = Field(
        max_length=100_000, description="x1, y1, x2, y2 per box, as fractions of the image (0..1)")
    class_ids: list[Annotated[int, Field(ge=0, le=MAX_CLASS_ID)]] = Field(max_length=100_000)
    pattern_key: str | None = None
    pattern: dict | None = Field(None, description="not supported: name a pattern set with pattern_key")

    @model_validator(mode="after")
    def _same_length(self) -> PatternRequest:
        if len(self.coordinates) != len(self.class_ids):
            raise ValueError(f"coordinates ({len(self.coordinates)}) and class_ids ({len(self.class_ids)}) "
                             "must have the same length")
        return self


def add_legacy_routes(
    app: FastAPI,
    station: Station,
    *,
    actions: StationActions,
    uploads: UploadLane | None,
    upload_limit: tuple[int, str],
    json_limit: tuple[int, str],
) -> dict[str, tuple[int, str]]:
    """Add the old routes to `app`; returns their body limits for the request guard."""
    latest: list[CycleResult] = []  # the newest legacy upload's result (with /main/with-camera: the station's)
    told: set[str] = set()

    def pattern_for(key: str | None) -> PatternSet | None:
        """The old `pattern_key` (matched case-insensitively, as the old backend lowered it)."""
        if key is None or key == "":
            return None
        sets = station.pattern_sets
        found = sets.get(key) or next((p for n, p in sets.items() if n.lower() == key.lower()), None)
        if found is None:
            raise HTTPException(404, f"pattern_key: no pattern set {key!r}; have: {', '.join(sets) or 'none'}")
        return found

    def note_ignored(request: Request) -> None:
        sent = sorted(CAMERA_PARAMETERS.intersection(request.query_params) - told - {"token"})
        if sent:
            told.update(sent)
            log.info("legacy API: the client sent %s; ignored, the station's [camera] settings apply",
                     ", ".join(sent))

    async def answer(result: CycleResult, options: int) -> JSONResponse:
        if result.verdict is Verdict.ERROR:
            status = 408 if result.error.startswith("camera") else 400
            raise HTTPException(status, result.error)
        content = await run_in_threadpool(old_content, station, result, options)
        return JSONResponse(content)

    @app.get("/main/with-camera", tags=["legacy"], summary="Old backend: a station cycle, the old JSON keys")
    async def main_with_camera(
        request: Request,
        pattern_key: str | None = None,
        min_score: MinScore = 0.5,
        return_options: Options = ALL_OPTIONS,
    ) -> JSONResponse:
        note_ignored(request)
        chosen = pattern_for(pattern_key)
        outcome = actions.inspect(request_actor(actions, request), SOURCE,
                                  pattern_set=chosen.name if chosen else None, min_score=min_score)
        if not outcome.ok:
            raise refusal(outcome)
        result = await asyncio.wrap_future(outcome.value)
        latest[:] = []  # the station's newest cycle is the newest image now
        return await answer(result, return_options)

    async def upload_result(image: UploadFile, chosen: PatternSet | None, min_score: float) -> CycleResult:
        data = await read_upload(image, uploads, station.settings.camera.max_image_pixels)
        return await inspect_upload(uploads, data, image.filename or "image", pattern_set=chosen, min_score=min_score)

    async def main_upload(
        request: Request,
        image: Annotated[UploadFile, File()],
        pattern_key: str | None = None,
        min_score: MinScore = 0.5,
        return_options: Options = ALL_OPTIONS,
    ) -> JSONResponse:
        note_ignored(request)
        result = await upload_result(image, pattern_for(pattern_key), min_score)
        latest[:] = [result]
        return await answer(result, return_options)

    # the old backend declared /main as GET with a file body; POST is what other clients send
    app.add_api_route("/main", main_upload, methods=["GET", "POST"], tags=["legacy"],
                      summary="Old backend: the verdict on an uploaded image, the old JSON keys")

    @app.post("/check-pattern", tags=["legacy"], summary="Old backend: boxes (fractions) against a pattern set")
    def check_pattern(body: PatternRequest) -> dict:
        if body.pattern is not None:
            raise HTTPException(422, "pattern: an inline pattern is not supported; name a pattern set with pattern_key")
        pattern_set = pattern_for(body.pattern_key) or station.active_pattern_set
        if pattern_set is None:
            raise HTTPException(404, "pattern_key: no pattern set is active; name one")
        detections = [Detection(c, "", 1.0, (box[0], box[1], box[2], box[3]))
                      for box, c in zip(body.coordinates, body.class_ids, strict=True)]
        try:
            match = match_pattern(pattern_set, detections, 1.0, 1.0)
        except StationError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"decision": match.ok, "pattern_name": match.variant, "lg": [s.matched for s in match.slots]}

    def newest() -> CycleResult | None:
        candidates = [r for r in (*latest, station.last_result) if r is not None]
        return max(candidates, key=lambda r: r.timestamp) if candidates else None

    async def image(drawn: bool) -> Response:
        result = newest()
        if result is None:
            return Response("No image captured yet", media_type="text/plain")
        try:
            data = await run_in_threadpool(old_image, station, result, drawn)
        except StationError:
            return Response("No image captured yet", media_type="text/plain")
        return Response(data, media_type="image/jpeg")

    @app.get("/image-raw", tags=["legacy"], summary="Old backend: the newest image, JPEG")
    async def image_raw() -> Response:
        return await image(False)

    @app.get("/image-draw", tags=["legacy"], summary="Old backend: the newest image with boxes, JPEG")
    async def image_draw() -> Response:
        return await image(True)

    @app.post("/inference", tags=["legacy"], summary="Old inference server: boxes of an uploaded image")
    async def inference(image: Annotated[UploadFile, File()]) -> dict:
        if not (image.content_type or "").startswith("image/"):
            raise HTTPException(400, "Uploaded file is not an image.")
        result = await upload_result(image, None, 0.0)
        if result.verdict is Verdict.ERROR and not result.detections and not result.error.startswith("pattern"):
            raise HTTPException(400, result.error)
        return old_results(result.detections)

    return {"/main": upload_limit, "/inference": upload_limit, "/check-pattern": json_limit}


# --- the old JSON ---------------------------------------------------------------------------


def old_results(detections) -> dict:
    """The old inference server's keys: pixel boxes to 0.1, scores to 0.001."""
    return {
        "bboxes": [[round(float(v), 1) for v in d.box] for d in detections],
        "class_ids": [int(d.class_id) for d in detections],
        "scores": [round(float(d.score), 3) for d in detections],
    }


def old_content(station: Station, result: CycleResult, options: int) -> dict:
    """The old backend's response for `result`, shaped by the `return_options` bits."""
    flags = ReturnOptions(options)
    match = result.match
    content: dict = {}
    if ReturnOptions.DECISION in flags:
        content["decision"] = result.verdict is Verdict.OK if match is not None else None
    if ReturnOptions.PATTERN_NAME in flags:
        content["pattern_name"] = match.variant if match is not None else None
        content["pattern_lg"] = [s.matched for s in match.slots] if match is not None else None
    if flags & (ReturnOptions.IMAGE | ReturnOptions.IMAGE_DRAWN):
        content["images"] = {}
        if ReturnOptions.IMAGE in flags:
            content["images"]["img"] = base64.b64encode(old_image(station, result, False)).decode()
        if ReturnOptions.IMAGE_DRAWN in flags:
            content["images"]["img_drawn"] = base64.b64encode(old_image(station, result, True)).decode()
    if flags & (ReturnOptions.BBOXES | ReturnOptions.CLASS_IDS | ReturnOptions.SCORES):
        every = old_results(result.detections)
        keys = [("bboxes", ReturnOptions.BBOXES), ("class_ids", ReturnOptions.CLASS_IDS),
                ("scores", ReturnOptions.SCORES)]
        content["results"] = {key: every[key] for key, bit in keys if bit in flags}
    return content


def old_image(station: Station, result: CycleResult, drawn: bool) -> bytes:
    """The cycle's image as JPEG at the archive's quality; drawn: boxes and the best variant's
    slots (filled green, missing red), as the old backend drew the failed pattern's bounds."""
    image = cycle_image(result, annotated=False)
    if drawn:
        from inspection_station.core.patterns.drawing import draw_judgement

        pattern_set = station.pattern_sets.get(result.pattern_set)
        match = result.match
        slots = None
        if pattern_set is not None and match is not None and match.variant is not None:
            slots = pattern_set.variants.get(match.variant)
        if slots is not None and match is not None and len(slots) == len(match.slots):
            image = draw_judgement(image, slots, [s.matched for s in match.slots], result.detections)
        else:
            image = cycle_image(result, annotated=True)
    return encode_image(image, "jpeg", station.settings.results.image_quality)
