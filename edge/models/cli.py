"""``kuzet models verify`` and ``kuzet models eval``.

Examples::

    kuzet models verify            # every file present, sha256 matches, loads, runs once
    kuzet models verify --json
    kuzet models eval --json       # precision/recall per class on the labelled eval set
    kuzet models eval --detector nanodet-m-416-fp16
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.models.evalset import LABELS_PATH, load_eval_set
from edge.models.evaluate import evaluate
from edge.models.manifest import verify
from edge.models.registry import (
    DEFAULT_DETECTOR,
    DEFAULT_FACE_DETECTOR,
    DETECTORS,
    FACE_DETECTORS,
    create_detector,
    create_face_detector,
)


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
    spec = json.loads(Path(args.labels).read_text())
    images = load_eval_set(args.labels, args.images)
    detector = create_detector(args.detector, score_threshold=args.score_threshold)
    faces = create_face_detector(args.face_detector, score_threshold=args.face_threshold,
                                 with_yaw=False)
    report = evaluate(detector, faces, images, spec.get("match_iou", {})).as_dict()
    report["score_threshold"] = {"objects": args.score_threshold, "face": args.face_threshold}
    report["match_iou"] = spec.get("match_iou", {})
    return report


def cmd_eval(args: argparse.Namespace) -> int:
    """Print precision/recall per class."""
    report = run_eval(args)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['detector']} + {report['face_detector']} on {report['images']} images")
    print(f"{'class':16} {'precision':>9} {'recall':>7} {'n':>4}")
    rows = list(report["per_class"].items()) + [("ALL OBJECTS", report["all_objects"])]
    for name, row in rows:
        p = "-" if row["precision"] is None else f"{row['precision']:.2f}"
        r = "-" if row["recall"] is None else f"{row['recall']:.2f}"
        print(f"{name:16} {p:>9} {r:>7} {row['n']:>4}")
    print(f"ms per image: {report['ms_per_image']}")
    return 0
