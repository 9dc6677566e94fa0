"""``kuzet models verify`` and ``kuzet models eval``.

Examples::

    kuzet models verify            # every file present, sha256 matches, loads, runs once
    kuzet models verify --json
    kuzet models eval --json       # precision/recall per class on the labelled eval set
    kuzet models eval --detector nanodet-m-416-fp16
    kuzet models eval --set phones --json   # every way of finding phones, on the phones set
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.models.factory import DetectionChoice, create_face_detector, create_object_detector
from edge.models.manifest import verify
from edge.models.registry import (
    DEFAULT_DETECTOR,
    DEFAULT_FACE_DETECTOR,
    DETECTORS,
    FACE_DETECTORS,
)
from kuzet_tools.models.evalset import LABELS_PATH, REPO, load_eval_set
from kuzet_tools.models.evaluate import evaluate
from kuzet_tools.models.phone_eval import VARIANTS

PHONES_LABELS = REPO / "tests" / "data" / "phones" / "labels.json"
DEFAULT_VARIANT = "remote"   # chosen by the figures in docs/detection.md


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kuzet models …`` to the top-level parser."""
    models = subparsers.add_parser(
        "models", help="check and evaluate the model files", description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter)
    sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    ver = sub.add_parser("verify", help="check every model file (exit 1 on any failure)",
                         description="Check that every model in the manifest is present, has "
                         "the recorded sha256, loads, has the expected input shape and runs "
                         "once. Example: kuzet models verify --json")
    ver.add_argument("--json", action="store_true", help="print JSON")
    ver.add_argument("--manifest", type=Path, default=None, help="another manifest.json")
    ver.set_defaults(func=cmd_verify)

    ev = sub.add_parser("eval", help="precision/recall per class on the labelled eval set",
                        description="Run the detectors on real photos and video frames obtained "
                        "from packages and compare with hand-written labels. Example: "
                        "kuzet models eval --json --detector nanodet-m-416-fp16")
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.add_argument("--detector", default=DEFAULT_DETECTOR, choices=sorted(DETECTORS))
    ev.add_argument("--face-detector", default=DEFAULT_FACE_DETECTOR,
                    choices=sorted(FACE_DETECTORS))
    ev.add_argument("--score-threshold", type=float, default=0.35,
                    help="object score threshold (default 0.35)")
    ev.add_argument("--face-threshold", type=float, default=0.5,
                    help="face score threshold (default 0.5)")
    ev.add_argument("--labels", type=Path, default=LABELS_PATH, help="labels JSON")
    ev.add_argument("--images", type=Path, default=None,
                    help="image cache dir (default $KUZET_EVAL_DIR or var/eval-images)")
    ev.add_argument("--set", dest="eval_set", choices=["coco", "phones"], default="coco",
                    help="coco (default): the COCO eval set, plus the default phone finder "
                    "on the phones set (cell phone, book, paper, laptop, person, face); "
                    "phones: every phone-finding variant on the phones set")
    ev.add_argument("--variant", choices=VARIANTS, action="append", default=None,
                    help="with --set phones: only these variants (repeatable)")
    ev.add_argument("--seat-costs", action="store_true",
                    help="with --set phones: also time each variant per seat crop (vtest.avi)")
    ev.set_defaults(func=cmd_eval)


def cmd_verify(args: argparse.Namespace) -> int:
    """Print one line (or JSON object) per model; 1 if any failed."""
    results = verify(args.manifest)
    if args.json:
        print(json.dumps({"ok": all(r.ok for r in results),
                          "models": [r.as_dict() for r in results]}, indent=2))
    else:
        for r in results:
            state = "ok  " if r.ok else "FAIL"
            detail = f"{r.ms_per_invoke} ms" if r.ok else r.error
            print(f"{state} {r.name:24} {Path(r.file).name:42} {detail}")
    return 0 if all(r.ok for r in results) else 1


