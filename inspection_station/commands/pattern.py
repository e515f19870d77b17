"""`inspection-station pattern derive|evaluate`: teach a pattern, and measure one on a labelled set.

derive    the old tools/determine_desired_coordinates: a variant from good frames' boxes
          (YOLO txt labels, or the model's predictions on images)
evaluate  the old tools/overall_coordinate_evaluation: the verdict per image, OK/NOK
          counts and, against a truth (CSV `file,verdict`, or the labels' own verdict
          when boxes come from the model), accuracy, false accepts and false rejects
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from inspection_station.commands.arguments import fraction, number
from inspection_station.core.errors import PatternError, StationError
from inspection_station.core.patterns.matching import MatchResult, match_pattern
from inspection_station.core.patterns.model import PatternSet
from inspection_station.core.patterns.teaching import (
    NormBox,
    derive_variant,
    normalise_detections,
    read_yolo_labels,
    to_detections,
)
from inspection_station.core.patterns.yaml_io import (
    load_pattern_library,
    load_pattern_set,
    save_pattern_set,
)
from inspection_station.core.text_files import read_text_limited

DEFAULT_TOLERANCE = 0.1
NOT_LABELS = {"classes.txt", "labels.txt", "notes.txt"}  # files YOLO tools keep beside the labels


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pattern", help="teach a pattern from good parts, or evaluate one on a labelled set")
    psub = p.add_subparsers(dest="pattern_command", metavar="ACTION", required=True)

    d = psub.add_parser("derive", help="derive a pattern variant from the boxes of good frames")
    d.add_argument("--labels", type=Path, help="folder of YOLO txt labels (class cx cy w h, normalised)")
    d.add_argument("--images", type=Path, help="folder of images: with --model, predict their boxes; "
                                                "with --labels only, use just the labels of these images")
    d.add_argument("--model", type=Path, help="ONNX model: teach from its predictions on --images")
    d.add_argument("--conf", type=fraction, default=None, help="confidence threshold for --model")
    d.add_argument("--tolerance", type=number(0.0, 5.0), default=DEFAULT_TOLERANCE,
                   help="margin as a fraction of each part's size (default %(default)s)")
    d.add_argument("--variant", default="variant_a", help="variant name (default %(default)s)")
    d.add_argument("--out", type=Path, required=True,
                   help="pattern file to write; an existing file keeps its other variants")
    d.add_argument("--json", action="store_true", help="print the result as JSON")
    d.set_defaults(func=run_derive)

    e = psub.add_parser("evaluate", help="verdict accuracy of a pattern on a labelled set")
    e.add_argument("--patterns", type=Path, required=True, help="pattern file (or folder, with --set)")
    e.add_argument("--set", dest="pattern_set", default="", help="pattern set name in a folder (default: the first)")
    e.add_argument("--labels", type=Path, help="folder of YOLO txt labels")
    e.add_argument("--images", type=Path, help="folder of images (with --model)")
    e.add_argument("--model", type=Path, help="ONNX model: judge its predictions; the labels' verdict is the truth")
    e.add_argument("--conf", type=fraction, default=None, help="confidence threshold for --model")
    e.add_argument("--truth", type=Path, help="CSV with columns file,verdict (OK/NOK) per image")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.set_defaults(func=run_evaluate)


# --- inputs ----------------------------------------------------------------------------------


def label_files(folder: Path) -> dict[str, Path]:
    """YOLO label files by stem, sorted."""
    if not folder.is_dir():
        raise PatternError(f"{folder}: no such labels folder")
    return {p.stem: p for p in sorted(folder.glob("*.txt")) if p.name not in NOT_LABELS}


def image_files(folder: Path) -> dict[str, Path]:
    from inspection_station.core.images import list_images

    if not folder.is_dir():
        raise PatternError(f"{folder}: no such images folder")
    return {p.stem: p for p in list_images(folder)}


def _predicted_frames(model: Path, images: Path, conf: float | None) -> tuple[dict[str, list[NormBox]], int | None]:
    """Per image stem, the model's boxes normalised; plus the model's class count."""
    from inspection_station.core.detect.detector import Detector
    from inspection_station.core.images import load_image
    from inspection_station.core.settings.model import ModelSettings

    settings = ModelSettings() if conf is None else ModelSettings(confidence=conf)
    detector = Detector.load(model, settings)
    frames = {}
    for stem, path in image_files(images).items():
        image = load_image(path)
        frames[stem] = normalise_detections(detector.detect(image), image.shape[1], image.shape[0])
    return frames, detector.class_count


def _labelled_frames(labels: Path, only: set[str] | None = None) -> dict[str, list[NormBox]]:
    return {stem: read_yolo_labels(p) for stem, p in label_files(labels).items() if only is None or stem in only}


def _verdict(match: MatchResult) -> str:
    return "OK" if match.ok else "NOK"


def _match_boxes(ps: PatternSet, boxes: list[NormBox]) -> MatchResult:
    return match_pattern(ps, to_detections(boxes), 1.0, 1.0)


# --- derive ----------------------------------------------------------------------------------


def run_derive(args: argparse.Namespace) -> int:
    if args.model:
        if not args.images:
            raise StationError("pattern derive: --model needs --images (the frames to predict)")
        frames, num_classes = _predicted_frames(args.model, args.images, args.conf)
    elif args.labels:
        only = set(image_files(args.images)) if args.images else None
        frames, num_classes = _labelled_frames(args.labels, only), None
    else:
        raise StationError("pattern derive: give --labels DIR, or --model M with --images DIR")
    if not frames:
        raise StationError("pattern derive: no frames found (no label files / images)")

    taught = derive_variant(list(frames.values()), args.tolerance)
    out: Path = args.out
    if out.exists():
        existing = load_pattern_set(out)
        variants = dict(existing.variants)
        variants[args.variant] = taught.slots
        ps = PatternSet(existing.name, variants, out, existing.min_scores)
    else:
        ps = PatternSet(out.stem, {args.variant: taught.slots}, out)
    save_pattern_set(ps, out, num_classes)

    only_this = PatternSet(ps.name, {args.variant: taught.slots}, out)
    passing = [stem for stem, boxes in frames.items() if _match_boxes(only_this, boxes).ok]
    if args.json:
        print(json.dumps({
            "out": str(out),
            "pattern_set": ps.name,
            "variant": args.variant,
            "frames": taught.frames,
            "frames_passing": len(passing),
            "slots": [
                {"class_id": s.class_id, "inner": list(s.inner), "outer": list(s.outer), "samples": n}
                for s, n in zip(taught.slots, taught.samples, strict=True)
            ],
            "odd_frames": [list(frames)[i] for i in taught.odd_frames],
            "notes": list(taught.notes),
        }))
        return 0
    print(f"{out}: variant {args.variant!r} from {taught.frames} frames, {len(taught.slots)} slots "
          f"(tolerance {args.tolerance:g})")
    print(f"  {'#':>3} {'class':>5} {'samples':>7}  {'inner':<34} outer")
    for i, (s, n) in enumerate(zip(taught.slots, taught.samples, strict=True)):
        print(f"  {i:>3} {s.class_id:>5} {n:>7}  {_box(s.inner):<34} {_box(s.outer)}")
    stems = list(frames)
    for index, note in zip(taught.odd_frames, taught.notes, strict=True):
        print(f"  note: {stems[index]}: {note.split(': ', 1)[1]} (it may fail this variant)")
    print(f"  taught frames passing: {len(passing)}/{len(frames)}")
    return 0


def _box(box) -> str:
    return "[" + " ".join(f"{v:.4f}" for v in box) + "]"


# --- evaluate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageVerdict:
    file: str
    verdict: str
    variant: str | None
    matched: int
    expected: int
    truth: str | None


def read_truth(path: Path) -> dict[str, str]:
    """CSV `file,verdict` (header optional) -> verdict by file stem."""
    truth: dict[str, str] = {}
    text = read_text_limited(path, what="truth file", error=PatternError)
    line_no = 0
    try:
        for line_no, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise PatternError(f"{path}:{line_no}: expected 'file,verdict', got {','.join(row)!r}")
            name, verdict = row[0].strip(), row[1].strip().upper()
            if verdict not in ("OK", "NOK"):
                if line_no == 1:
                    continue  # a header line
                raise PatternError(f"{path}:{line_no}: verdict must be OK or NOK, got {row[1].strip()!r}")
            truth[Path(name).stem] = verdict
    except csv.Error as exc:  # an overlong field or a stray quote
        raise PatternError(f"{path}:{line_no + 1}: not a readable CSV row ({exc})") from None
    return truth


def summarise(rows: list[ImageVerdict]) -> dict:
    judged = [r for r in rows if r.truth is not None]
    correct = sum(r.verdict == r.truth for r in judged)
    return {
        "images": len(rows),
        "ok": sum(r.verdict == "OK" for r in rows),
        "nok": sum(r.verdict == "NOK" for r in rows),
        "with_truth": len(judged),
        "correct": correct,
        "accuracy": (correct / len(judged)) if judged else None,
        "false_accepts": sum(r.verdict == "OK" and r.truth == "NOK" for r in judged),
        "false_rejects": sum(r.verdict == "NOK" and r.truth == "OK" for r in judged),
    }


def _choose_set(path: Path, name: str, num_classes: int | None) -> PatternSet:
    library = load_pattern_library(path, num_classes)
    if name:
        if name not in library:
            raise PatternError(f"{path}: no pattern set {name!r} (have {', '.join(library)})")
        return library[name]
    return next(iter(library.values()))


def run_evaluate(args: argparse.Namespace) -> int:
    truth: dict[str, str] = read_truth(args.truth) if args.truth else {}
    if args.model:
        if not args.images:
            raise StationError("pattern evaluate: --model needs --images")
        frames, num_classes = _predicted_frames(args.model, args.images, args.conf)
    elif args.labels:
        frames, num_classes = _labelled_frames(args.labels), None
    else:
        raise StationError("pattern evaluate: give --labels DIR, or --model M with --images DIR")
    ps = _choose_set(args.patterns, args.pattern_set, num_classes)
    if args.model and args.labels and not args.truth:
        # the old tool's check: the verdict on the model's boxes against the verdict on the labels
        truth = {stem: _verdict(_match_boxes(ps, boxes)) for stem, boxes in _labelled_frames(args.labels).items()}

    rows = []
    for stem, boxes in frames.items():
        m = _match_boxes(ps, boxes)
        rows.append(ImageVerdict(stem, _verdict(m), m.variant, m.filled, m.expected, truth.get(stem)))
    summary = summarise(rows)
    if args.json:
        print(json.dumps({"pattern_set": ps.name, "images": [r.__dict__ for r in rows], "summary": summary}))
        return 0
    print(f"pattern set {ps.name!r} on {len(rows)} images")
    print(f"  {'image':<28} {'verdict':<7} {'variant':<16} {'matched':>9}  truth")
    for r in rows:
        flag = "" if r.truth is None else (r.truth if r.truth == r.verdict else f"{r.truth}  <-- wrong")
        print(f"  {r.file:<28} {r.verdict:<7} {r.variant or '-':<16} {r.matched:>4}/{r.expected:<4}  {flag}")
    line = f"  OK {summary['ok']}, NOK {summary['nok']}"
    if summary["with_truth"]:
        line += (f"; accuracy {summary['accuracy']:.1%} ({summary['correct']}/{summary['with_truth']}), "
                 f"false accepts {summary['false_accepts']}, false rejects {summary['false_rejects']}")
    print(line)
    return 0
