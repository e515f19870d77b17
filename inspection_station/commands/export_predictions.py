"""`inspection-station export-predictions`: YOLO txt labels + drawn images for a folder.

What the old system's tools/export_model_predictions.py did: a starting point for
labelling (correct the boxes, retrain) and a quick visual check of a model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inspection_station.commands.arguments import fraction
from inspection_station.commands.progress import progress, say
from inspection_station.core.errors import StationError
from inspection_station.core.settings.model import ModelSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-predictions", help="YOLO txt labels + drawn images for a folder of images")
    p.add_argument("--model", required=True, help="ONNX model file")
    p.add_argument("--images", required=True, help="folder of images")
    p.add_argument("--out", required=True, help="output folder (labels/ and drawn/ inside)")
    p.add_argument("--conf", type=fraction, default=ModelSettings.confidence)
    p.add_argument("--iou", type=fraction, default=ModelSettings.iou)
    p.add_argument("--no-draw", action="store_true", help="labels only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.core.annotate import draw_detections
    from inspection_station.core.atomic import atomic_write_text
    from inspection_station.core.detect.detector import Detector
    from inspection_station.core.images import list_images, load_image
    from inspection_station.core.results.archive import encode_image, yolo_label_lines

    folder = Path(args.images)
    if not folder.is_dir():
        raise StationError(f"{folder}: not a folder of images")
    files = list_images(folder)
    if not files:
        raise StationError(f"{folder}: no image files (png, jpg, bmp, tif, webp)")
    detector = Detector.load(args.model, ModelSettings(confidence=args.conf, iou=args.iou))
    out = Path(args.out)
    labels, drawn = out / "labels", out / "drawn"
    labels.mkdir(parents=True, exist_ok=True)
    if not args.no_draw:
        drawn.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("".join(f"{n}\n" for n in detector.class_names), encoding="utf-8")
    failed = 0
    for path in progress(files, "exporting"):
        try:
            image = load_image(path)
        except StationError as exc:
            print(f"inspection-station: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        detections = detector.detect(image)
        lines = yolo_label_lines(detections, image.shape[1], image.shape[0])
        atomic_write_text(labels / f"{path.stem}.txt", "".join(f"{ln}\n" for ln in lines), backup=False)
        if not args.no_draw:
            (drawn / f"{path.stem}.jpg").write_bytes(encode_image(draw_detections(image, detections), "jpg", 90))
        say(f"{path.name}: {len(detections)} detections")
    print(f"labels in {labels}" + ("" if args.no_draw else f", drawn images in {drawn}"))
    return 2 if failed else 0
