"""int8 models from fp32 ones, with an accuracy report against the original; model facts.

`quantize_int8` is onnxruntime's static QDQ quantisation, per-channel weights, calibrated
on the station's own images through the station's own letterbox (so the ranges are the
ones the station feeds). The detection head's decoding after the last convolutions stays
float: it concatenates box coordinates in pixels with scores in 0..1, and one int8 scale
for both rounds every score to zero (every box is lost).

`compare_models` runs both on the same images, interleaved, and reports box agreement
(mAP@0.5, mean IoU) against labels or the fp32 model's own predictions, verdict
agreement on a pattern, and speed. A model whose verdicts differ from fp32 on any image
is not recommended.

Needs the `onnx` package (onnxruntime.quantization builds on it): the `optimize` extra.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inspection_station.core.detect import fair_timing
from inspection_station.core.detect.agreement import BoxAgreement, box_agreement
from inspection_station.core.detect.detector import Detector, _ort
from inspection_station.core.detect.session_cache import file_sha256
from inspection_station.core.detection import Detection
from inspection_station.core.errors import ImageError, ModelError, StationError
from inspection_station.core.images import list_images, load_image
from inspection_station.core.patterns.matching import match_pattern
from inspection_station.core.patterns.model import PatternSet
from inspection_station.core.patterns.teaching import NormBox, read_yolo_labels, to_detections
from inspection_station.core.settings.model import ModelSettings

# progress(stage, done, total): "calibrate" (images read), "quantise", "compare" (images run)
Progress = Callable[[str, int, int], None]
COMPUTE_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})
DEFAULT_CALIBRATION_IMAGES = 100
MIN_BOX_MAP = 0.95  # int8 vs fp32 mAP@0.5 below this: the boxes drift, not recommended
QUANTISATION_KEY = "quantization"  # metadata entry naming how the model was made


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ModelError(
            "model optimize needs the onnx package: pip install 'inspection-station[optimize]'"
        ) from None
    return onnx


# --- which nodes stay float --------------------------------------------------------------


def head_tail_nodes(graph) -> list[str]:
    """Names of the nodes with no Conv/MatMul/Gemm downstream: the head's box decoding.

    ONNX graphs list nodes in topological order, so one reverse pass knows, for every
    node, whether any of its consumers computes or feeds a computation.
    """
    nodes = list(graph.node)
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            consumers.setdefault(name, []).append(i)
    feeds_compute = [False] * len(nodes)
    for i in reversed(range(len(nodes))):
        feeds_compute[i] = any(
            nodes[c].op_type in COMPUTE_OPS or feeds_compute[c]
            for out in nodes[i].output
            for c in consumers.get(out, ())
        )
    return [n.name for n, feeds in zip(nodes, feeds_compute, strict=True) if not feeds and n.op_type != "Constant"]


def name_unnamed_nodes(graph) -> None:
    """nodes_to_exclude goes by node name; exporters may leave names empty."""
    taken = {n.name for n in graph.node if n.name}
    for i, node in enumerate(graph.node):
        if not node.name:
            name = f"{node.op_type}_{i}"
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)


# --- calibration -------------------------------------------------------------------------


def evenly_spaced(items: Sequence, count: int) -> list:
    """Up to `count` items spread over the whole sequence (an archive is in time order)."""
    if count <= 0 or not items:
        return []
    if len(items) <= count:
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


class _CalibrationImages:
    """onnxruntime's CalibrationDataReader: the station's letterboxed tensors, one by one."""

    def __init__(self, detector: Detector, paths: Sequence[Path], progress: Progress) -> None:
        self._detector = detector
        self._paths = list(paths)
        self._next = 0
        self._progress = progress
        self.skipped: list[str] = []

    def get_next(self) -> dict | None:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            try:
                tensor, _ = self._detector.preprocess(load_image(path))
            except ImageError as exc:
                self.skipped.append(str(exc))
                continue
            finally:
                self._progress("calibrate", self._next, len(self._paths))
            # the detector reuses its tensor buffer: calibration keeps its own copy
            return {self._detector.input_name: np.array(tensor, copy=True)}
        return None

    def rewind(self) -> None:
        self._next = 0


@dataclass(frozen=True)
class QuantisedModel:
    path: Path
    calibration_images: int
    float_nodes: int  # head nodes kept in float
    skipped_images: tuple[str, ...] = ()


def quantize_int8(
    model_path: str | Path,
    calibration_paths: Sequence[Path],
    out_path: str | Path,
    *,
    settings: ModelSettings | None = None,
    progress: Progress = _no_progress,
) -> QuantisedModel:
    """Write an int8 (static QDQ, per-channel) copy of an fp32 model to out_path.

    The output appears only when complete (temp file + replace); the input is never touched.
    """
    onnx = _onnx()
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model_path, out_path = Path(model_path), Path(out_path)
    detector, original = check_quantisable(model_path, out_path, calibration_paths, settings or ModelSettings())
    with tempfile.TemporaryDirectory(prefix="quantise-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        try:  # shape inference + basic graph fusions: what onnxruntime recommends before quantising
            # symbolic shape inference would need sympy; the models are static-shaped
            quant_pre_process(str(model_path), str(prepared), skip_symbolic_shape=True)
            model = onnx.load(str(prepared))
        except Exception:  # noqa: BLE001 - a model it cannot prepare still quantises as it is
            model = onnx.load(str(model_path))
        name_unnamed_nodes(model.graph)
        keep_float = head_tail_nodes(model.graph)
        onnx.save(model, str(prepared))
        reader = _CalibrationImages(detector, calibration_paths, progress)
        quantised = Path(tmp) / "int8.onnx"
        progress("quantise", 0, 1)
        try:
            quantize_static(
                str(prepared),
                str(quantised),
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,  # u8 activations x s8 weights: VNNI's fast path
                weight_type=QuantType.QInt8,
                nodes_to_exclude=keep_float,
                # MinMax keeps two scalars per tensor and image, so memory stays small.
                # (Not CalibMaxIntermediateOutputs: onnxruntime 1.32 drops each full chunk.)
                calibrate_method=CalibrationMethod.MinMax,
            )
        except StationError:
            raise
        except Exception as exc:  # onnxruntime/onnx raise their own types
            if len(reader.skipped) == len(calibration_paths):
                raise ImageError(
                    f"none of the {len(calibration_paths)} calibration images could be read: {reader.skipped[0]}"
                ) from None
            raise ModelError(f"{model_path}: quantisation failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from None
        used = len(calibration_paths) - len(reader.skipped)
        save_with_metadata(
            onnx.load(str(quantised)), original, out_path,
            f"int8 static QDQ per-channel, MinMax on {used} images, source sha256 {file_sha256(model_path)}",
        )
        progress("quantise", 1, 1)
    return QuantisedModel(out_path, used, len(keep_float), tuple(reader.skipped))


def check_quantisable(model_path: Path, out_path: Path, calibration_paths: Sequence[Path], settings: ModelSettings):
    """The fp32 detector and ONNX graph to quantise, or one located error (both quantisers)."""
    onnx = _onnx()
    if out_path.resolve() == model_path.resolve():
        raise ModelError(f"{out_path}: --out is the input model; choose another file")
    if not calibration_paths:
        raise ImageError("no images to calibrate on (expected PNG/JPEG/BMP/TIFF/WebP files)")
    detector = Detector.load(model_path, settings)
    if detector.input_dtype != np.float32:
        raise ModelError(f"{model_path}: the input is {detector.input_dtype.__name__}; int8 quantisation needs an fp32 model")
    original = onnx.load(str(model_path))
    if any(n.op_type in ("QuantizeLinear", "QLinearConv") for n in original.graph.node):
        raise ModelError(f"{model_path}: already quantised (has QuantizeLinear nodes)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return detector, original


def save_with_metadata(result, original, out_path: Path, how: str, key: str = QUANTISATION_KEY) -> None:
    """Save a quantised graph with the original's metadata (names, stride, imgsz: the station
    and other tools read them) plus `key` saying how it was made; whole or not at all."""
    onnx = _onnx()
    del result.metadata_props[:]
    for prop in original.metadata_props:
        if prop.key != key:
            result.metadata_props.add(key=prop.key, value=prop.value)
    result.metadata_props.add(key=key, value=how)
    staged = out_path.with_name(f".{out_path.name}.tmp")
    onnx.save(result, str(staged))
    os.replace(staged, out_path)


# --- comparison --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelScore:
    path: str
    provider: str
    ms_per_run: float  # median of the fair timing (core/detect/fair_timing.py)
    boxes: BoxAgreement  # against the reference

    def to_dict(self) -> dict:
        return {"path": self.path, "provider": self.provider, "ms_per_run": round(self.ms_per_run, 2), "boxes": self.boxes.to_dict()}


@dataclass(frozen=True)
class CandidateScore:
    """One way to run the model, measured: speed, boxes, verdicts against fp32."""

    name: str
    score: ModelScore
    vs_fp32: BoxAgreement
    verdicts_differ: tuple[str, ...]  # image names where its verdict is not fp32's

    def reasons(self, verdicts_checked: int) -> list[str]:
        """Why it may not be recommended (empty: it may)."""
        out = []
        if self.verdicts_differ:
            out.append(f"verdicts differ from fp32 on {len(self.verdicts_differ)} of {verdicts_checked} images: "
                       + ", ".join(self.verdicts_differ[:10]))
        if self.vs_fp32.reference and not self.vs_fp32.map50 >= MIN_BOX_MAP:
            out.append(f"boxes drift: mAP@0.5 against fp32 {self.vs_fp32.map50:.3f} < {MIN_BOX_MAP}")
        return out


@dataclass(frozen=True)
class CandidateComparison:
    images: int
    reference: str  # "labels" or "fp32 predictions"
    fp32: str  # the candidate every other is compared with
    scores: dict[str, CandidateScore]
    pattern_set: str | None
    verdicts_compared: int
    skipped: tuple[str, ...] = ()

    def speed_ratio(self, name: str) -> float:
        base = self.scores[self.fp32].score.ms_per_run
        return self.scores[name].score.ms_per_run / base if base > 0 else float("nan")

    def qualifying(self) -> list[str]:
        """Candidates whose verdicts equal fp32's on every image and whose boxes do not drift."""
        if self.pattern_set is None:
            return []
        return [n for n, c in self.scores.items() if not c.reasons(self.verdicts_compared)]

    def fastest_qualifying(self) -> str | None:
        ok = self.qualifying()
        return min(ok, key=lambda n: self.scores[n].score.ms_per_run) if ok else None


