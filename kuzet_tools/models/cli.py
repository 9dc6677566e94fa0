"""``kuzet models verify`` and ``kuzet models eval``.

Examples::

    kuzet models verify            # every file present, sha256 matches, loads, runs once
    kuzet models verify --json
    kuzet models eval --json       # precision/recall per class on the labelled eval set
    kuzet models eval --detector nanodet-m-416-fp16
    kuzet models eval --set phones --json   # every way of finding phones, on the phones set
    kuzet models eval --quiet-room --json   # false alerts on the quiet classroom clip
    kuzet models eval --set faces --json    # face verification: TAR at 1% FAR, the changed face
"""

from __future__ import annotations

import argparse
import copy
import functools
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
from kuzet_tools.models.evalset import LABELS_PATH, load_eval_set
from kuzet_tools.models.evaluate import evaluate
from kuzet_tools.models.phone_eval import PARTS, SCALES, variants
from kuzet_tools.models.train_phone_head import __doc__ as train_doc
from kuzet_tools.models.train_phone_head import add_arguments as add_train_arguments
from kuzet_tools.models.train_phone_head import cmd_train as cmd_train_phone_head

DEFAULT_VARIANT = "default"  # the node's own choice (docs/detection.md)
VARIANTS = tuple(variants())


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
    ev.add_argument("--score-threshold", type=float, default=None,
                    help="object score threshold (default 0.35; with --set phones or "
                    "--quiet-room the node's 0.3)")
    ev.add_argument("--face-threshold", type=float, default=0.5,
                    help="face score threshold (default 0.5)")
    ev.add_argument("--labels", type=Path, default=LABELS_PATH, help="labels JSON")
    ev.add_argument("--images", type=Path, default=None,
                    help="image cache dir (default $KUZET_EVAL_DIR or var/eval-images)")
    ev.add_argument("--set", dest="eval_set", choices=["coco", "phones", "faces"],
                    default="coco",
                    help="coco (default): the COCO eval set, with the face pairs' "
                    "\"face_verify\" beside it; phones: every phone-finding "
                    "variant on the phone sets (phones-dev's measure part, registry photos, "
                    "look-alikes, books and notes) at the photos' scale and at seat distance; "
                    "faces: face verification on the labelled face pairs (tests/data/faces) "
                    "under \"face_verify\", and the changed-face rule on its footage under "
                    "\"changed_face\"")
    ev.add_argument("--variant", choices=VARIANTS, action="append", default=None,
                    help="with --set phones: only these variants (repeatable)")
    ev.add_argument("--part", choices=PARTS + ("tune",), action="append", default=None,
                    help="with --set phones: only these parts (repeatable; tune is the part "
                    "the defaults were chosen on)")
    ev.add_argument("--scale", choices=SCALES, action="append", default=None,
                    help="with --set phones: own (the photos' scale) and/or seat (0.35x on "
                    "a 1280x720 classroom frame)")
    ev.add_argument("--limit", type=int, default=None,
                    help="with --set phones: at most this many photos per part")
    ev.add_argument("--seat-costs", action="store_true",
                    help="with --set phones: also time each variant per seat crop (vtest.avi)")
    ev.add_argument("--quiet-room", action="store_true",
                    help="false alerts of the node's look and default rules in --quiet-minutes "
                    "of the quiet classroom clip (footage/classroom.gif), under \"quiet_room\"; "
                    "alone it runs only that, with --set phones beside the phones report")
    ev.add_argument("--quiet-minutes", type=float, default=5.0,
                    help="with --quiet-room: simulated minutes (default 5)")
    ev.set_defaults(func=cmd_eval)

    tr = sub.add_parser("train-phone-head", help="train edge/models/phone_head.json (tune part)",
                        description=train_doc.split("\n\n")[0] + " Example: kuzet models "
                        "train-phone-head --report-measure")
    add_train_arguments(tr)
    tr.set_defaults(func=cmd_train_phone_head)

    tu = sub.add_parser("tune-phones", help="the phone finder's thresholds, chosen on the tune "
                        "part only", description="Look at phones-dev's tune part as the node "
                        "does, at both scales, once per phone source, and report recall and "
                        "false phones for every pair of thresholds, and the best pair within "
                        "--max-fp false phones per ten photos. Example: kuzet models "
                        "tune-phones --max-fp 1.0")
    tu.add_argument("--max-fp", type=float, default=1.0,
                    help="false phones per ten photos allowed at either scale (default 1.0)")
    tu.add_argument("--limit", type=int, default=None, help="at most this many photos")
    tu.add_argument("--source", action="append", default=None,
                    choices=["nanodet", "nanodet+head", "ssdlite"],
                    help="phone sources to try (repeatable; default all)")
    tu.set_defaults(func=cmd_tune_phones)


