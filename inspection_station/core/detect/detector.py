"""ONNX object detector: one inference runtime (core/detect/runtimes.py), letterbox, YOLO decoders, NMS.

Any YOLO-family export works without configuration: the output layout is
recognised from the shape of the model's output (see `LAYOUTS`). Boxes come back
in ORIGINAL image pixels, clipped to the image.
"""

from __future__ import annotations

import ast
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inspection_station.core.detect import session_cache
from inspection_station.core.detect.decoders import (
    check_candidates,
    nms_per_class,
    recognise_layout,
)
from inspection_station.core.detect.letterbox import Letterbox, LetterboxBuffer
from inspection_station.core.detect.runtimes import (  # noqa: F401 - re-exported: the old import path
    KNOWN_PROVIDERS,
    RunStop,
    Runtime,
    _ort,
    _short,
    choose_providers,
    open_runtime,
)
from inspection_station.core.detection import Detection
from inspection_station.core.errors import ModelError, StationError
from inspection_station.core.extras import provider_notes
from inspection_station.core.regular_files import require_regular
from inspection_station.core.settings.model import ModelSettings
from inspection_station.core.text_files import read_text_limited

# --- class names ----------------------------------------------------------------------------


# Ultralytics writes `names` as a dict repr of at most a few thousand classes: 1 MB and
# 100,000 names are far above any real model and keep a hostile file from costing much.
MAX_NAMES_TEXT = 1 << 20
MAX_NAMES = 100_000


def parse_names(text: str, where: str = "names") -> tuple[list[str] | None, str]:
    """Class names from ultralytics' `names` metadata: (names, "") or (None, why not).

    Literals only (ast.literal_eval), with size and count caps; any failure of the parser
    (deep nesting: RecursionError, MemoryError) is a located reason, never an exception.
    """
    if len(text) > MAX_NAMES_TEXT:
        return None, f"{where}: {len(text)} characters, more than the {MAX_NAMES_TEXT} allowed; ignored"
    try:
        value = ast.literal_eval(text)
        if isinstance(value, dict):
            if not all(isinstance(k, int | str) and str(k).isdigit() for k in value):
                return None, f"{where}: expected class ids 0, 1, 2, ... as keys; ignored"
            keys = sorted(value, key=int)
            if any(isinstance(k, bool) or int(k) != i for i, k in enumerate(keys)):
                return None, f"{where}: expected class ids 0, 1, 2, ... as keys; ignored"
            items = [value[k] for k in keys]
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            return None, f"{where}: expected a dict {{0: 'name', ...}} or a list, got {type(value).__name__}; ignored"
        if len(items) > MAX_NAMES:
            return None, f"{where}: {len(items)} names, more than the {MAX_NAMES} allowed; ignored"
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in items):
            return None, f"{where}: expected text names; ignored"
        return [str(v) for v in items], ""
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        return None, f"{where}: not a Python literal of class names ({type(exc).__name__}); ignored"


MAX_SIDECAR_BYTES = 1 << 20


def sidecar_names(model_path: Path) -> tuple[list[str] | None, str]:
    """`<model>.names` or `<model stem>.txt`: one class name per line; (names, "") or (None, why)."""
    for candidate in (model_path.with_suffix(".names"), model_path.with_suffix(".txt")):
        if os.path.lexists(candidate) and not candidate.is_dir():  # a FIFO is refused, located
            try:
                text = read_text_limited(candidate, MAX_SIDECAR_BYTES, "class names file")
            except StationError as exc:
                return None, f"{exc}; class numbers are used"
            lines = [ln.strip() for ln in text.splitlines()]
            return [ln for ln in lines if ln], ""
    return None, ""


# --- the detector ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DetectorOutput:
    detections: list[Detection]
    preprocess_ms: float
    inference_ms: float
    decode_ms: float


