"""`model optimize`'s candidates: every way this machine can run the model, made, measured
side by side, and the fastest one whose verdicts equal fp32's recommended.

Candidates (each a model file + runtime settings):

- fp32 onnxruntime          the model as it is, the default session (the reference)
- int8 QDQ onnxruntime      onnxruntime's static QDQ quantiser (`quantize_int8`), at --out
- int8 QDQ OpenVINO         the same file on the OpenVINO runtime
- fp32 OpenVINO             the model as it is on the OpenVINO runtime
- int8 NNCF OpenVINO        NNCF's quantisation for OpenVINO, with accuracy control on the
                            station's verdicts when a pattern is given, at <out stem>.nncf.onnx
- bf16 / f16 OpenVINO       only where the CPU computes in them (AMX / AVX-512-FP16) and
                            OpenVINO's CPU plugin reports the capability
- fp32 CUDA / TensorRT      only where onnxruntime-gpu offers the provider (the gpu extra)

Not every machine has every one: a candidate that cannot run here is listed with the
reason (the `openvino` extra missing, the CPU lacking AMX), never silently dropped.
The recommendation: among the candidates whose verdicts equal fp32's on every image and
whose mAP@0.5 against fp32 is >= 0.95, the fastest by the fair timing (fair_timing.py).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inspection_station.core.detect import fair_timing
from inspection_station.core.detect.cpu import CpuFeatures, cpu_features
from inspection_station.core.detect.detector import Detector
from inspection_station.core.detect.runtimes import _ort, openvino, openvino_available
from inspection_station.core.images import load_image
from inspection_station.core.patterns.model import PatternSet
from inspection_station.core.patterns.teaching import NormBox
from inspection_station.core.settings.model import ModelSettings
from inspection_station.core.tuning.optimize import (
    CandidateComparison,
    Progress,
    _no_progress,
    _verdict,
    compare_candidates,
    evenly_spaced,
    quantize_int8,
)

FP32 = "fp32 onnxruntime"
CPU_ONLY = ["CPUExecutionProvider"]
DEFAULT_CONTROL_IMAGES = 50  # images NNCF's accuracy control validates on (each validation runs them all)


@dataclass(frozen=True)
class Candidate:
    name: str
    path: Path
    settings: ModelSettings  # what `[model]` must say to run it this way
    how: str  # how the file was made


@dataclass(frozen=True)
class OptimizeReport:
    cpu: CpuFeatures
    candidates: tuple[Candidate, ...]
    not_tried: tuple[tuple[str, str], ...]  # (candidate, why not on this machine)
    comparison: CandidateComparison
    recommended: str | None  # the candidate's name; None = no recommendation (no pattern)
    reasons: tuple[str, ...]  # why nothing is recommended, or why the fp32 default stays

    @property
    def switch(self) -> bool:
        """A candidate other than the default fp32 session is recommended."""
        return self.recommended not in (None, FP32)

    def candidate(self, name: str) -> Candidate:
        return next(c for c in self.candidates if c.name == name)

    def to_dict(self) -> dict:
        cmp = self.comparison
        rows = []
        for c in self.candidates:
            score = cmp.scores[c.name]
            rows.append({
                "name": c.name, "path": str(c.path), "runtime": c.settings.runtime,
                "openvino_precision": c.settings.openvino_precision, "how": c.how,
                "provider": score.score.provider, "ms_per_run": round(score.score.ms_per_run, 2),
                "speed_ratio": round(cmp.speed_ratio(c.name), 3), "boxes": score.score.boxes.to_dict(),
                "vs_fp32": score.vs_fp32.to_dict(), "verdicts_differ": list(score.verdicts_differ),
                "qualifies": c.name in cmp.qualifying(), "reasons": score.reasons(cmp.verdicts_compared),
            })
        return {
            "cpu": self.cpu.summary(), "timing": fair_timing.METHOD, "images": cmp.images,
            "reference": cmp.reference, "pattern_set": cmp.pattern_set, "verdicts_compared": cmp.verdicts_compared,
            "candidates": rows, "not_tried": [{"name": n, "why": w} for n, w in self.not_tried],
            "recommended": self.recommended, "switch": self.switch, "reasons": list(self.reasons),
            "skipped": list(cmp.skipped),
        }


def nncf_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.nncf{out.suffix or '.onnx'}")


def _nncf_available() -> bool:
    return openvino_available() and importlib.util.find_spec("nncf") is not None


def _half_precisions(cpu: CpuFeatures) -> tuple[list[str], list[tuple[str, str]]]:
    """bf16/f16 where both the CPU flags and OpenVINO's CPU plugin say they compute in them."""
    capabilities: list[str] = []
    if openvino_available():
        capabilities = [str(c).upper() for c in openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    offered = ", ".join(capabilities) or "unknown"
    tried, not_tried = [], []
    for precision, flag_ok, needs in (("bf16", cpu.bf16, "AMX-BF16 / AVX512-BF16"), ("f16", cpu.fp16, "AVX-512-FP16 / AMX-FP16")):
        name = f"{precision} OpenVINO"
        if not openvino_available():
            not_tried.append((name, "the openvino package is not installed (the openvino extra)"))
        elif flag_ok and precision.upper().replace("F16", "FP16") in capabilities:
            tried.append(precision)
        else:
            not_tried.append((name, f"this CPU has no {needs} (OpenVINO's CPU plugin offers {offered})"))
    return tried, not_tried


def optimize_model(
    model: Path,
    calibration: Sequence[Path],
    out: Path,
    images: Sequence[Path],
    *,
    labels: dict[str, list[NormBox]] | None = None,
    pattern_set: PatternSet | None = None,
    rounds: int = fair_timing.DEFAULT_ROUNDS,
    control_images: int = DEFAULT_CONTROL_IMAGES,
    progress: Progress = _no_progress,
) -> OptimizeReport:
    """Make every candidate this machine offers, compare them, recommend one."""
    cpu = cpu_features()
    base = fair_timing.quiet(ModelSettings(providers=CPU_ONLY))
    made = quantize_int8(model, calibration, out, settings=base, progress=progress)
    candidates = [
        Candidate(FP32, model, dataclasses.replace(base, runtime="onnxruntime"), "as exported"),
        Candidate("int8 QDQ onnxruntime", made.path, base, f"int8 static QDQ per-channel, {made.calibration_images} calibration images, {made.float_nodes} head nodes float"),
    ]
    not_tried: list[tuple[str, str]] = []
    ov = dataclasses.replace(base, runtime="openvino")
    if openvino_available():
        candidates += [
            Candidate("int8 QDQ OpenVINO", made.path, ov, "the onnxruntime QDQ file, run by OpenVINO"),
            Candidate("fp32 OpenVINO", model, ov, "as exported"),
        ]
    else:
        not_tried += [(n, "the openvino package is not installed (the openvino extra)") for n in ("int8 QDQ OpenVINO", "fp32 OpenVINO")]
    if _nncf_available():
        from inspection_station.core.tuning.nncf_quantize import VerdictCheck, quantize_nncf

        check = None
        if pattern_set is not None:

            def verdict_of(det: Detector, path: Path) -> str:
                image = load_image(path)
                return _verdict(pattern_set, det.detect(image), image)

            chosen = tuple(evenly_spaced(list(images), control_images))
            reference = Detector.load(model, ov)
            check = VerdictCheck(chosen, tuple(verdict_of(reference, p) for p in chosen), verdict_of)
        nncf_made = quantize_nncf(model, calibration, nncf_path(out), settings=ov, verdict_check=check, progress=progress)
        candidates.append(Candidate("int8 NNCF OpenVINO", nncf_made.path, ov, nncf_made.how))
    else:
        not_tried.append(("int8 NNCF OpenVINO", "nncf / openvino are not installed (the openvino extra)"))
    offered = _ort().get_available_providers()
    for provider, name in (("CUDAExecutionProvider", "fp32 CUDA"), ("TensorrtExecutionProvider", "fp32 TensorRT")):
        if provider in offered:  # onnxruntime-gpu (the gpu extra) on a machine with an NVIDIA GPU
            candidates.append(Candidate(name, model, dataclasses.replace(base, providers=[provider]), "as exported, on the GPU"))
        else:
            not_tried.append((name, f"onnxruntime offers no {provider} here (needs onnxruntime-gpu and an NVIDIA GPU)"))
    halves, skipped_halves = _half_precisions(cpu)
    not_tried += skipped_halves
    for precision in halves:
        candidates.append(Candidate(f"{precision} OpenVINO", model, dataclasses.replace(ov, openvino_precision=precision),
                                    f"as exported, computed in {precision}"))
    detectors = {c.name: Detector.load(c.path, c.settings) for c in candidates}
    comparison = compare_candidates(detectors, images, fp32=FP32, labels=labels, pattern_set=pattern_set,
                                    rounds=rounds, progress=progress)
    recommended = comparison.fastest_qualifying()
    reasons: list[str] = []
    if pattern_set is None:
        reasons.append("no pattern given (--patterns): verdict agreement not checked, nothing recommended")
    elif recommended == FP32:
        reasons.append("no candidate is faster than the fp32 default with the same verdicts")
    return OptimizeReport(cpu, tuple(candidates), tuple(not_tried), comparison, recommended, tuple(reasons))
