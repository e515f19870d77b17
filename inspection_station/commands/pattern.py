"""`inspection-station pattern derive|evaluate|transform|check`: the old system's pattern tools.

derive    the old tools/determine_desired_coordinates: a variant from good frames' boxes
          (YOLO txt labels, or the model's predictions on images); per-class margins, a
          class filter and a PNG of the taught slots
evaluate  the old tools/overall_coordinate_evaluation: the verdict per image, OK/NOK
          counts and, against a truth (CSV `file,verdict`, or the labels' own verdict
          when boxes come from the model), accuracy, false accepts and false rejects;
          drawn images of every disagreement; exit 1 on any false accept
transform the old tools/rotate_bbox: rotate (clockwise) or flip a pattern file or a folder
          of YOLO labels
check     the old /check-pattern endpoint: the verdict of boxes given as `detect --json`
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from inspection_station.commands.arguments import fraction, number
from inspection_station.commands.progress import progress
from inspection_station.core.errors import PatternError, StationError
from inspection_station.core.patterns.matching import MatchResult, match_pattern, verdict_fields
from inspection_station.core.patterns.model import PATTERN_SUFFIXES, PatternSet
from inspection_station.core.patterns.teaching import (
    NormBox,
    derive_variant,
    normalise_detections,
    read_yolo_labels,
    to_detections,
)
from inspection_station.core.patterns.yaml_io import (
    load_pattern_set,
    save_pattern_set,
)
from inspection_station.core.regular_files import read_bytes_limited
from inspection_station.core.text_files import DEFAULT_MAX_BYTES, read_text_limited

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
    d.add_argument("--margin", action="append", default=[], metavar="CLASS=FACTOR",
                   help="margin of one class id (overrides --tolerance for it); repeat per class")
    d.add_argument("--classes", default="", metavar="IDS",
                   help="comma-separated class ids to teach; other classes' boxes are ignored")
    d.add_argument("--draw", type=Path, metavar="PNG",
                   help="write the taught slots over a frame (the first of --images, else a blank one)")
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
    e.add_argument("--save-images", type=Path, metavar="DIR",
                   help="write a drawn image of every disagreement with the truth (boxes + the best variant's slots)")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.set_defaults(func=run_evaluate)

    t = psub.add_parser("transform", help="rotate (clockwise) or flip a pattern file or a folder of YOLO labels")
    how = t.add_mutually_exclusive_group(required=True)
    how.add_argument("--rotate", type=int, choices=(90, 180, 270), help="clockwise, in degrees")
    how.add_argument("--flip", choices=("h", "v"), help="h = mirror left-right, v = mirror top-bottom")
    t.add_argument("input", type=Path, metavar="IN", help="a pattern file (.yaml) or a folder of YOLO txt labels")
    t.add_argument("--out", type=Path, required=True, help="the pattern file, or the labels folder, to write")
    t.set_defaults(func=run_transform)

    c = psub.add_parser("check", help="the verdict of boxes given as JSON (`detect --json` output): exit 0 OK, 1 NOK")
    c.add_argument("--boxes", type=Path, required=True, metavar="FILE.json",
                   help="one `detect --json` object (or one per line): boxes in pixels, width, height")
    c.add_argument("--patterns", type=Path, required=True, help="pattern file, or a folder of pattern files")
    c.add_argument("--pattern-set", default="", help="which pattern set of the folder (default: the first)")
    c.add_argument("--json", action="store_true", help="one JSON object per record, as `inspect --json`")
    c.set_defaults(func=run_check)


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
    for stem, path in progress(list(image_files(images).items()), "predicting"):
        image = load_image(path)
        frames[stem] = normalise_detections(detector.detect(image), image.shape[1], image.shape[0])
    return frames, detector.class_count


def _labelled_frames(labels: Path, only: set[str] | None = None) -> dict[str, list[NormBox]]:
    return {stem: read_yolo_labels(p) for stem, p in label_files(labels).items() if only is None or stem in only}


def _verdict(match: MatchResult) -> str:
    return str(match.verdict)


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

    margins = parse_margins(args.margin)
    classes = parse_classes(args.classes)
    taught = derive_variant(list(frames.values()), args.tolerance, margins, classes)
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
    kept = {stem: [b for b in boxes if classes is None or b.class_id in classes] for stem, boxes in frames.items()}
    passing = [stem for stem, boxes in kept.items() if _match_boxes(only_this, boxes).ok]
    if args.draw:
        _draw_taught(args.draw, taught.slots, args.images)
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
            "drawn": str(args.draw) if args.draw else None,
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
    if args.draw:
        print(f"  drawn: {args.draw}")
    return 0


def parse_margins(items: list[str]) -> dict[int, float]:
    """`--margin 0=0.2 --margin 3=0.5` -> {0: 0.2, 3: 0.5}."""
    margins: dict[int, float] = {}
    for item in items:
        cls, sep, factor = item.partition("=")
        try:
            if not sep:
                raise ValueError
            c, f = int(cls), float(factor)
            if c < 0 or not 0 <= f <= 5:  # nan and inf fail here too (as --tolerance)
                raise ValueError
        except ValueError:
            raise StationError(f"pattern derive --margin {item!r}: expected CLASS=FACTOR, "
                               "a class id >= 0 and a factor in [0, 5] (e.g. 2=0.25)") from None
        margins[c] = f
    return margins


def parse_classes(text: str) -> set[int] | None:
    if not text.strip():
        return None
    try:
        ids = {int(v) for v in text.split(",") if v.strip()}
        if any(v < 0 for v in ids):
            raise ValueError
    except ValueError:
        raise StationError(f"pattern derive --classes {text!r}: expected class ids >= 0, comma-separated (e.g. 0,2,3)") from None
    return ids


def _first_image(images: Path | None):
    from inspection_station.core.images import load_image

    if images is None:
        return None
    files = list(image_files(images).values())
    return load_image(files[0]) if files else None


def _draw_taught(png: Path, slots, images: Path | None) -> None:
    from inspection_station.core.atomic import atomic_write_bytes
    from inspection_station.core.patterns.drawing import blank_frame, draw_slots
    from inspection_station.core.results.archive import encode_image

    frame = _first_image(images)
    drawn = draw_slots(frame if frame is not None else blank_frame(), slots)
    atomic_write_bytes(png, encode_image(drawn, "png"), backup=False)


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
    from inspection_station.core.patterns.yaml_io import choose_pattern_set, read_pattern_library

    library = read_pattern_library(path, num_classes)  # a broken file elsewhere does not stop this set
    ps = choose_pattern_set(library, name, path)
    for note in [*library.problems, *ps.warnings]:
        print(f"inspection-station: warning: {note}", file=sys.stderr)
    return ps


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
    matches: dict[str, MatchResult] = {}
    for stem, boxes in frames.items():
        m = matches[stem] = _match_boxes(ps, boxes)
        rows.append(ImageVerdict(stem, _verdict(m), m.variant, m.filled, m.expected, truth.get(stem)))
    summary = summarise(rows)
    wrong = [r for r in rows if r.truth is not None and r.truth != r.verdict]
    if args.save_images:
        summary["images_saved"] = _save_disagreements(args.save_images, wrong, ps, frames, matches, args.images)
    # a false accept lets a bad part through: a finding, whatever the accuracy
    code = 1 if summary["false_accepts"] else 0
    if args.json:
        print(json.dumps({"pattern_set": ps.name, "images": [r.__dict__ for r in rows], "summary": summary}))
        return code
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
    if args.save_images:
        print(f"  {summary['images_saved']} disagreement image(s) in {args.save_images}")
    return code


def _save_disagreements(
    folder: Path,
    wrong: list[ImageVerdict],
    ps: PatternSet,
    frames: dict[str, list[NormBox]],
    matches: dict[str, MatchResult],
    images: Path | None,
) -> int:
    """`<stem>_<verdict>-vs-<truth>.jpg` per disagreement: boxes + the best variant's slots."""
    from inspection_station.core.images import load_image
    from inspection_station.core.patterns.drawing import blank_frame, draw_judgement
    from inspection_station.core.results.archive import encode_image

    folder.mkdir(parents=True, exist_ok=True)
    pictures = image_files(images) if images else {}
    for r in progress(wrong, "drawing"):
        image = load_image(pictures[r.file]) if r.file in pictures else blank_frame()
        h, w = image.shape[:2]
        m = matches[r.file]
        slots = ps.variants[m.variant] if m.variant else ()
        drawn = draw_judgement(image, slots, [s.matched for s in m.slots], to_detections(frames[r.file], w, h))
        (folder / f"{r.file}_{r.verdict}-vs-{r.truth}.jpg").write_bytes(encode_image(drawn, "jpg", 90))
    return len(wrong)