def _verdict(pattern_set: PatternSet, detections: Sequence[Detection], image: np.ndarray) -> str:
    return str(match_pattern(pattern_set, detections, image.shape[1], image.shape[0]).verdict)


def compare_candidates(
    detectors: dict[str, Detector],
    images: Sequence[Path],
    *,
    fp32: str,
    labels: dict[str, list[NormBox]] | None = None,
    pattern_set: PatternSet | None = None,
    rounds: int = fair_timing.DEFAULT_ROUNDS,
    progress: Progress = _no_progress,
) -> CandidateComparison:
    """Every candidate on the same images (boxes, verdicts), then timed fairly on one frame.

    Labels are keyed by image stem, boxes normalised (YOLO); without labels the reference
    is the fp32 candidate's own predictions. Load the detectors with `fair_timing.quiet`.
    """
    preds: dict[str, list[list[Detection]]] = {name: [] for name in detectors}
    refs: list[list[Detection]] = []
    differ: dict[str, list[str]] = {name: [] for name in detectors}
    compared = 0
    skipped: list[str] = []
    timing_frame: np.ndarray | None = None
    for i, path in enumerate(images):
        progress("compare", i, len(images))
        try:
            image = load_image(path)
        except ImageError as exc:
            skipped.append(str(exc))
            continue
        timing_frame = image if timing_frame is None else timing_frame
        outs = {name: det.detect(image) for name, det in detectors.items()}
        for name, dets in outs.items():
            preds[name].append(dets)
        if labels is not None:
            refs.append(to_detections(labels.get(path.stem, []), image.shape[1], image.shape[0]))
        else:
            refs.append(outs[fp32])
        if pattern_set is not None:
            compared += 1
            expected = _verdict(pattern_set, outs[fp32], image)
            for name, dets in outs.items():
                if _verdict(pattern_set, dets, image) != expected:
                    differ[name].append(path.name)
    progress("compare", len(images), len(images))
    if not refs or timing_frame is None:
        raise ImageError(f"none of the {len(images)} images could be read" + (f": {skipped[0]}" if skipped else ""))
    progress("time", 0, 1)
    timings = fair_timing.time_alternating(_bare_runs(detectors, timing_frame), rounds)
    progress("time", 1, 1)
    scores = {
        name: CandidateScore(
            name,
            ModelScore(str(det.model_path), det.provider, timings[name].median_ms, box_agreement(preds[name], refs)),
            box_agreement(preds[name], preds[fp32]),
            tuple(differ[name]),
        )
        for name, det in detectors.items()
    }
    return CandidateComparison(
        images=len(refs),
        reference="labels" if labels is not None else "fp32 predictions",
        fp32=fp32,
        scores=scores,
        pattern_set=pattern_set.name if pattern_set is not None else None,
        verdicts_compared=compared,
        skipped=tuple(skipped),
    )


