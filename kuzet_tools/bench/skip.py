"""What skipping unchanged seats saves, and how late a change is seen: ``kuzet bench edge``'s
``skip_unchanged`` figures.

Each footage is looked at as the node's pipeline looks (``edge.pipeline`` prepare / infer /
decode / observe, the node's default detectors on ONE interpreter thread, a real
``RulesEngine`` with the default rules in a started session, the seat gate of
``edge.change.SkipGate`` fed the rules' watched seats), on this one thread, with skipping on
and off. Time is the CPU time the looking took (``time.process_time``: one core's timeline),
so the frame a look sees is the footage's frame at that time, as a live camera's would be:

* ``quiet``: the quiet classroom (``kuzet_tools/footage/classroom.gif``, CC BY 4.0 Intel;
  16.7 fps, looping) with the 6x5 seat grid over its desks of ``kuzet_tools/bench/cpu.py``;
* ``vtest``: ``vtest.avi`` (people walking, 10 fps) with the node's 6x5 walkway grid.

The first sweep (every seat's first look) is not counted. A run with skipping on lasts at least
``seconds`` of that timeline (twice the 10 s bound: the looks it forces are counted); one with
skipping off ``sweeps`` sweeps (on the quiet room at least two injections' time).

A change is injected on the quiet room while skipping is on: every ``INJECT_EVERY_S`` a real
person (a walker cut from vtest.avi's frame 300) is pasted into the next seat of the grid for
``INJECT_S``; ``change_seen_within_s`` is the longest time from its first frame to the
detector's first look at that seat (the same with skipping off, beside it).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

INJECT_EVERY_S = 3.7      # one pasted person this often, each at the next seat
INJECT_S = 2.0            # shown this long
WALKER_FRAME, WALKER_BOX = 300, (310, 205, 348, 300)   # a man walking (tests/data/eval)
TARGETS = {"quiet_over_vtest": 1 / 3, "change_seen_within_s": 2.0}


class Footage:
    """The footage's frame showing at time ``t`` (seconds; it loops), read forward."""

    def __init__(self, path, fps: float | None = None) -> None:
        self.path = str(path)
        self._cap = cv2.VideoCapture(self.path)
        self.fps = fps or self._cap.get(cv2.CAP_PROP_FPS) or 10.0
        self.count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
        self._index, self._image = -1, None

    def at(self, t: float) -> tuple[int, np.ndarray]:
        want = int(t * self.fps) % self.count if self.count else int(t * self.fps)
        if want < self._index or self._image is None:
            self._cap.release()
            self._cap = cv2.VideoCapture(self.path)
            self._index = -1
        while self._index < want:
            ok, image = self._cap.read()
            if not ok:
                if self._index < 0:
                    raise RuntimeError(f"cannot read {self.path}")
                self.count = self._index + 1          # a shorter file than it said
                return self.at(t)
            self._index, self._image = self._index + 1, image
        assert self._image is not None
        return self._index, self._image

    def close(self) -> None:
        self._cap.release()


@dataclass
class Injection:
    seat: str
    start: float
    seen: float | None = None
    found_person: bool = False


@dataclass
class Run:
    sweeps: int = 0
    cpu_s: float = 0.0
    looks: int = 0
    visits: int = 0
    skipped: int = 0
    last_look: dict[str, float] = field(default_factory=dict)
    worst_look_gap_s: float = 0.0
    injections: list[Injection] = field(default_factory=list)


def walker() -> np.ndarray:
    from kuzet_tools.examples import VTEST

    footage = Footage(VTEST)
    try:
        _, image = footage.at(WALKER_FRAME / footage.fps)
    finally:
        footage.close()
    x1, y1, x2, y2 = WALKER_BOX
    return image[y1:y2, x1:x2].copy()


