"""What one 30-seat sweep costs on ONE core: ``kuzet bench edge``'s CPU figures.

A Raspberry Pi's budget is its CPU, so this part of the benchmark counts CPU time, not wall
time. Each footage runs in a child process (``python -m kuzet_tools.bench.cpu quiet``) pinned
to one CPU (``os.sched_setaffinity``; every thread the node starts inherits it) with every
TFLite interpreter on one thread (``[detection] num_threads = 1``; the blur detector and the
face embedder have one already). The child runs the whole node (``EdgeNode``: capture,
prepare, detect, rules, evidence, MQTT to a real mosquitto started before the pinning, so the
broker is not counted: on a real room it runs on the hub) on a 30-seat map and reads its
process CPU time (``time.process_time``: user + system of every thread) over ``sweeps``
sweeps. A sweep is the room look and one look at every seat, as the node's scheduler makes
them (``NodeStats.sweeps`` counts the room looks). CPU time, not wall: other work on this
shared machine slows the sweep's wall time down but barely changes the CPU it takes (caches
and the memory bus are shared, so a few per cent).

The footage:

* ``quiet``: the quiet classroom (``kuzet_tools/footage/classroom.gif``, four students sitting
  still, CC BY 4.0 Intel), 480x270 at 16.7 fps, with a 6x5 grid of seats over its desks
  (``CLASSROOM_REGION``): the seats where nothing changes are most of the room;
* ``vtest``: ``vtest.avi`` (Debian opencv-doc, people walking), 768x576 at 10 fps, with the
  6x5 grid of ``write_vtest_node``: something changes at most seats.

The limit, measured in the same child on the same core: ``bare_cpu_ms_per_sweep``, the node's
own models (``infer`` only: object detector, its gated second detector, face detector) on the
room and the 30 seat inputs of one frame, prepared beforehand: a full sweep. A node that skips
unchanged seats (``[detection] skip_unchanged``, ``edge/change.py``) looks at fewer than 31
jobs a sweep, so ``cpu_vs_bare`` compares per look: CPU ms per look the node spent against the
bare models' per look (what capture, pre- and post-processing, rules, evidence, MQTT and the
change gate add to each look). ``model_cpu_ms`` is each model
file's ``invoke()`` alone (median CPU ms, one thread), the figure ``docs/edge.md`` scales to a
Pi by each model family's published ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FOOTAGE = ("quiet", "vtest")
CLASSROOM_REGION = (0.0, 100.0, 420.0, 270.0)   # the desks of the 480x270 classroom
WARM_SWEEPS = 2          # sweeps run before counting (models warmed, first alerts opened)


def cpu_sweeps(footage: str, sweeps: int = 10, *, models: bool = False,
               timeout_s: float | None = None) -> dict:
    """Run one footage's child process and return its figures (see ``measure``)."""
    if footage not in FOOTAGE:
        raise ValueError(f"footage must be one of {', '.join(FOOTAGE)}, not {footage!r}")
    if sweeps < 1:
        raise ValueError(f"sweeps must be at least 1, got {sweeps}")
    cmd = [sys.executable, "-m", "kuzet_tools.bench.cpu", footage, "--sweeps", str(sweeps)]
    if models:
        cmd.append("--models")
    limit = timeout_s or 120.0 + 60.0 * (sweeps + WARM_SWEEPS)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the one-core bench on {footage} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def pin_one_cpu() -> int:
    """Pin this process (and every thread it starts later) to one of its allowed CPUs."""
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def _write_node(footage: str, folder: Path, port: int) -> Path:
    from edge.seats import grid_seat_map
    from kuzet_tools.examples import write_classroom_node, write_vtest_node

    one_thread = {"detection": {"num_threads": 1}}
    if footage == "vtest":
        return write_vtest_node(folder, broker_port=port, loop=True, extra=one_thread)
    path = write_classroom_node(folder, broker_port=port, loop=True, extra=one_thread)
    seats = grid_seat_map(6, 5, 480, 270, region=CLASSROOM_REGION, room="a101")
    (folder / "seats.json").write_text(json.dumps(seats.model_dump(mode="json"), indent=1))
    return path


def _first_frame(cfg):
    import cv2

    cap = cv2.VideoCapture(str(cfg.source.uri))
    try:
        ok, image = cap.read()
    finally:
        cap.release()
    if not ok:
        raise RuntimeError(f"cannot read {cfg.source.uri}")
    return image