# --- transform -------------------------------------------------------------------------------


def run_transform(args: argparse.Namespace) -> int:
    from inspection_station.core.atomic import atomic_write_bytes
    from inspection_station.core.patterns.geometry_ops import (
        operation,
        transform_label_text,
        transform_pattern_set,
    )

    op = operation(args.rotate, args.flip)
    src: Path = args.input
    out: Path = args.out
    if src.is_file() and src.suffix.lower() in PATTERN_SUFFIXES:
        ps = load_pattern_set(src)
        for note in ps.warnings:
            print(f"inspection-station: warning: {note}", file=sys.stderr)
        moved = transform_pattern_set(ps, op)
        save_pattern_set(PatternSet(out.stem, moved.variants, out, moved.min_scores), out)
        print(f"{out}: {src.name} {_op_text(op)}, {sum(len(v) for v in ps.variants.values())} slots")
        return 0
    if not src.is_dir():
        raise StationError(f"{src}: expected a pattern file (.yaml, .yml) or a folder of YOLO txt labels")
    if out.resolve() == src.resolve():
        raise StationError(f"{out}: the output folder is the input folder; the labels would be overwritten")
    files = label_files(src)
    if not files:
        raise StationError(f"{src}: no YOLO txt label files in the folder")
    texts = {}
    for path in progress(list(files.values()), "reading"):  # all checked before any is written
        text = read_text_limited(path, what="label file", error=PatternError)
        texts[path.name] = transform_label_text(text, op, str(path))
    out.mkdir(parents=True, exist_ok=True)
    for name, text in progress(list(texts.items()), "writing"):
        # derived files, the input stays: whole-file replaces without an fsync each (1000s of files)
        atomic_write_bytes(out / name, text.encode("utf-8"), backup=False, fsync=False)
    for name in NOT_LABELS:  # class lists travel with the labels, unchanged
        if (src / name).is_file():
            (out / name).write_bytes(read_bytes_limited(src / name, DEFAULT_MAX_BYTES, "class list", PatternError))
    print(f"{out}: {len(texts)} label files {_op_text(op)}")
    return 0


def _op_text(op: str) -> str:
    return {"rotate90": "rotated 90 degrees clockwise", "rotate180": "rotated 180 degrees",
            "rotate270": "rotated 270 degrees clockwise", "flip_h": "flipped left-right",
            "flip_v": "flipped top-bottom"}[op]


# --- check -----------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    from inspection_station.core.patterns.box_records import read_box_records, record_detections

    ps = _choose_set(args.patterns, args.pattern_set, None)
    records = read_box_records(args.boxes)
    judged = [(where, record, *record_detections(where, record)) for where, record in records]  # all checked first
    verdicts = []
    for where, record, detections, width, height in judged:
        m = match_pattern(ps, detections, width, height)
        verdicts.append(_verdict(m))
        if args.json:
            out = {**record, **verdict_fields(m.verdict, ps.name, m)}
            print(json.dumps(out), flush=True)
        else:
            print(f"{record.get('image', where)}: {_verdict(m)}  {m.summary()}")
    return 1 if "NOK" in verdicts else 0