def paste(image: np.ndarray, seat, person: np.ndarray) -> np.ndarray:
    """``image`` with ``person`` standing in ``seat``'s polygon (its height, centred)."""
    x1, y1 = seat.polygon.min(axis=0)
    x2, y2 = seat.polygon.max(axis=0)
    h = max(8, int(y2 - y1))
    w = max(4, int(h * person.shape[1] / person.shape[0]))
    cx, top = int((x1 + x2) / 2), int(y1)
    left = max(0, min(image.shape[1] - w, cx - w // 2))
    top = max(0, min(image.shape[0] - h, top))
    out = image.copy()
    out[top:top + h, left:left + w] = cv2.resize(person, (w, h), interpolation=cv2.INTER_AREA)
    return out


def sweep_run(footage: Footage, seats, detector, faces, *, skip: bool, min_sweeps: int,
              min_s: float, max_skip_s: float, inject: np.ndarray | None = None,
              clock: Callable[[], float] = time.process_time) -> Run:
    """Sweeps of ``footage`` with the gate ``skip`` on or off, until at least ``min_sweeps``
    counted sweeps and ``min_s`` seconds of the one-core timeline."""
    from edge.capture.base import Frame
    from edge.change import SkipGate
    from edge.config import RulesSection
    from edge.pipeline import decode_look, infer_look, observe_look, prepare_look
    from edge.rules import Policy, RulesEngine
    from edge.schedule import LookScheduler

    engine = RulesEngine(RulesSection().params())
    engine.start_session(Policy("bench", allowed_aids=frozenset({"calculator"})), 0.0)
    scheduler = LookScheduler(seats, gate=SkipGate(enabled=skip, max_skip_s=max_skip_s))
    by_index = list(seats.seats)
    run, t, start_t, start_cpu = Run(), 0.0, None, None
    c_prev = clock()
    next_inject = INJECT_EVERY_S
    injected: Injection | None = None
    below = detector.input_size
    while True:
        for job in scheduler.jobs:
            if job.seat is None and run.sweeps >= 1 and start_t is None:
                start_t, start_cpu = t, clock()             # the first sweep is not counted
            if job.seat is None and start_t is not None:
                if run.sweeps - 1 >= min_sweeps and t - start_t >= min_s:
                    run.sweeps -= 1
                    run.cpu_s = clock() - start_cpu
                    return run
            if job.seat is None:
                run.sweeps += 1
            seq, image = footage.at(t)
            if inject is not None and start_t is not None:
                if injected is None and t - start_t >= next_inject:
                    seat = by_index[len(run.injections) % len(by_index)]
                    injected = Injection(seat.id, t)
                    run.injections.append(injected)
                    next_inject += INJECT_EVERY_S
                if injected is not None and t - injected.start >= INJECT_S:
                    injected = None
                if injected is not None:
                    image = paste(image, seats.by_id[injected.seat], inject)
            frame = Frame(image, seq=seq, t_mono=t, t_wall=t)
            changed = True
            if job.seat is not None:
                run.visits += 1
                x1, y1, x2, y2 = job.seat.crop
                verdict = scheduler.gate.visit(job.seat.id, image[y1:y2, x1:x2], t,
                                               watched=job.seat.id in engine.watched_seats())
                if not verdict.look:
                    run.skipped += 1
                    t, c_prev = _advance(t, c_prev, clock)
                    continue
                changed = verdict.changed
            look = prepare_look(job, frame, seats, scheduler, detector, faces,
                                from_main_below_px=below, changed=changed)
            result = infer_look(look, detector, faces)
            dets, found_faces = decode_look(result, detector, faces)
            observe_look(engine, result, dets, found_faces)
            engine.tick(t)
            run.looks += 1
            if job.seat is not None:
                prev = run.last_look.get(job.seat.id)
                if prev is not None and start_t is not None:
                    run.worst_look_gap_s = max(run.worst_look_gap_s, t - prev)
                run.last_look[job.seat.id] = t
                for inj in run.injections:
                    if inj.seat == job.seat.id and inj.seen is None and t >= inj.start:
                        inj.seen = t
                        inj.found_person = any(
                            d.label == "person" and job.seat.contains(
                                (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2)
                            for d in dets)
            t, c_prev = _advance(t, c_prev, clock)


def _advance(t: float, c_prev: float, clock: Callable[[], float]) -> tuple[float, float]:
    now = clock()
    return t + (now - c_prev), now


def bench_skip(sweeps: int = 8, seconds: float = 20.0) -> dict:
    """Skipping on and off on the quiet classroom and vtest (see the module's docstring)."""
    from edge.change import MAX_SKIP_S
    from edge.config import DetectionSection
    from edge.models.factory import create_detectors
    from edge.seats import SeatMap, grid_seat_map
    from kuzet_tools.bench.cpu import CLASSROOM_REGION
    from kuzet_tools.examples import CLASSROOM, VTEST, VTEST_REGION

    detector, faces = create_detectors(DetectionSection(num_threads=1))
    person = walker()
    quiet_seats = SeatMap(grid_seat_map(6, 5, 480, 270, region=CLASSROOM_REGION), 480, 270)
    vtest_seats = SeatMap(grid_seat_map(6, 5, 768, 576, region=VTEST_REGION), 768, 576)
    runs: dict[str, Run] = {}
    for name, path, seats in (("quiet", CLASSROOM, quiet_seats), ("vtest", VTEST, vtest_seats)):
        for skip in (True, False):
            footage = Footage(path)
            try:
                runs[f"{name}_{'on' if skip else 'off'}"] = sweep_run(
                    footage, seats, detector, faces, skip=skip, min_sweeps=sweeps,
                    min_s=seconds if skip else (2.5 * INJECT_EVERY_S if name == "quiet"
                                                else 0.0), max_skip_s=MAX_SKIP_S,
                    inject=person if name == "quiet" else None)
            finally:
                footage.close()

    def ms(run: Run) -> float:
        return round(1000 * run.cpu_s / max(1, run.sweeps), 1)

    def seen(run: Run) -> list[float]:
        return [i.seen - i.start for i in run.injections if i.seen is not None]

    on, off = runs["quiet_on"], runs["quiet_off"]
    delays, delays_off = seen(on), seen(off)
    out = {
        "quiet_cpu_ms_per_sweep": ms(on),
        "vtest_cpu_ms_per_sweep": ms(runs["vtest_on"]),
        "quiet_cpu_ms_per_sweep_skip_off": ms(off),
        "vtest_cpu_ms_per_sweep_skip_off": ms(runs["vtest_off"]),
        "quiet_over_vtest": round(ms(on) / ms(runs["vtest_on"]), 3),
        "change_seen_within_s": round(max(delays), 3) if delays else None,
        "change_seen_median_s": round(statistics.median(delays), 3) if delays else None,
        "change_seen_within_s_skip_off": round(max(delays_off), 3) if delays_off else None,
        "changes_injected": len(on.injections),
        "changes_seen": len(delays),
        "changes_person_found": sum(i.found_person for i in on.injections),
        "seats_skipped_share": {name: round(runs[f"{name}_on"].skipped
                                            / max(1, runs[f"{name}_on"].visits), 3)
                                for name in ("quiet", "vtest")},
        "looks_per_sweep": {key: round(r.looks / max(1, r.sweeps + 1), 2)
                            for key, r in runs.items()},
        "worst_look_gap_s": round(on.worst_look_gap_s, 2),
        "max_skip_s": MAX_SKIP_S,
        "sweeps": {key: r.sweeps for key, r in runs.items()},
        "num_threads": 1,
    }
    out["targets"] = TARGETS
    out["pass"] = {"quiet_over_vtest": out["quiet_over_vtest"] <= TARGETS["quiet_over_vtest"],
                   "change_seen_within_s": bool(delays) and len(delays) == len(on.injections)
                   and out["change_seen_within_s"] <= TARGETS["change_seen_within_s"]}
    return out