def bare_sweep_cpu_ms(node, image, repeats: int = 3) -> float:
    """CPU ms of the node's models alone (``infer``) on the room and every seat of one
    frame, inputs prepared beforehand: the least a sweep can cost. The lowest of
    ``repeats`` sweeps (the others had something else in the way)."""
    from edge.capture.base import Frame
    from edge.pipeline import infer_look, prepare_look

    h, w = image.shape[:2]
    seats, scheduler = node.seat_plan.for_frame(w, h)
    frame = Frame(image, seq=0, t_mono=0.0, t_wall=0.0)
    looks = [prepare_look(job, frame, seats, scheduler, node.detector, node.face_detector,
                          from_main_below_px=node.pipeline.from_main_below_px,
                          pose_estimator=node.pose_estimator) for job in scheduler.jobs]
    best = float("inf")
    for _ in range(repeats + 1):                 # the first is the warm-up
        new_sweep = getattr(node.detector, "new_sweep", None)
        if new_sweep is not None:
            new_sweep()
        t0 = time.process_time()
        for look in looks:
            infer_look(look, node.detector, node.face_detector, node.pose_estimator)
        best = min(best, 1000 * (time.process_time() - t0))
    return best


def model_cpu_ms(runs: int = 15) -> dict[str, float]:
    """Each shipped model file's ``invoke()`` alone, one thread: median CPU ms (inputs are
    zeros of the model's input shape; a dense network's cost does not depend on them)."""
    import numpy as np

    from edge.models.manifest import load_manifest
    from edge.models.runtime import make_interpreter

    out = {}
    for entry in load_manifest().values():
        interp = make_interpreter(entry.path, num_threads=1)
        for d in interp.get_input_details():
            interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        times = []
        for i in range(runs + 2):
            t0 = time.process_time()
            interp.invoke()
            if i >= 2:                           # two warm-up runs
                times.append(1000 * (time.process_time() - t0))
        out[entry.name] = round(statistics.median(times), 2)
    return out


def measure(footage: str, sweeps: int, *, models: bool = False) -> dict:
    """In this (child) process: the node on ``footage`` pinned to one CPU, one thread per
    interpreter; CPU ms per sweep over ``sweeps`` sweeps after ``WARM_SWEEPS``."""
    from edge.config import load_config
    from edge.node import EdgeNode
    from kuzet_tools.broker import MosquittoBroker

    with tempfile.TemporaryDirectory(prefix="kuzet-bench-cpu-") as tmp:
        tmp = Path(tmp)
        with MosquittoBroker(tmp / "mq") as broker:        # started before the pinning
            cpu = pin_one_cpu()
            cfg = load_config(_write_node(footage, tmp / "node", broker.port))
            node = EdgeNode(cfg)
            bare = bare_sweep_cpu_ms(node, _first_frame(cfg))
            per_model = model_cpu_ms() if models else None
            node.start()
            try:
                deadline = time.monotonic() + 60.0 * (sweeps + WARM_SWEEPS) + 60.0
                while node.stats.sweeps < WARM_SWEEPS + 1:
                    _wait(node, deadline)
                s0, c0, w0 = node.stats, time.process_time(), time.perf_counter()
                while node.stats.sweeps < s0.sweeps + sweeps:
                    _wait(node, deadline)
                s1, c1, w1 = node.stats, time.process_time(), time.perf_counter()
            finally:
                node.stop()
    n = s1.sweeps - s0.sweeps
    cpu_ms = 1000 * (c1 - c0) / n
    looks = (s1.looks - s0.looks) / n
    jobs = len(node.seat_plan.scheduler.jobs) if node.seat_plan.scheduler else 31
    result = {
        "footage": footage, "cpu": cpu, "num_threads": cfg.detection.num_threads,
        "seats": len(node.seat_plan.current.seats) if node.seat_plan.current else None,
        "sweeps": n, "looks_per_sweep": round(looks, 2),
        "cpu_ms_per_sweep": round(cpu_ms, 1),
        "bare_cpu_ms_per_sweep": round(bare, 1),
        "cpu_ms_per_look": round(cpu_ms / max(looks, 1e-9), 2),
        "bare_cpu_ms_per_look": round(bare / jobs, 2),
        "cpu_vs_bare": round(cpu_ms / max(looks, 1e-9) / (bare / jobs), 3),
        "wall_ms_per_sweep": round(1000 * (w1 - w0) / n, 1),
        # the detect thread's wall time in the models: on one core it includes the other
        # threads' turns, so it is above the models' own CPU
        "model_wall_ms_per_sweep": round(1000 * (s1.model_s - s0.model_s) / n, 1),
        "worst_seat_revisit_s": (round(s1.worst_seat_revisit, 3)
                                 if s1.worst_seat_revisit is not None else None),
    }
    if per_model is not None:
        result["model_cpu_ms"] = per_model
    return result


def _wait(node, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"the node made {node.stats.sweeps} sweeps before the deadline")
    if node.stop_event.wait(0.1) or not node.threads_alive():
        raise RuntimeError("the node stopped during the one-core bench")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="CPU ms per 30-seat sweep on one core (JSON)")
    ap.add_argument("footage", choices=FOOTAGE)
    ap.add_argument("--sweeps", type=int, default=10)
    ap.add_argument("--models", action="store_true", help="also each model's invoke CPU ms")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    json.dump(measure(args.footage, args.sweeps, models=args.models), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