def run_eval(args: argparse.Namespace) -> dict:
    """The eval report as a dict (what ``--json`` prints)."""
    if getattr(args, "eval_set", "coco") == "phones":
        labels = PHONES_LABELS if Path(args.labels) == LABELS_PATH else Path(args.labels)
        return run_phones_eval(args, labels, args.variant or list(VARIANTS), args.seat_costs)
    spec = json.loads(Path(args.labels).read_text())
    images = load_eval_set(args.labels, args.images)
    choice = _choice(args, phones="off")
    detector = create_object_detector(choice)
    faces = create_face_detector(choice, with_yaw=False)
    report = evaluate(detector, faces, images, spec.get("match_iou", {})).as_dict()
    report["score_threshold"] = {"objects": args.score_threshold, "face": args.face_threshold}
    report["match_iou"] = spec.get("match_iou", {})
    report["phones"] = run_phones_eval(args, PHONES_LABELS, [DEFAULT_VARIANT], False)
    return report


def run_phones_eval(args: argparse.Namespace, labels: Path, variants: list[str],
                    seat_costs: bool) -> dict:
    """The phones set (``labels``: ``tests/data/phones/labels.json``) through each of
    ``variants``; with ``seat_costs`` also the detect-thread time per seat of each."""
    from edge.models.phones import create_phone_detector
    from kuzet_tools.models.phone_eval import face_counts, run_variant
    from kuzet_tools.models.phone_eval import seat_costs as time_seats

    spec = json.loads(labels.read_text())
    images = load_eval_set(labels, args.images)
    iou = spec.get("match_iou", {})
    plain = create_object_detector(_choice(args, phones="off"))
    phones = create_object_detector(_choice(args, phones="hands"))
    faces = create_face_detector(_choice(args), with_yaw=False)
    report = {
        "set": str(labels), "images": len(images), "default_variant": DEFAULT_VARIANT,
        "variants": [run_variant(v, phones, plain, images, set(spec["classes"]),
                                 iou.get("default", 0.5)).as_dict() for v in variants],
        "face": face_counts(faces, images, iou.get("face", 0.3)).as_dict(),
    }
    if seat_costs:
        timed = {"stock": plain, "remote": create_object_detector(_choice(args, phones="remote")),
                 "hands": phones}
        timed = {k: v for k, v in timed.items() if k in variants}
        if "hands" in timed:   # the worst case, which no node runs: a second look every seat
            timed["hands-every-seat"] = create_phone_detector(
                args.detector, score_threshold=args.score_threshold, hands=True,
                palm_threshold=0.001)
        report["seat_costs"] = time_seats(timed)
    return report


def _choice(args: argparse.Namespace, phones: str = "remote") -> DetectionChoice:
    """The detectors the eval's options name, built by the node's own factory."""
    return DetectionChoice(model=args.detector, phones=phones,
                           score_threshold=args.score_threshold,
                           face_model=args.face_detector, face_threshold=args.face_threshold)


def cmd_eval(args: argparse.Namespace) -> int:
    """Print precision/recall per class."""
    report = run_eval(args)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if args.eval_set == "phones":
        _print_phones(report)
        return 0
    print(f"{report['detector']} + {report['face_detector']} on {report['images']} images")
    print(f"{'class':16} {'precision':>9} {'recall':>7} {'n':>4}")
    rows = list(report["per_class"].items()) + [("ALL OBJECTS", report["all_objects"])]
    for name, row in rows:
        p = "-" if row["precision"] is None else f"{row['precision']:.2f}"
        r = "-" if row["recall"] is None else f"{row['recall']:.2f}"
        print(f"{name:16} {p:>9} {r:>7} {row['n']:>4}")
    print(f"ms per image: {report['ms_per_image']}")
    _print_phones(report["phones"])
    return 0


def _print_phones(report: dict) -> None:
    print(f"phones set: {report['images']} images; face "
          f"{report['face']['precision']} / {report['face']['recall']} (n {report['face']['n']})")
    for v in report["variants"]:
        print(f"  {v['variant']:14} false phones per 10 images "
              f"{v['false_phones_per_10_images']}, {v['ms_per_image']} ms per image")
        for name, row in v["per_class"].items():
            p = "-" if row["precision"] is None else f"{row['precision']:.2f}"
            r = "-" if row["recall"] is None else f"{row['recall']:.2f}"
            print(f"    {name:14} {p:>9} {r:>7} {row['n']:>4}  fp {row['fp']}")
    for name, row in report.get("seat_costs", {}).items():
        print(f"  seat cost {name:10} {row}")
