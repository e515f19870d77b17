"""`inspection-station model optimize | info`: the fastest way to run a model here; model facts.

optimize  every candidate this machine offers (onnxruntime fp32 and int8 QDQ, OpenVINO fp32,
          int8 via NNCF, bf16/f16 where the CPU has them), int8 calibrated on the station's
          own images (the image archive is one), all compared with fp32 on labels or on its
          predictions: box agreement, verdicts on a pattern, speed timed fairly. The table,
          and the fastest candidate whose verdicts equal fp32's everywhere. Exit 0 = a faster
          candidate is recommended, 1 = none (keep fp32, or no pattern given), 2 = error.
info      layout, input, classes, hash and providers of a model, on the chosen runtime
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="fastest way to run a model here (optimize); model facts (info)")
    psub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    o = psub.add_parser("optimize", help="int8 / OpenVINO candidates of an fp32 model, compared side by side")
    o.add_argument("--model", required=True, type=Path, help="the fp32 ONNX model")
    o.add_argument("--images", required=True, type=Path, help="folder of the station's images (sub-folders too)")
    o.add_argument("--labels", type=Path, help="YOLO labels (<image stem>.txt); default: the fp32 model's predictions")
    o.add_argument("--patterns", type=Path, help="pattern file: verdicts of both models must agree on every image")
    o.add_argument("--pattern-set", default="", help="pattern set in a folder of patterns (default: the first)")
    o.add_argument("--out", required=True, type=Path,
                   help="the int8 (onnxruntime QDQ) model to write; NNCF's goes beside it as <stem>.nncf.onnx")
    o.add_argument(
        "--calibration-images", type=int, default=None, metavar="N",
        help="images to calibrate on, spread over the folder (default 100)",
    )
    o.add_argument("--runs", type=int, default=None, metavar="N", help="timing rounds per candidate (default 20)")
    o.add_argument(
        "--control-images", type=int, default=None, metavar="N",
        help="images NNCF's accuracy control checks the verdicts on (default 50, spread over the folder)",
    )
    o.add_argument("--json", action="store_true", help="the comparison as one JSON object")
    o.set_defaults(func=run_optimize)

    i = psub.add_parser("info", help="layout, input, classes, hash and providers of a model")
    i.add_argument("model", type=Path, metavar="M")
    i.add_argument("--runtime", choices=("onnxruntime", "openvino"), default=None,
                   help="the runtime to load it on (default: onnxruntime, as [model] runtime)")
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
    from inspection_station.core.detect.fair_timing import DEFAULT_ROUNDS
    from inspection_station.core.errors import ConfigError
    from inspection_station.core.tuning import optimize as opt
    from inspection_station.core.tuning.candidates import DEFAULT_CONTROL_IMAGES, optimize_model

    count = opt.DEFAULT_CALIBRATION_IMAGES if args.calibration_images is None else args.calibration_images
    rounds = DEFAULT_ROUNDS if args.runs is None else args.runs
    control = DEFAULT_CONTROL_IMAGES if args.control_images is None else args.control_images
    for flag, value in (("--calibration-images", count), ("--runs", rounds), ("--control-images", control)):
        if value < 1:
            raise ConfigError(f"{flag}: expected a positive number, got {value}")
    images = opt.image_paths(args.images)
    calibration = opt.evenly_spaced(images, count)  # from every image, labelled or not
    labels = None
    if args.labels is not None:
        labels, images = opt.read_label_folder(args.labels, images)  # compared: the labelled ones
    pattern_set = _pattern_set(args.patterns, args.pattern_set) if args.patterns else None
    bar = _Bar()
    try:
        report = optimize_model(args.model, calibration, args.out, images, labels=labels, pattern_set=pattern_set,
                                rounds=rounds, control_images=control, progress=bar)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print("\n".join(report_lines(report, rounds)))
    return 0 if report.switch else 1


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


def report_lines(report, rounds: int) -> list[str]:
    """The candidates table of `model optimize`, and the recommendation."""
    from inspection_station.core.detect.fair_timing import METHOD

    c = report.comparison
    lines = [
        f"CPU: {report.cpu.summary()}",
        f"timing: {METHOD} ({rounds} rounds)",
        f"compared on {c.images} images against {c.reference}"
        + (f"; verdicts on pattern set {c.pattern_set}" if c.pattern_set else "; no pattern: verdicts not checked"),
        f"{'candidate':<22}{'ms/run':>8}{'x fp32':>8}{'mAP@0.5':>9}{'vs fp32':>9}{'verdicts':>10}  file",
    ]
    for cand in report.candidates:
        s = c.scores[cand.name]
        verdicts = f"{c.verdicts_compared - len(s.verdicts_differ)}/{c.verdicts_compared}" if c.pattern_set else "-"
        mark = "  <- recommended" if cand.name == report.recommended else ""
        lines.append(
            f"{cand.name:<22}{s.score.ms_per_run:>8.1f}{c.speed_ratio(cand.name):>8.2f}{_num(s.score.boxes.map50):>9}"
            f"{_num(s.vs_fp32.map50):>9}{verdicts:>10}  {cand.path.name}{mark}"
        )
    for cand in report.candidates:
        lines.append(f"  {cand.name}: {cand.how}; {c.scores[cand.name].score.provider}")
        for reason in c.scores[cand.name].reasons(c.verdicts_compared) if c.pattern_set else []:
            lines.append(f"    not recommended: {reason}")
    for name, why in report.not_tried:
        lines.append(f"not tried: {name}: {why}")
    for skipped in c.skipped:
        lines.append(f"skipped: {skipped}")
    if report.recommended is None or not report.switch:
        lines.append("NOT RECOMMENDED: " + "; ".join(report.reasons) + (" (keep fp32 on onnxruntime)" if report.recommended else ""))
    else:
        cand = report.candidate(report.recommended)
        setting = f'[model] path = "{cand.path}", runtime = "{cand.settings.runtime}"'
        if cand.settings.openvino_precision != "f32":
            setting += f', openvino_precision = "{cand.settings.openvino_precision}"'
        lines.append(f"RECOMMENDED: {cand.name} ({c.speed_ratio(cand.name):.2f}x fp32's time): {setting}")
    return lines


def run_info(args: argparse.Namespace) -> int:
    from inspection_station.core.settings.model import ModelSettings
    from inspection_station.core.tuning.optimize import model_facts

    facts = model_facts(args.model, ModelSettings(runtime=args.runtime) if args.runtime else None)
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
        f"runtime    {facts.runtime} (available: {', '.join(facts.available_runtimes)})",
        f"provider   {facts.provider} (onnxruntime offers: {', '.join(facts.available_providers)})",
        f"load       {facts.load_ms:.0f} ms (session + warm-up)",
    ]
    lines += [f"metadata   {k} = {v}" for k, v in sorted(facts.metadata.items()) if k != "quantization"]
    print("\n".join(lines))
    return 0