def _bare_runs(detectors: dict[str, Detector], frame: np.ndarray) -> dict[str, Callable[[], object]]:
    """`runtime.run` of each detector on its own copy of the frame's tensor (ms per run)."""
    runs: dict[str, Callable[[], object]] = {}
    for name, det in detectors.items():
        tensor = np.array(det.preprocess(frame)[0], copy=True)
        runs[name] = (lambda d, t: lambda: d.infer(t))(det, tensor)
    return runs


@dataclass(frozen=True)
class Comparison:
    """Two models (fp32 and its int8 copy) side by side: the original report of `model optimize`."""

    images: int
    reference: str  # "labels" or "fp32 predictions"
    fp32: ModelScore
    int8: ModelScore
    int8_vs_fp32: BoxAgreement
    speed_ratio: float  # int8 / fp32 ms per run (< 1 = faster)
    pattern_set: str | None
    verdicts_compared: int
    verdicts_differ: tuple[str, ...]  # image names where int8 and fp32 disagree
    recommended: bool
    reasons: tuple[str, ...]  # why not recommended (empty when recommended)
    skipped: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "images": self.images,
            "reference": self.reference,
            "fp32": self.fp32.to_dict(),
            "int8": self.int8.to_dict(),
            "int8_vs_fp32": self.int8_vs_fp32.to_dict(),
            "speed_ratio": round(self.speed_ratio, 3),
            "pattern_set": self.pattern_set,
            "verdicts_compared": self.verdicts_compared,
            "verdicts_differ": list(self.verdicts_differ),
            "recommended": self.recommended,
            "reasons": list(self.reasons),
            "skipped": list(self.skipped),
        }


