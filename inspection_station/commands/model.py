"""`inspection-station model optimize | info`: an int8 model with an accuracy report; model facts.

optimize  int8 copy of an fp32 model, calibrated on the station's own images (the image
          archive is one), compared with the fp32 model on labels or on its predictions:
          box agreement, verdict agreement on a pattern, speed. Exit 0 = recommended,
          1 = written but flagged (not recommended), 2 = error.
info      layout, input, classes, hash and providers of a model
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="int8 model with an accuracy report (optimize); model facts (info)")
    psub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    o = psub.add_parser("optimize", help="int8 model from an fp32 one, compared with it side by side")
    o.add_argument("--model", required=True, type=Path, help="the fp32 ONNX model")
    o.add_argument("--images", required=True, type=Path, help="folder of the station's images (sub-folders too)")
    o.add_argument("--labels", type=Path, help="YOLO labels (<image stem>.txt); default: the fp32 model's predictions")
    o.add_argument("--patterns", type=Path, help="pattern file: verdicts of both models must agree on every image")
    o.add_argument("--pattern-set", default="", help="pattern set in a folder of patterns (default: the first)")
    o.add_argument("--out", required=True, type=Path, help="the int8 model to write")
    o.add_argument(
        "--calibration-images", type=int, default=None, metavar="N",
        help="images to calibrate on, spread over the folder (default 100)",
    )
    o.add_argument("--json", action="store_true", help="the comparison as one JSON object")
    o.set_defaults(func=run_optimize)

    i = psub.add_parser("info", help="layout, input, classes, hash and providers of a model")
    i.add_argument("model", type=Path, metavar="M")
    i.add_argument("--json", action="store_true", help="one JSON object")
    i.set_defaults(func=run_info)


class _Bar:
    """One tqdm bar per stage on stderr, on a terminal only (as commands/progress.py):
    stdout stays clean for --json. The core reports (stage, done, total)."""

    def __init__(self) -> None:
        self._stage = ""
        self._bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            from tqdm import tqdm

            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, desc=stage, unit="img", file=sys.stderr, leave=False,
                             disable=not sys.stderr.isatty())
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def run_optimize(args: argparse.Namespace) -> int:
    from inspection_station.core.detect import optimize as opt
    from inspection_station.core.detect.detector import Detector
    from inspection_station.core.errors import ConfigError

    count = opt.DEFAULT_CALIBRATION_IMAGES if args.calibration_images is None else args.calibration_images
    if count < 1:
        raise ConfigError(f"--calibration-images: expected a positive number, got {count}")
    images = opt.image_paths(args.images)
    calibration = opt.evenly_spaced(images, count)  # from every image, labelled or not
    labels = None
    if args.labels is not None:
        labels, images = opt.read_label_folder(args.labels, images)  # compared: the labelled ones
    pattern_set = _pattern_set(args.patterns, args.pattern_set) if args.patterns else None
    bar = _Bar()
    try:
        made = opt.quantize_int8(args.model, calibration, args.out, progress=bar)
        fp32, int8 = Detector.load(args.model), Detector.load(made.path)
        result = opt.compare_models(fp32, int8, images, labels=labels, pattern_set=pattern_set, progress=bar)
    finally:
        bar.close()
    if args.json:
        print(json.dumps({"out": str(made.path), "calibration_images": made.calibration_images,
                          "float_nodes": made.float_nodes, **result.to_dict()}))
    else:
        print("\n".join(comparison_lines(made, result)))
    return 0 if result.recommended else 1


def _pattern_set(path: Path, name: str):
    from inspection_station.core.errors import PatternError
    from inspection_station.core.patterns.yaml_io import load_pattern_library

    library = load_pattern_library(path, None)
    if name:
        if name not in library:
            raise PatternError(f"{path}: no pattern set {name!r}; have: {', '.join(library) or 'none'}")
        return library[name]
    if not library:
        raise PatternError(f"{path}: no pattern set")
    return next(iter(library.values()))


def _num(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None or v != v else f"{v:.{digits}f}"


def comparison_lines(made, r) -> list[str]:
    lines = [
        f"wrote {made.path}: int8 static QDQ per-channel, calibrated on {made.calibration_images} images, "
        f"{made.float_nodes} head nodes kept float",
        f"compared on {r.images} images against {r.reference}",
        f"{'':10}{'mAP@0.5':>9}{'mean IoU':>10}{'boxes':>8}{'ms/run':>9}  provider",
    ]
    for name, s in (("fp32", r.fp32), ("int8", r.int8)):
        lines.append(
            f"{name:10}{_num(s.boxes.map50):>9}{_num(s.boxes.mean_iou):>10}{s.boxes.predicted:>8}"
            f"{s.ms_per_run:>9.1f}  {s.provider}"
        )
    v = r.int8_vs_fp32
    lines.append(f"int8 vs fp32: mAP@0.5 {_num(v.map50)}, mean IoU {_num(v.mean_iou)}, speed {r.speed_ratio:.2f}x fp32's time")
    if not r.speed_ratio < 1.0:
        lines.append("note: int8 is not faster than fp32 on this CPU")
    if r.pattern_set is not None:
        same = r.verdicts_compared - len(r.verdicts_differ)
        lines.append(f"verdicts on {r.pattern_set}: {same} of {r.verdicts_compared} images agree")
    for skipped in r.skipped:
        lines.append(f"skipped: {skipped}")
    lines.append("RECOMMENDED" if r.recommended else "NOT RECOMMENDED: " + "; ".join(r.reasons))
    return lines


def run_info(args: argparse.Namespace) -> int:
    from inspection_station.core.detect.optimize import model_facts

    facts = model_facts(args.model)
    if args.json:
        print(json.dumps(facts.to_dict()))
        return 0
    w, h = facts.input_size
    names = ", ".join(f"{i}: {n}" for i, n in enumerate(facts.classes)) or "unknown"
    lines = [
        f"model      {facts.path}",
        f"sha256     {facts.sha256}",
        f"size       {facts.size_bytes / 1e6:.1f} MB",
        f"layout     {facts.layout}",
        f"input      {facts.input_name} {facts.input_shape} {facts.input_dtype}; letterboxed to {w}x{h}",
        f"output     {facts.output_shape}",
        f"classes    {len(facts.classes)}: {names}",
        f"precision  {facts.quantisation or 'as exported (not quantised by the station)'}",
        f"provider   {facts.provider} (available: {', '.join(facts.available_providers)})",
        f"load       {facts.load_ms:.0f} ms (session + warm-up)",
    ]
    lines += [f"metadata   {k} = {v}" for k, v in sorted(facts.metadata.items()) if k != "quantization"]
    print("\n".join(lines))
    return 0
