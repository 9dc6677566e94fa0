"""``kuzet edge …``: run the node, check a config, run detection on still images."""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
from pathlib import Path

from kuzet.errors import ConfigError, KuzetError


def register(sub: argparse._SubParsersAction) -> None:
    edge = sub.add_parser("edge", help="the edge node on a Raspberry Pi")
    cmds = edge.add_subparsers(dest="edge_command", required=True, metavar="COMMAND")

    run = cmds.add_parser("run", help="run the node (example: kuzet edge run --config "
                          "/etc/kuzet/node.toml)")
    run.add_argument("--config", required=True, help="node config file (TOML)")
    run.add_argument("--stop-at-end", action="store_true",
                     help="stop when a video file or image folder ends (tests, batch runs)")
    run.set_defaults(func=_run)

    check = cmds.add_parser("check", help="validate the config, open the source, load the "
                            "models, reach the broker; print what works (example: kuzet edge "
                            "check --config node.toml)")
    check.add_argument("--config", required=True)
    check.set_defaults(func=_check)

    detect = cmds.add_parser("detect", help="run the detection stack on still images and print "
                             "JSON (example: kuzet edge detect photo.jpg --json)")
    detect.add_argument("images", nargs="+", help="image files")
    detect.add_argument("--json", action="store_true", help="print JSON (the default)")
    detect.add_argument("--model", default=None, help="detector name (default: the manifest's)")
    detect.add_argument("--threshold", type=float, default=0.3,
                        help="minimum score (default 0.3, as the node)")
    detect.add_argument("--phones", choices=["off", "remote", "hands", "pose"],
                        default="remote", help="phone finding: hands and pose add a second "
                        "look at palms / wrists (docs/detection.md; default remote)")
    detect.add_argument("--second-detector", default=None, metavar="NAME",
                        help="the detector whose phones join the model's (default the "
                        "node's: ssdlite-mobilenet-v2; \"\" for none)")
    detect.add_argument("--phone-threshold", type=float, default=None,
                        help="the model's phones count from this score (default the node's)")
    detect.add_argument("--second-threshold", type=float, default=None,
                        help="the second detector's phones count from this score (default "
                        "the node's)")
    detect.add_argument("--look", choices=["node", "whole"], default="node",
                        help="node (the default): the room, then each seat's crop, as the node "
                        "looks; whole: the whole image once (and --tiles)")
    detect.add_argument("--seats", choices=["persons", "grid", "both"], default=None,
                        help="node look: the seats looked at: one per person the room look "
                        "finds, a grid of seat-sized cells over the image, or both (the "
                        "default)")
    detect.add_argument("--seat-px", type=float, default=None, metavar="PX",
                        help="node look: a grid cell's most side in the image's pixels "
                        "(default 240: 6x3 cells on 1280x720)")
    detect.add_argument("--lores", type=_size, default=None, metavar="WxH",
                        help="node look: the detection stream's size (example: 640x360); the "
                        "room look runs on the image shrunk to it, small seats are cut from "
                        "the full-resolution image")
    detect.add_argument("--tiles", type=int, default=0,
                        help="whole look: also an N×N grid of tiles (small objects); 0: off")
    detect.set_defaults(func=_detect)


def _size(text: str) -> tuple[int, int]:
    """``640x360`` -> ``(640, 360)``."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 640x360") \
            from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be 16..8192")
    return w, h


def _run(args) -> int:
    from edge.config import load_config
    from edge.node import EdgeNode

    cfg = load_config(args.config)
    node = EdgeNode(cfg, stop_at_end=args.stop_at_end)
    signal.signal(signal.SIGTERM, lambda *_: node.stop_event.set())
    until = node.source_ended.is_set if args.stop_at_end else None
    try:
        node.run(until=until)
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
    return 0


def _check(args) -> int:
    """Each part on its own line: ok or what is wrong. Exit 1 if anything failed."""
    from edge.config import load_config

    results: list[tuple[str, bool, str]] = []
    try:
        cfg = load_config(args.config)
        results.append(("config", True, str(args.config)))
    except ConfigError as exc:
        print(f"FAIL config: {exc}")
        return 1
    try:
        from edge.seats import load_seat_map
        spec = load_seat_map(cfg.seat_map)
        results.append(("seat map", True, f"{len(spec.seats)} seats in {cfg.seat_map}"))
    except KuzetError as exc:
        results.append(("seat map", False, str(exc)))
    try:
        from edge.capture.factory import open_source
        src = open_source(cfg.source)
        src.open()
        frame = src.read()
        src.close()
        h, w = frame.image.shape[:2]
        results.append(("source", True, f"{src.name}: {w}x{h}"))
    except KuzetError as exc:
        results.append(("source", False, str(exc)))
    try:
        import numpy as np

        from edge.models.factory import create_detectors
        det, faces = create_detectors(cfg.detection)     # what the node runs
        det.detect(np.zeros((480, 640, 3), np.uint8))
        msg = cfg.detection.model
        if faces is not None:
            faces.detect(np.zeros((480, 640, 3), np.uint8))
            msg += f", {cfg.detection.face_model}"
        results.append(("models", True, msg))
    except KuzetError as exc:
        results.append(("models", False, str(exc)))
    b = cfg.broker
    try:
        with socket.create_connection((b.host, b.port), timeout=3):
            results.append(("broker", True, f"{b.host}:{b.port} reachable"))
    except OSError as exc:
        results.append(("broker", False, f"{b.host}:{b.port}: {exc}"))
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    return 0 if all(ok for _, ok, _ in results) else 1


def _detect(args) -> int:
    from edge.detect import detect_images

    try:
        out = detect_images([Path(p) for p in args.images], model=args.model,
                            threshold=args.threshold, tiles=args.tiles, phones=args.phones,
                            look=args.look, lores=args.lores, seats=args.seats,
                            seat_px=args.seat_px, phone_options={
                                k: v for k, v in (("second_detector", args.second_detector),
                                                  ("phone_threshold", args.phone_threshold),
                                                  ("second_threshold", args.second_threshold))
                                if v is not None})
    except ValueError as exc:            # an option that the look chosen does not take
        print(f"kuzet edge detect: {exc}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0 if all("error" not in o for o in out) else 1