def compare_models(
    fp32: Detector,
    int8: Detector,
    images: Sequence[Path],
    *,
    labels: dict[str, list[NormBox]] | None = None,
    pattern_set: PatternSet | None = None,
    rounds: int = fair_timing.DEFAULT_ROUNDS,
    progress: Progress = _no_progress,
) -> Comparison:
    """Two models on the same images (`compare_candidates` with two), int8 judged against fp32."""
    c = compare_candidates({"fp32": fp32, "int8": int8}, images, fp32="fp32", labels=labels,
                           pattern_set=pattern_set, rounds=rounds, progress=progress)
    int8_score = c.scores["int8"]
    reasons = int8_score.reasons(c.verdicts_compared)
    if pattern_set is None:
        reasons.insert(0, "no pattern given (--patterns): verdict agreement not checked")
    return Comparison(
        images=c.images,
        reference=c.reference,
        fp32=c.scores["fp32"].score,
        int8=int8_score.score,
        int8_vs_fp32=int8_score.vs_fp32,
        speed_ratio=c.speed_ratio("int8"),
        pattern_set=c.pattern_set,
        verdicts_compared=c.verdicts_compared,
        verdicts_differ=int8_score.verdicts_differ,
        recommended=not reasons,
        reasons=tuple(reasons),
        skipped=c.skipped,
    )


def read_label_folder(folder: Path, images: Sequence[Path]) -> tuple[dict[str, list[NormBox]], list[Path]]:
    """YOLO labels (normalised) for the images that have one (<stem>.txt), and those images."""
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such labels folder")
    labels = {p.stem: read_yolo_labels(folder / f"{p.stem}.txt") for p in images if (folder / f"{p.stem}.txt").is_file()}
    if not labels:
        raise ImageError(f"{folder}: no YOLO label file (<image stem>.txt) for any of the {len(images)} images")
    return labels, [p for p in images if p.stem in labels]


def image_paths(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such image folder")
    found = _walk(folder)
    if not found:
        raise ImageError(f"{folder}: no images (expected PNG/JPEG/BMP/TIFF/WebP files)")
    return found


def _walk(folder: Path) -> list[Path]:
    """Images in the folder and its sub-folders (the archive keeps one folder per day)."""
    found = list_images(folder)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        found += _walk(sub)
    return found


# --- model facts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFacts:
    path: str
    sha256: str
    size_bytes: int
    layout: str
    input_name: str
    input_shape: list
    input_dtype: str
    input_size: tuple[int, int]  # (w, h) the station letterboxes to
    output_shape: list
    classes: list[str]
    metadata: dict[str, str]
    quantisation: str  # "" = fp32/fp16 as exported
    runtime: str  # "onnxruntime" | "openvino"
    available_runtimes: list[str]
    provider: str  # the one the session really uses
    available_providers: list[str]
    load_ms: float

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["input_size"] = list(self.input_size)
        d["load_ms"] = round(self.load_ms, 1)
        return d


def model_facts(path: str | Path, settings: ModelSettings | None = None) -> ModelFacts:
    from inspection_station.core.detect.runtimes import available_runtimes

    t = time.perf_counter()
    det = Detector.load(path, settings or ModelSettings())
    load_ms = (time.perf_counter() - t) * 1e3
    inp, out = det.runtime.input, det.runtime.output
    ort = _ort()
    available = list(ort.get_available_providers())
    return ModelFacts(
        path=str(det.model_path),
        sha256=file_sha256(det.model_path),
        size_bytes=det.model_path.stat().st_size,
        layout=det.layout.name,
        input_name=inp.name,
        input_shape=list(inp.shape),
        input_dtype=inp.type,
        input_size=det.input_size,
        output_shape=list(out.shape),
        classes=list(det.class_names),
        metadata={k: v for k, v in det.metadata.items() if k != "names"},
        quantisation=det.metadata.get(QUANTISATION_KEY, ""),
        runtime=det.runtime.name,
        available_runtimes=available_runtimes(),
        provider=det.provider,
        available_providers=available,
        load_ms=load_ms,
    )