def cmd_tune_phones(args: argparse.Namespace) -> int:
    """Print the tuning report as JSON."""
    from kuzet_tools.models.phone_tuning import SOURCES, tune

    print(json.dumps(tune(args.max_fp, args.limit, args.source or SOURCES), indent=1))
    return 0


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
        return run_phones_eval(args)
    if getattr(args, "eval_set", "coco") == "faces":
        return run_faces_eval()
    if getattr(args, "quiet_room", False):
        return {"quiet_room": run_quiet_room(args)}
    spec = json.loads(Path(args.labels).read_text())
    images = load_eval_set(args.labels, args.images)
    choice = _choice(args, phones="off")
    detector = create_object_detector(choice)
    faces = create_face_detector(choice, with_yaw=False)
    report = evaluate(detector, faces, images, spec.get("match_iou", {})).as_dict()
    report["score_threshold"] = {"objects": choice.score_threshold,
                                 "face": args.face_threshold}
    report["match_iou"] = spec.get("match_iou", {})
    report["face_verify"] = run_faces_eval()["face_verify"]   # the 1:1 match, as --set faces
    return report


def run_phones_eval(args: argparse.Namespace) -> dict:
    """The phone sets through each asked variant (``kuzet_tools/models/phone_eval.py``)."""
    from kuzet_tools.models.phone_eval import coco_persons, run_phone_eval, variant_seat_costs
    from kuzet_tools.models.phone_eval import variants as phone_variants

    threshold = 0.3 if args.score_threshold is None else args.score_threshold
    names = args.variant or list(VARIANTS)
    report = run_phone_eval(names, args.part or PARTS, args.scale or SCALES, threshold,
                            args.limit)
    report["default_variant"] = DEFAULT_VARIANT
    report["coco_persons"] = coco_persons(phone_variants(threshold)[DEFAULT_VARIANT].choice)
    if args.seat_costs:
        report["seat_costs"] = variant_seat_costs(names, threshold)
    if getattr(args, "quiet_room", False):
        report["quiet_room"] = run_quiet_room(args)
    return report


def run_faces_eval() -> dict:
    """The face pairs' report (a copy: it is computed once per process, the set and the
    models being fixed)."""
    return copy.deepcopy(_faces_eval())


@functools.cache
def _faces_eval() -> dict:
    """The face pairs (``kuzet_tools/models/face_eval.py``): ``face_verify``, and
    ``changed_face``: the node's own rule at its defaults (``edge.rules``) on the set's
    footage, with a sweep of thresholds beside it."""
    from edge.models import face_operating_point as op
    from kuzet_tools.models.face_eval import (
        changed_face,
        changed_face_sweep,
        default_models,
        node_defaults,
        node_rule,
        sample_embeddings,
        track_embeddings,
        verification,
    )

    models = default_models()
    report = {"face_verify": verification(sample_embeddings(models=models))}
    report["face_verify"]["default_threshold"] = op.FACE_MATCH_THRESHOLD
    tracks = track_embeddings(models=models)
    d = node_defaults()
    changed = changed_face(d["threshold"], d["sustain_s"], every_s=d["every_s"],
                           median_of=d["median_of"], tracks=tracks, rule=node_rule())
    changed["same"].pop("rows")
    changed["rule"] = "edge.rules (the node's RulesEngine at its defaults)"
    thresholds = sorted({0.35, 0.4, 0.45, 0.5, 0.55, 0.6, op.FACE_CHANGED_THRESHOLD})
    changed["sweep"] = changed_face_sweep(tracks, thresholds,
                                          (d["sustain_s"],), every_s=d["every_s"],
                                          median_of=d["median_of"])
    report["changed_face"] = changed
    return report