class Detector:
    """One ONNX model on one runtime, ready to run; thread-compatible (one caller at a time)."""

    def __init__(self, runtime: Runtime, model_path: Path, settings: ModelSettings) -> None:
        self.runtime = runtime
        self.model_path = model_path
        self.settings = settings
        inp = runtime.input
        self.input_name: str = inp.name
        self.input_dtype = _input_dtype(inp, model_path)
        self.input_size: tuple[int, int] = _input_size(inp, settings, model_path)  # (w, h)
        self.output_name: str = runtime.output.name
        self.provider: str = runtime.provider
        self.metadata: dict[str, str] = dict(runtime.metadata)
        self._sha256: str | None = runtime.sha256
        self.session_source = runtime.source  # the file the session was made from (a cache?)
        self._letterbox = LetterboxBuffer(*self.input_size)
        # Warm-up: the first run allocates and optimises; it also tells us the layout.
        tensor, _ = self.preprocess(np.zeros((self.input_size[1], self.input_size[0], 3), np.uint8))
        try:
            out = runtime.run(tensor)
        except Exception as exc:  # the runtimes raise their own exception types
            raise ModelError(f"{model_path}: the warm-up run failed: {_short(exc)}") from None
        try:
            self.layout = recognise_layout(tuple(out.shape), *self.input_size)
        except ModelError as exc:
            raise ModelError(f"{model_path}: {exc}") from None
        self.num_classes = self.layout.num_classes(tuple(out.shape))
        self.warnings: list[str] = []  # located, for the station's notice route
        self.class_names = self._class_names()

    # -- construction --

    @classmethod
    def load(cls, path: str | Path, settings: ModelSettings | None = None) -> Detector:
        from inspection_station.core.detect.class_map import with_class_map

        settings = settings or ModelSettings()
        model_path = Path(path)
        settings = with_class_map(settings)  # names (and colours) from the old class map CSV
        # a FIFO or device would block the runtime's read for ever: refused here, never opened
        # (the runtime opens the path itself; the window between is a model-folder writer's only)
        require_regular(model_path, "model file", ModelError)
        detector = cls(open_runtime(model_path, settings), model_path, settings)
        if getattr(settings, "runtime", "onnxruntime") == "onnxruntime":  # which extra brings a provider
            import onnxruntime

            detector.warnings += provider_notes(settings.providers, onnxruntime.get_available_providers())
        return detector

    def _class_names(self) -> list[str]:
        names = list(self.settings.class_names) or None
        if names is None and "names" in self.metadata:
            names, problem = parse_names(self.metadata["names"], f"{self.model_path}: metadata 'names'")
            if problem:
                self.warnings.append(problem)
        if names is None:
            names, problem = sidecar_names(self.model_path)
            if problem:
                self.warnings.append(problem)
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

    def preprocess(self, image: np.ndarray, buffer: LetterboxBuffer | None = None) -> tuple[np.ndarray, Letterbox]:
        """The model's input tensor for an RGB image; overwritten by the next call (copy to keep).

        Into the detector's own buffers, or `buffer` (another thread's: an upload beside the cycles).
        """
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        elif image.ndim != 3 or image.shape[2] not in (3, 4):
            raise ModelError(f"expected an H x W x 3 RGB image, got an array of shape {image.shape}")
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ModelError("the image has no pixels")
        # Into buffers of this detector: the tensor is valid until the next preprocess.
        tensor, box = (buffer or self._letterbox).tensor(image)
        if self.input_dtype != np.float32:
            tensor = tensor.astype(self.input_dtype)
        return tensor, box

    def infer(self, tensor: np.ndarray, stop: RunStop | None = None) -> np.ndarray:
        """`stop`: lets another thread end this run early (runtimes.RunStop; onnxruntime: within ms)."""
        try:
            out = self.runtime.run(tensor) if stop is None else self.runtime.run(tensor, stop)
        except Exception as exc:
            raise ModelError(f"{self.model_path.name}: inference failed: {_short(exc)}") from None
        return out.astype(np.float32, copy=False)

    def decode(self, out: np.ndarray, box: Letterbox) -> list[Detection]:
        s = self.settings
        c = self.layout.decode(out, s.confidence)
        # A broken export (NaN boxes, fp16 overflow, made-up classes) must not be judged:
        # the cycle becomes ERROR with the reason instead of a silent NOK (or OK).
        problem = check_candidates(c, self.num_classes if self.num_classes is not None else self.class_count)
        if problem:
            raise ModelError(f"{self.model_path.name}: {problem}")
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

    @property
    def model_sha256(self) -> str:
        """SHA-256 of the model file (hex), computed once."""
        if self._sha256 is None:
            self._sha256 = session_cache.file_sha256(self.model_path)
        return self._sha256

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


if sys.platform == "win32":  # pragma: no cover - Windows only
    # onnxruntime must initialise its DLLs before Qt's; importing this module first does it.
    _ort()
