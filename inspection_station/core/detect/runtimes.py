"""Inference runtimes behind one small interface: onnxruntime and OpenVINO.

The Detector owns one `Runtime` and never asks which one it is: letterbox, decoding,
metadata (class names), verdicts and timing are the same for both. A runtime is chosen
per model by `[model] runtime` (`RUNTIMES` is the table; no if-chains elsewhere).

- `OnnxRuntime`: an onnxruntime InferenceSession on the preferred execution providers
  (DirectML, TensorRT/CUDA from onnxruntime-gpu, CPU), its optimised graph cached.
- `OpenVinoRuntime`: Intel's OpenVINO runtime itself (the `openvino` package, not the
  onnxruntime EP): it reads the same .onnx file (fp32, or a QDQ int8 model from NNCF or
  onnxruntime's quantiser, which it runs as int8), compiled once for the CPU with the
  LATENCY hint; its compiled blob is cached beside onnxruntime's graphs.

Thread spinning (`[model] spinning`): onnxruntime's intra-op threads spin between runs
by default; that costs the GUI thread and the camera worker CPU on a 2-core PC and makes
the run after another session's slower. "auto" = off in a GUI process (the GUI says so
once, `set_interactive(True)`), on in a headless one; "on"/"off" force it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from inspection_station.core.detect import session_cache
from inspection_station.core.errors import ModelError
from inspection_station.core.settings.model import ModelSettings

# Providers in the order we prefer them when the settings name none that is available.
# CUDA and TensorRT come from onnxruntime-gpu (the `gpu` extra), OpenVINO's EP from the
# onnxruntime-openvino build; the OpenVINO runtime itself is `runtime = "openvino"`.
KNOWN_PROVIDERS = (
    "DmlExecutionProvider",
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)

_interactive = False  # a GUI runs in this process: "auto" spinning resolves to off


def set_interactive(interactive: bool) -> None:
    """The GUI calls this once at start: sessions made from now on leave the CPU to it."""
    global _interactive
    _interactive = bool(interactive)


def spinning_enabled(settings: ModelSettings) -> bool:
    if settings.spinning == "auto":
        return not _interactive
    return settings.spinning == "on"


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    shape: tuple  # ints; a str or None for a dynamic dimension
    type: str  # ONNX's spelling: "tensor(float)", "tensor(float16)", "tensor(double)"


class RunStop:
    """Lets another thread stop one model run: a station cycle stopping an upload's run beside
    it (core/line/uploads.py). `run(tensor, stop)` binds the engine's own cancel to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requested = False
        self._cancel: Callable[[], object] | None = None

    def bind(self, cancel: Callable[[], object]) -> None:
        with self._lock:
            self._cancel = cancel
            requested = self.requested
        if requested:
            cancel()

    def stop(self) -> None:
        with self._lock:
            self.requested = True
            cancel = self._cancel
        if cancel is not None:
            cancel()


class Runtime(Protocol):
    """What the Detector needs of an inference engine; one caller at a time (plus, with a
    `RunStop`, one stoppable caller beside it: an upload)."""

    name: str  # "onnxruntime" | "openvino"
    provider: str  # what really runs the model (shown in the status bar and the CSV)
    source: str  # the file the session was made from (the model, or a cached graph)
    input: TensorInfo
    output: TensorInfo
    metadata: dict[str, str]  # the model's metadata_props (ultralytics' names, stride...)
    sha256: str | None  # the model file's hash when loading needed it, else None

    def run(self, tensor: np.ndarray, stop: RunStop | None = None) -> np.ndarray: ...


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- onnxruntime ------------------------------------------------------------------------------


def _ort():
    # Imported on first use: `inspection-station --help` and the GUI's start stay fast.
    import onnxruntime

    return onnxruntime


def choose_providers(preference: Sequence[str], available: Sequence[str]) -> list[str]:
    """The preferred providers onnxruntime actually offers, CPU always last."""
    chosen = [p for p in preference if p in available and p != "CPUExecutionProvider"]
    return [*chosen, "CPUExecutionProvider"]


def provider_options(providers: Sequence[str]) -> list[tuple[str, dict]]:
    """Each provider with its options. TensorRT builds an engine per model and GPU (minutes
    on a large model): it is cached in the user data folder, so only the first start pays."""
    out = []
    for name in providers:
        options: dict = {}
        if name == "TensorrtExecutionProvider":
            folder = session_cache.cache_dir() / "tensorrt"
            options = {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(folder),
                       "trt_timing_cache_enable": "True", "trt_timing_cache_path": str(folder)}
        out.append((name, options))
    return out


