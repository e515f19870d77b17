"""`inspection-station inspect`: the verdict of a pattern on image files (exit 0 OK, 1 NOK, 2 error)."""

from __future__ import annotations

import argparse
import json
import sys

from inspection_station.commands.arguments import fraction
from inspection_station.commands.detect import image_record
from inspection_station.core.cycle import Verdict
from inspection_station.core.errors import StationError
from inspection_station.core.frame import Frame
from inspection_station.core.settings.model import ModelSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="verdict per image: exit 0 = all OK, 1 = any NOK, 2 = error")
    p.add_argument("--model", required=True, help="ONNX model file")
    p.add_argument("--patterns", required=True, help="pattern file, or a folder of pattern files")
    p.add_argument("--pattern-set", help="which pattern set of the folder (default: the first)")
    p.add_argument("--conf", type=fraction, default=ModelSettings.confidence)
    p.add_argument("--iou", type=fraction, default=ModelSettings.iou)
    p.add_argument("--json", action="store_true", help="one JSON object per image and line")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.core.detect.detector import Detector
    from inspection_station.core.images import load_image
    from inspection_station.core.patterns.matching import verdict_fields
    from inspection_station.core.patterns.yaml_io import choose_pattern_set, read_pattern_library
    from inspection_station.core.pipeline import Pipeline

    detector = Detector.load(args.model, ModelSettings(confidence=args.conf, iou=args.iou))
    # each file loads on its own: a broken file elsewhere in the folder does not stop this set
    library = read_pattern_library(args.patterns, detector.class_count)
    pattern_set = choose_pattern_set(library, args.pattern_set or "", args.patterns)
    for note in [*library.problems, *pattern_set.warnings]:
        print(f"inspection-station: warning: {note}", file=sys.stderr)
    name = pattern_set.name
    pipeline = Pipeline(detector, pattern_set)
    verdicts = []
    for n, path in enumerate(args.images):
        try:
            image = load_image(path)
        except StationError as exc:
            print(f"inspection-station: error: {exc}", file=sys.stderr)
            verdicts.append(Verdict.ERROR)
            continue
        result = pipeline.inspect(Frame(image, n, 0.0, f"file:{path}"), trigger="file")
        verdicts.append(result.verdict)
        if result.verdict is Verdict.ERROR:
            print(f"inspection-station: error: {path}: {result.error}", file=sys.stderr)
        m = result.match
        if args.json:
            record = {**image_record(path, image, result.detections),
                      **verdict_fields(result.verdict, name, m)}
            print(json.dumps(record, allow_nan=False), flush=True)  # strict JSON, never NaN
        else:
            detail = m.summary() if m else result.error
            print(f"{path}: {result.verdict.value}  {detail}")
    if Verdict.ERROR in verdicts:
        return 2
    return 1 if Verdict.NOK in verdicts else 0
