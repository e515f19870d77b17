"""`inspection-station detect`: detections in original image pixels, one image at a time."""

from __future__ import annotations

import argparse
import json
import sys

from inspection_station.commands.arguments import fraction
from inspection_station.core.errors import StationError
from inspection_station.core.settings.model import ModelSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="run the detector on image files")
    p.add_argument("--model", required=True, help="ONNX model file")
    p.add_argument("--conf", type=fraction, default=ModelSettings.confidence, help="confidence threshold")
    p.add_argument("--iou", type=fraction, default=ModelSettings.iou, help="NMS IoU threshold")
    p.add_argument("--json", action="store_true", help="one JSON object per image and line")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.core.detect.detector import Detector
    from inspection_station.core.images import load_image

    settings = ModelSettings(confidence=args.conf, iou=args.iou)
    detector = Detector.load(args.model, settings)
    failed = 0
    for path in args.images:
        try:
            image = load_image(path)
            detections = detector.detect(image)
        except StationError as exc:
            print(f"inspection-station: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps(image_record(path, image, detections), allow_nan=False), flush=True)  # strict JSON
        else:
            print(f"{path}: {image.shape[1]}x{image.shape[0]}, {len(detections)} detections")
            for d in detections:
                x1, y1, x2, y2 = d.box
                print(f"  {d.class_name:<16} {d.score:5.2f}  [{x1:7.1f} {y1:7.1f} {x2:7.1f} {y2:7.1f}]")
    return 2 if failed else 0


def image_record(path, image, detections) -> dict:
    """The contract's per-image JSON (DESIGN.md)."""
    return {
        "image": str(path),
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "detections": [d.to_dict() for d in detections],
    }