_GRAPH_LEVEL_NAMES = {
    "disabled": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def ort_session_options(ort, settings: ModelSettings, providers: Sequence[str], level: str):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings of onnxruntime are not the operator's business
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _GRAPH_LEVEL_NAMES[level])
    if settings.intra_op_threads:  # 0: onnxruntime's default, one thread per physical core
        options.intra_op_num_threads = settings.intra_op_threads
    spin = "1" if spinning_enabled(settings) else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    if "DmlExecutionProvider" in providers:
        # DirectML cannot use memory patterns or parallel execution.
        options.enable_mem_pattern = False
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


class OnnxRuntime:
    """An onnxruntime InferenceSession; a CPU-only session saves its optimised graph."""

    name = "onnxruntime"

    def __init__(self, session, source: str, sha256: str | None) -> None:
        self.session = session
        self.source = source
        self.sha256 = sha256
        inp, out = session.get_inputs()[0], session.get_outputs()[0]
        self.input = TensorInfo(inp.name, tuple(inp.shape), inp.type)
        self.output = TensorInfo(out.name, tuple(out.shape), out.type)
        self.provider: str = session.get_providers()[0]
        self.metadata: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)
        self._outputs = [out.name]

    def run(self, tensor: np.ndarray, stop: RunStop | None = None) -> np.ndarray:
        if stop is None:
            return self.session.run(self._outputs, {self.input.name: tensor})[0]
        options = _ort().RunOptions()  # a session runs concurrent calls; terminate ends this one in ms
        stop.bind(lambda: setattr(options, "terminate", True))
        return self.session.run(self._outputs, {self.input.name: tensor}, options)[0]

    @classmethod
    def open(cls, model_path: Path, settings: ModelSettings) -> OnnxRuntime:
        ort = _ort()
        providers = choose_providers(settings.providers, ort.get_available_providers())
        level = settings.graph_optimization
        cached, model_hash = None, None
        # Only a CPU-only session saves its optimised graph: execution providers that
        # compile (CUDA, TensorRT, DirectML, OpenVINO) cannot serialise their partitions.
        if settings.cache_optimized and providers == ["CPUExecutionProvider"] and level != "disabled":
            model_hash = session_cache.file_sha256(model_path)
            cached = session_cache.cached_model_path(model_hash, level, ort.__version__)
        session = None
        if cached is not None and cached.is_file():
            try:  # already optimised: optimising again is the cost the cache saves
                options = ort_session_options(ort, settings, providers, "disabled")
                session = ort.InferenceSession(str(cached), sess_options=options, providers=providers)
            except Exception:  # noqa: BLE001 - a damaged cache file is rebuilt, never fatal
                session_cache.discard(cached)
        if session is None:
            options = ort_session_options(ort, settings, providers, level)
            staged = None
            if cached is not None:
                try:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    staged = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
                    options.optimized_model_filepath = str(staged)
                except OSError:  # a read-only data folder: run without the cache
                    staged = None
            try:
                session = ort.InferenceSession(
                    str(model_path), sess_options=options, providers=provider_options(providers)
                )
            except Exception as exc:
                if staged is not None:
                    session_cache.discard(staged)
                raise ModelError(f"{model_path}: not a loadable ONNX model: {_short(exc)}") from None
            if staged is not None and cached is not None:
                try:
                    os.replace(staged, cached)  # whole or not at all: a reader never sees half a file
                except OSError:
                    session_cache.discard(staged)
        source = str(cached) if cached is not None and cached.is_file() else str(model_path)
        return cls(session, source, model_hash)


# --- OpenVINO ---------------------------------------------------------------------------------


def openvino():
    """The openvino package, imported on first use, with its usage telemetry left out.

    `import openvino` (and NNCF) would otherwise try to send usage events to Intel: a
    station sends nothing beyond the plant's own network. Both fall back to their
    built-in stubs when `openvino_telemetry` cannot be imported, which this arranges.
    """
    sys.modules.setdefault("openvino_telemetry", None)
    try:
        import openvino as ov
    except ImportError:
        raise ModelError(
            "runtime 'openvino' needs the openvino package: pip install 'inspection-station[openvino]'"
        ) from None
    return ov


def openvino_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


_OV_TYPES = {"f32": "tensor(float)", "f16": "tensor(float16)", "f64": "tensor(double)"}
OPENVINO_DEVICE = "CPU"


