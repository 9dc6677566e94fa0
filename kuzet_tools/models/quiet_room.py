"""False alerts on a quiet room: the classroom clip looked at as the node looks, for minutes.

``kuzet_tools/footage/classroom.gif`` (the demo's quiet room; "Sample videos © Intel
Corporation, CC BY 4.0, https://github.com/intel-iot-devkit/sample-videos") shows four students
sitting quietly at their desks: nobody leaves, no phone, no notes. Every alert the default rules
open on it is a false one. ``quiet_room`` reads every frame, maps the four seats
(``kuzet_tools/footage/classroom-seats.json``, drawn on the 480x270 frame; the demo's map), and
looks at the room and each seat exactly as the node's pipeline does (``edge.pipeline`` prepare /
infer / decode, ``edge.looks``, the node's own detectors from ``edge.models.factory``), then
feeds the looks through a real ``RulesEngine`` with the node's default rules for a started
session::

    quiet_room(minutes=5.0)
    quiet_room(choice=DetectionChoice(phones="pose"), posture=True)

Time: the clip plays at its own frame rate (16.7 fps, looping every 2.7 s), so a look at time
``t`` sees the frame showing at ``t``; the node looks at one job after another (the room, then
each seat) at the models' rate, one job every ``look_s`` (default 0.2 s, each look 1 ± 0.25 of
that: a sweep of the room and the four seats about once a second, a Pi's pace; this machine's
models manage a look in about 40-60 ms). Looking at every frame of the gif instead would look
at each seat 16.7 times a second, more often than any node does, and fill the rules' medians
with near-copies. The looks are cached per (frame, job), since the clip loops, so minutes of
simulated time cost one look at each job on each of the 45 frames at most.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.capture.base import Frame
from edge.config import RulesSection
from edge.looks import room_look, seat_look
from edge.models.factory import Choice, DetectionChoice, create_detectors
from edge.models.registry import create_pose_estimator
from edge.pipeline import decode_look, decode_pose, infer_look, prepare_look
from edge.rules import (
    DEVICE_LABELS,
    NOTES_LABELS,
    Policy,
    RoomLook,
    RuleEvent,
    RulesEngine,
    SeatLook,
)
from edge.schedule import Job, LookScheduler
from edge.seats import SeatMap, load_seat_map
from kuzet.contract import AlertEvent
from kuzet_tools.clips import read_clip
from kuzet_tools.examples import CLASSROOM_SEATS
from kuzet_tools.models.phone_sets import classroom_gif

SEAT_MAP = CLASSROOM_SEATS
LOOK_S = 0.2            # one job (room or seat) per 0.2 s: each seat looked at once a second
JITTER = 0.25           # how much one look's time varies (a fraction of LOOK_S)
SEATED_SCORE = 0.35     # the seat-vacated rule's min_score: a student this sure is seated
ROSTER = 4              # the four students, with one proctor allowed by the room rule

Look = SeatLook | RoomLook


class NodeLooks:
    """The node's looks at one clip: each (frame, job) looked at once, then remembered.

    The pipeline's own steps make each look: ``prepare_look`` cuts the job's pixels (a seat
    smaller than the detector's input from the main stream, which a gif has not), ``infer_look``
    runs the object detector, the face detector (yaw) and the pose estimator when there is one,
    ``decode_look``/``decode_pose`` map them back to frame pixels, and ``seat_look`` /
    ``room_look`` turn them into what the rules see."""

    def __init__(self, frames: list[np.ndarray], seats: SeatMap, choice: Choice,
                 posture: bool = False) -> None:
        self.frames = frames
        self.seats = seats
        self.scheduler = LookScheduler(seats)
        self.detector, self.faces = create_detectors(choice)
        self.pose = (create_pose_estimator(num_threads=choice.num_threads) if posture
                     else None)
        self.from_main_below_px = self.detector.input_size    # the Pipeline's default
        self._cache: dict[tuple[int, str | None], Look] = {}
        self.detections: Counter[str] = Counter()
        self.seat_objects: Counter[str] = Counter()
        self.peaks: dict[str, float] = {}
        self.seated: Counter[str] = Counter()       # seat looks that found the student
        self.seat_looks: Counter[str] = Counter()

    def look(self, index: int, job: Job, t: float) -> Look:
        """What the look at ``job`` on frame ``index`` found, stamped with the time ``t``."""
        key = (index, None if job.seat is None else job.seat.id)
        if key not in self._cache:
            self._cache[key] = self._look(index, job)
        return replace(self._cache[key], t=t)

    @property
    def looked(self) -> int:
        """Looks the models actually ran (each (frame, job) once)."""
        return len(self._cache)

    def _look(self, index: int, job: Job) -> Look:
        frame = Frame(self.frames[index], seq=index, t_mono=0.0, t_wall=0.0)
        if job.seat is None:
            new_sweep = getattr(self.detector, "new_sweep", None)
            if new_sweep is not None:      # as the detect thread does at each room look
                new_sweep()
        prepared = prepare_look(job, frame, self.seats, self.scheduler, self.detector,
                                self.faces, from_main_below_px=self.from_main_below_px,
                                pose_estimator=self.pose)
        result = infer_look(prepared, self.detector, self.faces, self.pose)
        dets, faces = decode_look(result, self.detector, self.faces)
        self.detections.update(d.label for d in dets)
        if job.seat is None:
            room = room_look(dets, 0.0)
            self._peak("room_persons", room.persons)
            return room
        pose = decode_pose(result, self.pose)
        look = seat_look(job.seat, self.seats, dets, faces, 0.0,
                         pose=None if pose is None else pose.keypoints)
        self.seat_objects.update(label for label, _ in look.objects)
        self.seat_looks[look.seat] += 1
        self.seated[look.seat] += max(look.persons, default=0.0) >= SEATED_SCORE
        self._seat_peaks(look)
        return look

    def _peak(self, name: str, value: float | None) -> None:
        if value is not None:
            self.peaks[name] = max(self.peaks.get(name, value), value)

    def _seat_peaks(self, look: SeatLook) -> None:
        """The highest score each seat rule got from one look: how near a quiet seat came
        to an alert (a rule holds when the median of its recent scores reaches 0.5; the head
        rule when the yaw passes 35 degrees)."""
        persons = sorted(look.persons, reverse=True)
        self._peak("second_person", persons[1] if len(persons) > 1 else 0.0)
        self._peak("outsider", max(look.outsiders, default=0.0))
        for labels, name in ((DEVICE_LABELS, "device"), (NOTES_LABELS, "notes")):
            self._peak(name, max((s for lb, s in look.objects if lb in labels), default=0.0))
        self._peak("abs_yaw_deg", None if look.yaw is None else abs(look.yaw))
        self._peak("posture", look.posture)


def replay(looks: NodeLooks, fps: float, minutes: float, look_s: float = LOOK_S,
           jitter: float = JITTER, seed: int = 0) -> tuple[int, list[RuleEvent]]:
    """Loop the clip for ``minutes`` of simulated time through the node's default rules for a
    started session (no aids allowed, four students): ``(looks fed, events)``. Each look
    takes ``look_s`` times 1 ± ``jitter`` (uniform, seeded: the same every run), as a node's
    looks do, so the looks drift over every frame of the loop instead of locking onto a few."""
    rules = RulesSection()                        # a node config without a [rules] section
    engine = RulesEngine(rules.params())
    events = engine.start_session(Policy(session_id="quiet-room", roster_size=ROSTER,
                                         proctors=1, yaw_limit_deg=rules.yaw_limit_deg,
                                         taken_after_s=rules.taken_after_s), 0.0)
    scheduler = LookScheduler(looks.seats)
    rng = random.Random(seed)
    n, t, end = 0, 0.0, minutes * 60.0
    while t < end:
        job = scheduler.next()
        look = looks.look(int(t * fps) % len(looks.frames), job, t)
        events += (engine.observe_room(look) if isinstance(look, RoomLook)
                   else engine.observe_seat(look))
        events += engine.tick(t)
        n += 1
        t += look_s * (1.0 + rng.uniform(-jitter, jitter))
    events += engine.stop_session(end)
    return n, events


def quiet_room(minutes: float = 5.0, choice: Choice | None = None, *, posture: bool = False,
               look_s: float = LOOK_S, jitter: float = JITTER, clip: str | Path | None = None,
               seat_map: str | Path = SEAT_MAP) -> dict:
    """False alerts the node raises on the quiet classroom in ``minutes`` of simulated time.

    ``choice``: the detectors (default ``DetectionChoice()``, the node's defaults); a choice
    with ``posture`` set (the node's ``DetectionSection``), or ``posture=True``, adds the pose
    estimator and so the posture cue. Returns ``{"clip", "frames", "seats", "fps", "look_s",
    "simulated_minutes", "looks", "models_ran", "alerts_opened": {rule: n}, "false_alerts",
    "detections_seen": {label: n over the looks the models ran}, "seat_objects": {label: n
    handed to the rules}, "student_seen": {seat: share of its looks that found the student
    seated}, "peaks": {the highest score each rule got from one look}}``."""
    choice = choice or DetectionChoice()
    posture = posture or bool(getattr(choice, "posture", False))
    path = Path(clip) if clip is not None else classroom_gif()
    frames, fps = read_clip(path)
    h, w = frames[0].shape[:2]
    seats = SeatMap(load_seat_map(seat_map), w, h)
    looks = NodeLooks(frames, seats, choice, posture=posture)
    n, events = replay(looks, fps, minutes, look_s, jitter)
    opened = Counter(ev.rule.value for ev in events if ev.event == AlertEvent.OPEN)
    return {
        "clip": path.name,
        "frames": len(frames),
        "seats": len(seats),
        "fps": round(fps, 2),
        "look_s": look_s,
        "jitter": jitter,
        "simulated_minutes": minutes,
        "looks": n,
        "models_ran": looks.looked,
        "posture": posture,
        "alerts_opened": dict(sorted(opened.items())),
        "false_alerts": sum(opened.values()),
        "detections_seen": dict(looks.detections.most_common()),
        "seat_objects": dict(looks.seat_objects.most_common()),
        "student_seen": {seat.id: round(looks.seated[seat.id] / max(1, looks.seat_looks[seat.id]),
                                        3) for seat in seats.seats},
        "peaks": {k: round(v, 3) for k, v in sorted(looks.peaks.items())},
    }