def run_quiet_room(args: argparse.Namespace) -> dict:
    """The quiet classroom through the node's look (``kuzet_tools/models/quiet_room.py``)."""
    from kuzet_tools.models.quiet_room import quiet_room

    threshold = 0.3 if args.score_threshold is None else args.score_threshold
    return quiet_room(args.quiet_minutes, DetectionChoice(
        model=args.detector, score_threshold=threshold, face_model=args.face_detector,
        face_threshold=args.face_threshold))


def _choice(args: argparse.Namespace, phones: str = "remote") -> DetectionChoice:
    """The detectors the eval's options name, built by the node's own factory."""
    threshold = 0.35 if args.score_threshold is None else args.score_threshold
    return DetectionChoice(model=args.detector, phones=phones, score_threshold=threshold,
                           face_model=args.face_detector, face_threshold=args.face_threshold)


def cmd_eval(args: argparse.Namespace) -> int:
    """Print precision/recall per class."""
    report = run_eval(args)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if args.eval_set == "faces":
        _print_faces(report)
        return 0
    if args.eval_set == "phones" or "quiet_room" in report:
        if args.eval_set == "phones":
            _print_phones(report)
        if "quiet_room" in report:
            q = report["quiet_room"]
            print(f"quiet room {q['clip']}: {q['false_alerts']} false alerts "
                  f"{q['alerts_opened']} in {q['simulated_minutes']} min ({q['looks']} looks)")
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


def _print_faces(report: dict) -> None:
    v, c = report["face_verify"], report["changed_face"]
    print(f"face verification ({v['embedder']}): TAR {v['tar_at_far_1pct']} (95% "
          f"{v['tar_95_interval']}) at FAR 1%, threshold {v['threshold_at_far_1pct']}, on "
          f"{v['pairs']} pairs ({v['same_pairs']} same-person of {v['persons_in_same_pairs']} "
          f"persons, {v['different_pairs']} different), {v['persons']} persons")
    for part, row in v["per_part"].items():
        print(f"  {part:10} TAR {row.get('tar')} on {row['same_pairs']} same-person pairs")
    s, w = c["same"], c["switched"]
    print(f"changed face (threshold {c['threshold']}, sustained {c['sustain_s']} s): "
          f"{s['false_raises']} false raises in {s['sequences']} one-person sequences, "
          f"{w['detected']} of {w['sequences']} switches found (median delay "
          f"{w['delay_s_median']} s)")


def _print_phones(report: dict) -> None:
    print(f"phone sets {report['parts']}, threshold {report['score_threshold']}, "
          f"targets {report['targets']}")
    for v in report["variants"]:
        print(f"  {v['name']:10} {v['about']}")
        for scale, row in v["summary"].items():
            print(f"    {scale:5} phone recall {row['phone_recall']} (n {row['phones']}), "
                  f"false phones per 10 photos {row['false_phones_per_10_photos']} "
                  f"({row['false_phones_on_lookalikes']} on look-alikes), person recall "
                  f"{row['person_recall']}, {row['ms_per_photo']} ms per photo")
        print(f"    meets {v['meets']}")
    for name, row in report.get("seat_costs", {}).items():
        print(f"  seat cost {name:10} {row}")