def openvino_config(settings: ModelSettings) -> dict:
    """OpenVINO's own threading hints: LATENCY (one stream, all cores on one request),
    the configured thread count, and no pinning of its threads to cores in a GUI process."""
    config: dict = {
        "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": spinning_enabled(settings),
        "INFERENCE_PRECISION_HINT": settings.openvino_precision,
    }
    if settings.intra_op_threads:
        config["INFERENCE_NUM_THREADS"] = settings.intra_op_threads
    return config


class OpenVinoRuntime:
    """A model compiled by the OpenVINO runtime for its CPU device, one infer request."""

    name = "openvino"

    def __init__(self, compiled, source: str, metadata: dict[str, str]) -> None:
        self.compiled = compiled
        self.source = source
        self.sha256: str | None = None
        self.metadata = metadata
        self._request = compiled.create_infer_request()
        self._side_request: Any = None  # made on the first stoppable run (an upload's)
        self.input = _ov_port(compiled.input(0), "input")
        self.output = _ov_port(compiled.output(0), "output")
        devices = ", ".join(compiled.get_property("EXECUTION_DEVICES")) or OPENVINO_DEVICE
        self.provider = f"OpenVINO {devices}"

    def run(self, tensor: np.ndarray, stop: RunStop | None = None) -> np.ndarray:
        request = self._request
        if stop is not None:  # a stoppable caller beside the cycles: an infer request of its own
            if self._side_request is None:
                self._side_request = self.compiled.create_infer_request()
            request = self._side_request
            stop.bind(request.cancel)
        request.infer({0: tensor})
        return request.get_output_tensor(0).data.copy()  # the request reuses its buffer

    @classmethod
    def open(cls, model_path: Path, settings: ModelSettings) -> OpenVinoRuntime:
        ov = openvino()
        core = ov.Core()
        if settings.cache_optimized:  # OpenVINO keys its blobs by model, device and config
            folder = session_cache.cache_dir() / "openvino"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                core.set_property({"CACHE_DIR": str(folder)})
            except OSError:  # a read-only data folder: compile at every start
                pass
        try:
            model = core.read_model(str(model_path))
        except Exception as exc:  # openvino raises RuntimeError with a long trace
            raise ModelError(f"{model_path}: not a loadable ONNX model: {_short(exc)}") from None
        metadata = _ov_metadata(model)
        if len(model.inputs) < 1 or len(model.outputs) < 1:
            raise ModelError(f"{model_path}: the model has no input or no output")
        try:
            compiled = core.compile_model(model, OPENVINO_DEVICE, openvino_config(settings))
        except Exception as exc:
            raise ModelError(f"{model_path}: OpenVINO cannot compile it for {OPENVINO_DEVICE}: {_short(exc)}") from None
        return cls(compiled, str(model_path), metadata)


def _ov_port(port, what: str) -> TensorInfo:
    shape = tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())
    element = port.get_element_type().get_type_name()
    names = port.get_names()
    name = port.get_any_name() if names else what
    return TensorInfo(name, shape, _OV_TYPES.get(element, f"tensor({element})"))


def _ov_metadata(model) -> dict[str, str]:
    """The ONNX file's metadata_props, which OpenVINO's reader keeps under rt_info 'framework'."""
    info = model.get_rt_info()
    if "framework" not in list(info.keys()):  # no metadata in the file
        return {}
    framework = info["framework"]  # a dict of OVAny values
    out = {}
    for key, value in (framework.items() if isinstance(framework, dict) else ()):
        try:
            out[str(key)] = value.astype(str)
        except (RuntimeError, TypeError, ValueError):
            continue
    return out


# --- the table --------------------------------------------------------------------------------

RUNTIMES: dict[str, Callable[[Path, ModelSettings], Runtime]] = {
    "onnxruntime": OnnxRuntime.open,
    "openvino": OpenVinoRuntime.open,
}


def available_runtimes() -> list[str]:
    """The runtimes this installation can run (onnxruntime always)."""
    return ["onnxruntime", *(["openvino"] if openvino_available() else [])]


def open_runtime(model_path: Path, settings: ModelSettings) -> Runtime:
    try:
        opener = RUNTIMES[settings.runtime]
    except KeyError:
        raise ModelError(f"[model] runtime: expected one of {', '.join(RUNTIMES)}, got {settings.runtime!r}") from None
    return opener(model_path, settings)
