"""The old web frontend's request code, retyped (Frontend/communication.py, config.py, app.py and
the shared DataModels of ../shared/reference/old-system), to call the station's legacy routes
as the old frontend did. Test helper only; never the station's code.

Retyped as written, with two substitutions that do not change what goes over the wire:
httpx for requests (same GET, same query string, same header), and OpenCV for PIL where the
answer's base64 images are opened.
"""

from __future__ import annotations

import base64
import urllib.parse
from enum import Flag, auto
from typing import Annotated, Any, Literal

import cv2
import httpx
import numpy as np
from pydantic import BaseModel, Field


class ReturnValuesMain(Flag):  # DataModels.py
    DECISION = auto()
    PATTERN_NAME = auto()
    IMAGE = auto()
    IMAGE_DRAWN = auto()
    BBOXES = auto()
    CLASS_IDS = auto()
    SCORES = auto()

    def __int__(self) -> int:
        return int(self.value)


class SettingsMain(BaseModel):  # DataModels.py
    pattern_key: str | None = None
    min_score: Annotated[float, Field(strict=False, le=1, ge=0)] | None = 0.5
    return_options: Annotated[int, Field(strict=False, le=int(~ReturnValuesMain(0)), ge=0)] | None = int(
        ~ReturnValuesMain(0))
    token: str | None = None


class BaslerCameraSettings(BaseModel):  # DataModels_BaslerCameraAdapter.py (defaults: env unset)
    serial_number: int | None = None
    ip_address: str | None = None
    subnet_mask: str | None = None
    transmission_type: Literal["Unicast", "Multicast", "Broadcast"] | None = None
    destination_ip_address: str | None = None
    destination_port: int | None = None
    convert_to_format: str | None = "null"
    pixel_format: str | None = "Undefined"


class ImageParams(BaseModel):  # DataModels_BaslerCameraAdapter.py
    format: str | None = "jpeg"
    quality: int | None = None
    rotation_angle: float | None = None
    rotation_expand: bool | None = None


def create_auth_headers(token: str | None = None) -> dict[str, str]:  # utils
    return {"Authorization": f"Bearer {token}"} if token else {}


def build_url(address: str, camera_params: BaslerCameraSettings, image_params: ImageParams,
              settings: SettingsMain) -> str:  # communication.py
    if not address.startswith(("http://", "https://")):
        address = "http://" + address
    parameter = camera_params.model_dump() | image_params.model_dump() | settings.model_dump()
    params = {ky: vl for ky, vl in parameter.items() if (vl is not None) and (vl != "") and (ky != "token")}
    return f"{address}?{urllib.parse.urlencode(params)}"


def request_backend(address: str, camera_params: BaslerCameraSettings, image_params: ImageParams,
                    settings: SettingsMain, timeout: int = 1000, token: str | None = None,
                    verify: Any = True) -> dict[str, Any] | None:  # communication.py
    url = build_url(address, camera_params, image_params, settings)
    response = httpx.get(url=url, timeout=timeout, headers=create_auth_headers(token), verify=verify)
    status_code = response.status_code
    content = None
    if 200 <= status_code < 300:
        content = response.json()
    elif 400 <= status_code < 600:
        raise Exception(f"Server returned status code {status_code} with message {response.text}")
    return content


def base64_to_image(string: str) -> np.ndarray:  # utils_image.py (PIL.Image.open -> cv2.imdecode)
    msg = base64.b64decode(string)
    image = cv2.imdecode(np.frombuffer(msg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not an image")
    return image


def trigger(address: str, *, pattern_key: str | None = None, min_score: float | None = None,
            token: str | None = None, verify: Any = True) -> dict[str, Any]:
    """What app.py's "Trigger" button does with the answer, down to the message it shows."""
    settings_backend = SettingsMain()
    if min_score is not None:  # config.py: BACKEND_MIN_CONFIDENCE
        settings_backend.min_score = min_score
    if pattern_key is not None:  # config.py: BACKEND_PATTERN_KEY
        settings_backend.pattern_key = pattern_key
    settings_backend.token = token  # config.py: BACKEND_AUTH_TOKEN
    content = request_backend(address, BaslerCameraSettings(), ImageParams(), settings_backend,
                              timeout=10, token=settings_backend.token, verify=verify)
    state: dict[str, Any] = {"raw": None, "bboxes": None}
    images = content["images"]
    if images is not None:
        state["raw"] = base64_to_image(images["img"])
        if "img_drawn" in images:
            state["bboxes"] = base64_to_image(images["img_drawn"])
    if "results" in content:
        result = content["results"]
        bboxes, class_ids, scores = result["bboxes"], result["class_ids"], result["scores"]
    else:
        bboxes, class_ids, scores = [], [], []
    state.update(decision=content["decision"], pattern_name=content["pattern_name"],
                 pattern_lg=content["pattern_lg"], boxes=(bboxes, class_ids, scores))
    if state["decision"]:
        state["message"] = f"Bounding-Boxes found for pattern {state['pattern_name']}"
    elif state["pattern_lg"] is not None:
        lg = state["pattern_lg"]
        state["message"] = (f"Not all objects were found. "
                            f"Best pattern: {state['pattern_name']} with {sum(lg)} / {len(lg)}.")
    else:
        state["message"] = "No pattern provided to check bounding-boxes."
    return state
