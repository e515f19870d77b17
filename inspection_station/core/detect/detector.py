"""ONNX object detector: one InferenceSession, letterbox, YOLO output decoders, NMS.

Any YOLO-family export works without configuration: the output layout is
recognised from the shape of the model's output (see `LAYOUTS`). Boxes come back
in ORIGINAL image pixels, clipped to the image.
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inspection_station.core.detect.decoders import nms_per_class, recognise_layout
from inspection_station.core.detect.letterbox import Letterbox, letterbox
from inspection_station.core.detection import Detection
from inspection_station.core.errors import ModelError
from inspection_station.core.settings.model import ModelSettings

# Providers in the order we prefer them when the settings name none that is available.
KNOWN_PROVIDERS = ("DmlExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def _ort():
    # Imported on first use: `inspection-station --help` and the GUI's start stay fast.
    import onnxruntime

    return onnxruntime


# --- class names ----------------------------------------------------------------------------


def _parse_names(text: str) -> list[str] | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, dict):
        try:
            return [str(value[k]) for k in sorted(value, key=int)]
        except (TypeError, ValueError):
            return None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return None


def _sidecar_names(model_path: Path) -> list[str] | None:
    """`<model>.names` or `<model stem>.txt`: one class name per line."""
    for candidate in (model_path.with_suffix(".names"), model_path.with_suffix(".txt")):
        if candidate.is_file():
            lines = [ln.strip() for ln in candidate.read_text(encoding="utf-8").splitlines()]
            return [ln for ln in lines if ln]
    return None


# --- the detector ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DetectorOutput:
    detections: list[Detection]
    preprocess_ms: float
    inference_ms: float
    decode_ms: float


def choose_providers(preference: Sequence[str], available: Sequence[str]) -> list[str]:
    """The preferred providers onnxruntime actually offers, CPU always last."""
    chosen = [p for p in preference if p in available and p != "CPUExecutionProvider"]
    return [*chosen, "CPUExecutionProvider"]


class Detector:
    """One ONNX model, ready to run; thread-compatible (one caller at a time)."""

    def __init__(self, session, model_path: Path, settings: ModelSettings) -> None:
        self.session = session
        self.model_path = model_path
        self.settings = settings
        inp = session.get_inputs()[0]
        self.input_name: str = inp.name
        self.input_dtype = _input_dtype(inp, model_path)
        self.input_size: tuple[int, int] = _input_size(inp, settings, model_path)  # (w, h)
        self.output_name: str = session.get_outputs()[0].name
        self.provider: str = session.get_providers()[0]
        self.metadata: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)
        # Warm-up: the first run allocates and optimises; it also tells us the layout.
        tensor, _ = self.preprocess(np.zeros((self.input_size[1], self.input_size[0], 3), np.uint8))
        try:
            out = session.run([self.output_name], {self.input_name: tensor})[0]
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{model_path}: the warm-up run failed: {_short(exc)}") from None
        self.layout = recognise_layout(tuple(out.shape), *self.input_size)
        self.num_classes = self.layout.num_classes(tuple(out.shape))
        self.class_names = self._class_names()

    # -- construction --

    @classmethod
    def load(cls, path: str | Path, settings: ModelSettings | None = None) -> Detector:
        from inspection_station.core.detect.class_map import with_class_map

        settings = settings or ModelSettings()
        model_path = Path(path)
        settings = with_class_map(settings)  # names (and colours) from the old class map CSV
        if not model_path.is_file():
            raise ModelError(f"{model_path}: no such model file")
        ort = _ort()
        providers = choose_providers(settings.providers, ort.get_available_providers())
        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings of onnxruntime are not the operator's business
        if settings.intra_op_threads:
            options.intra_op_num_threads = settings.intra_op_threads
        if "DmlExecutionProvider" in providers:
            # DirectML cannot use memory patterns or parallel execution.
            options.enable_mem_pattern = False
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            session = ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
        except Exception as exc:
            raise ModelError(f"{model_path}: not a loadable ONNX model: {_short(exc)}") from None
        return cls(session, model_path, settings)

    def _class_names(self) -> list[str]:
        names = list(self.settings.class_names) or None
        if names is None and "names" in self.metadata:
            names = _parse_names(self.metadata["names"])
        if names is None:
            names = _sidecar_names(self.model_path)
        names = names or []
        count = self.num_classes if self.num_classes is not None else len(names)
        return [names[i] if i < len(names) else str(i) for i in range(max(count, len(names)))]

    # -- running --

    @property
    def class_count(self) -> int | None:
        """How many classes the model is known to have (to validate patterns); None when
        unknown: an end-to-end output does not tell, and no names were found."""
        return len(self.class_names) or None

    def class_name(self, class_id: int) -> str:
        return self.class_names[class_id] if 0 <= class_id < len(self.class_names) else str(class_id)

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        elif image.ndim != 3 or image.shape[2] not in (3, 4):
            raise ModelError(f"expected an H x W x 3 RGB image, got an array of shape {image.shape}")
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ModelError("the image has no pixels")
        canvas, box = letterbox(image, *self.input_size)
        # HWC uint8 -> NCHW float in [0, 1] in one C++ pass.
        tensor = cv2.dnn.blobFromImage(canvas, scalefactor=1 / 255.0)
        if self.input_dtype != np.float32:
            tensor = tensor.astype(self.input_dtype)
        return tensor, box

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        try:
            out = self.session.run([self.output_name], {self.input_name: tensor})[0]
        except Exception as exc:
            raise ModelError(f"{self.model_path.name}: inference failed: {_short(exc)}") from None
        return out.astype(np.float32, copy=False)

    def decode(self, out: np.ndarray, box: Letterbox) -> list[Detection]:
        s = self.settings
        c = self.layout.decode(out, s.confidence)
        if self.layout.needs_nms:
            keep = nms_per_class(c, s.iou, s.max_detections)
        else:
            keep = np.argsort(-c.scores, kind="stable")[: s.max_detections]
        # .tolist() converts to Python ints/floats in one pass instead of per element
        boxes = box.to_original(c.boxes[keep]).tolist()
        return [
            Detection(k, self.class_name(k), sc, tuple(b))
            for k, sc, b in zip(c.classes[keep].tolist(), c.scores[keep].tolist(), boxes, strict=True)
        ]

    def detect_timed(self, image: np.ndarray) -> DetectorOutput:
        t0 = time.perf_counter()
        tensor, box = self.preprocess(image)
        t1 = time.perf_counter()
        out = self.infer(tensor)
        t2 = time.perf_counter()
        detections = self.decode(out, box)
        t3 = time.perf_counter()
        return DetectorOutput(detections, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)

    def detect(self, image: np.ndarray) -> list[Detection]:
        return self.detect_timed(image).detections

    def describe(self) -> str:
        w, h = self.input_size
        return f"{self.model_path.name} ({self.layout.name}, {w}x{h}, {len(self.class_names)} classes) on {self.provider}"


def _input_dtype(inp, model_path: Path):
    if inp.type == "tensor(float)":
        return np.float32
    if inp.type == "tensor(float16)":
        return np.float16
    if inp.type == "tensor(double)":  # the old inference server's "fp64" precision
        return np.float64
    raise ModelError(f"{model_path}: input {inp.name!r} is {inp.type}; expected a float32, float16 or float64 image tensor")


def _input_size(inp, settings: ModelSettings, model_path: Path) -> tuple[int, int]:
    shape = list(inp.shape)
    if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
        raise ModelError(
            f"{model_path}: input {inp.name!r} has shape {shape}; expected an image tensor [1, 3, H, W]"
        )
    h, w = shape[2], shape[3]
    # Dynamic dimensions come as names or None: the configured size is the fallback.
    h = h if isinstance(h, int) and h > 0 else settings.input_height
    w = w if isinstance(w, int) and w > 0 else settings.input_width
    return int(w), int(h)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


if sys.platform == "win32":  # pragma: no cover - Windows only
    # onnxruntime must initialise its DLLs before Qt's; importing this module first does it.
    _ort()
