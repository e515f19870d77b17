"""int8 for the OpenVINO runtime: NNCF post-training quantisation, optionally with its
accuracy-control mode judged by the station's own verdicts.

NNCF's ONNX backend writes a QDQ .onnx file (quantisers placed for OpenVINO's CPU
kernels), which the OpenVINO runtime compiles to int8; the file keeps the ONNX metadata
(names, stride, imgsz), so the station loads it like any model with `runtime = "openvino"`.
As for onnxruntime's quantiser, the head's box decoding after the last convolutions stays
float (`head_tail_nodes`): one int8 scale for pixel boxes and 0..1 scores loses every box.

Accuracy control (`verdict_check`): NNCF quantises, then validates the int8 model against
fp32 with a metric we give it — here the share of images whose station verdict (letterbox,
decode, NMS, pattern match) equals fp32's — and, while it drops, puts the layers that hurt
most back to float. `max_drop` is below one image: no verdict may change.

Needs `nncf` and `openvino` (the `openvino` extra). NNCF's OpenVINO/ONNX backends pull in
scikit-learn, networkx, pydot, ninja, rich, safetensors; no torch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspection_station.core.detect.detector import Detector
from inspection_station.core.detect.runtimes import openvino
from inspection_station.core.errors import ImageError, ModelError, StationError
from inspection_station.core.images import load_image
from inspection_station.core.settings.model import ModelSettings

Progress = Callable[[str, int, int], None]


def _nncf():
    openvino()  # its telemetry left out before NNCF imports it
    try:
        import nncf
    except ImportError:
        raise ModelError("NNCF quantisation needs the nncf package: pip install 'inspection-station[openvino]'") from None
    nncf.set_log_level(logging.ERROR)  # its INFO lines would go to stdout (and into --json)
    return nncf


@dataclass(frozen=True)
class VerdictCheck:
    """What accuracy control validates with: images and fp32's verdict on each."""

    images: tuple[Path, ...]  # read at each validation: a few hundred frames do not fit in memory
    fp32_verdicts: tuple[str, ...]
    verdict_of: Callable[[Detector, Path], str]  # the station's verdict for an image file


@dataclass(frozen=True)
class NncfModel:
    path: Path
    calibration_images: int
    float_nodes: int
    accuracy_control: bool  # made by quantize_with_accuracy_control
    skipped_images: tuple[str, ...] = ()

    @property
    def how(self) -> str:
        mode = "accuracy control on the station's verdicts" if self.accuracy_control else "plain"
        return f"int8 NNCF ({mode}), {self.calibration_images} calibration images"


def quantize_nncf(
    model_path: str | Path,
    calibration_paths: Sequence[Path],
    out_path: str | Path,
    *,
    settings: ModelSettings | None = None,
    verdict_check: VerdictCheck | None = None,
    progress: Progress | None = None,
) -> NncfModel:
    """Write an NNCF int8 (QDQ) copy of an fp32 ONNX model to out_path (whole or not at all)."""
    from inspection_station.core.detect.session_cache import file_sha256
    from inspection_station.core.tuning.optimize import (
        QUANTISATION_KEY,
        check_quantisable,
        head_tail_nodes,
        name_unnamed_nodes,
        save_with_metadata,
    )

    onnx_mod = _onnx()
    nncf = _nncf()
    model_path, out_path = Path(model_path), Path(out_path)
    settings = settings or ModelSettings()
    detector, original = check_quantisable(model_path, out_path, calibration_paths, settings)
    tensors, skipped = [], []
    for i, path in enumerate(calibration_paths):
        try:
            tensors.append(np.array(detector.preprocess(load_image(path))[0], copy=True))
        except ImageError as exc:
            skipped.append(str(exc))
        if progress is not None:
            progress("calibrate", i + 1, len(calibration_paths))
    if not tensors:
        raise ImageError(f"none of the {len(calibration_paths)} calibration images could be read: {skipped[0]}")
    model = onnx_mod.load(str(model_path))
    name_unnamed_nodes(model.graph)
    keep_float = head_tail_nodes(model.graph)
    input_name = detector.input_name
    calibration = nncf.Dataset(tensors, lambda t: {input_name: t})
    common = dict(
        subset_size=len(tensors),
        ignored_scope=nncf.IgnoredScope(names=keep_float, validate=False),
        target_device=nncf.TargetDevice.CPU,
    )
    if progress is not None:
        progress("quantise (NNCF)", 0, 1)
    with tempfile.TemporaryDirectory(prefix="nncf-") as tmp, contextlib.redirect_stdout(sys.stderr):
        # NNCF's progress bars print to stdout: stdout stays for --json
        try:
            if verdict_check is None:
                result = nncf.quantize(model, calibration, **common)
            else:
                validate = _verdict_metric(verdict_check, settings, Path(tmp), model_path)
                result = nncf.quantize_with_accuracy_control(
                    model,
                    calibration,
                    nncf.Dataset(list(range(len(verdict_check.images)))),
                    validate,
                    max_drop=0.5 / len(verdict_check.images),  # less than one image: no verdict may change
                    drop_type=nncf.DropType.ABSOLUTE,
                    **common,
                )
        except StationError:
            raise
        except Exception as exc:  # NNCF raises its own types
            text = str(exc).strip().splitlines()
            raise ModelError(f"{model_path}: NNCF quantisation failed: {text[0] if text else type(exc).__name__}") from None
    how = "int8 NNCF QDQ for OpenVINO" + (", accuracy control on the station's verdicts" if verdict_check else "")
    save_with_metadata(
        result, original, out_path,
        f"{how}, {len(tensors)} calibration images, source sha256 {file_sha256(model_path)}",
        key=QUANTISATION_KEY,
    )
    if progress is not None:
        progress("quantise (NNCF)", 1, 1)
    return NncfModel(out_path, len(tensors), len(keep_float), verdict_check is not None, tuple(skipped))


def _verdict_metric(check: VerdictCheck, settings: ModelSettings, tmp: Path, model_path: Path):
    """NNCF's validation_fn: the share of images whose verdict equals fp32's, on OpenVINO."""
    onnx_mod = _onnx()
    counter = iter(range(1 << 30))

    def validate(candidate, indices) -> tuple[float, list[float]]:
        path = tmp / f"candidate-{next(counter)}.onnx"
        onnx_mod.save(candidate, str(path))
        try:
            det = Detector.load(path, _openvino_settings(settings))
            same = [
                1.0 if check.verdict_of(det, check.images[i]) == check.fp32_verdicts[i] else 0.0
                for i in indices
            ]
        finally:
            with contextlib.suppress(OSError):
                os.remove(path)
        return (sum(same) / len(same) if same else 1.0), same

    return validate


def _openvino_settings(settings: ModelSettings) -> ModelSettings:
    import dataclasses

    # a throw-away candidate: OpenVINO's blob cache would only fill up with it
    return dataclasses.replace(settings, runtime="openvino", cache_optimized=False, spinning="off")


def _onnx():
    from inspection_station.core.tuning.optimize import _onnx as onnx_module

    return onnx_module()
