"""The looking pipeline: frames in, rule events out, on three threads.

* ``capture``: reads frames (ResilientSource), keeps only the latest (a slow detector never
  queues stale frames) and feeds the clip ring;
* ``prepare``: takes the next job of the look schedule (the room, then each seat's crop),
  skips a seat whose crop has not changed since its last look unless the rules watch it or
  its last look is ``max_skip_s`` old (``edge/change.py``; the rules thread publishes the
  watched seats), crops it from the latest frame (a seat too small in the detection stream
  from the frame's main stream: ``edge/seat_cut.py``) and prepares the models' inputs
  (``PreparedLook``, whose ``changed`` says whether the seat's crop changed);
* ``detect``: runs only the models (``infer``), so the pipeline runs at the models' own rate
  (``LookResult``): the object detector, and at a seat the face detector and, when the node
  has one, the pose estimator (``[detection] posture``: the posture cue, ``edge/posture.py``);
* ``rules``: first whatever must run there before anything new (``before_rules``: held
  messages, hub commands), then decodes the next result into detections, turns them into a
  look at the seat or the room, runs the rules core and hands the events on (``on_events``).

Between the threads go small frozen dataclasses through bounded queues.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.capture.base import Frame
from edge.capture.supervisor import ResilientSource
from edge.clocks import Clock
from edge.evidence import FrameRing
from edge.face_check import FaceCheck
from edge.looks import room_look, seat_look
from edge.models.base import Detection, Detector, Face, FaceDetector, Prepared
from edge.models.pose import Pose, PoseEstimator
from edge.rules import RuleEvent, RulesEngine
from edge.schedule import Job, LookScheduler
from edge.seat_cut import SeatCut, cut_seat, faces_to_frame, pose_to_frame, to_frame
from edge.seat_plan import SeatPlan
from edge.seats import SeatMap
from edge.stats import Counters

EventSink = Callable[[list[RuleEvent], Frame | None, SeatMap | None], None]


@dataclass(frozen=True)
class PreparedLook:
    """One job cut from one frame, with the models' inputs ready."""

    job: Job
    frame: Frame
    seats: SeatMap                 # the seat map the job was planned on
    scheduler: LookScheduler
    cut: SeatCut                   # the pixels looked at, and the way back to frame pixels
    objects: Prepared
    faces: Prepared | None         # faces are looked for in seat crops only
    pose: Prepared | None = None   # so is the pose, when there is a pose estimator
    changed: bool = True           # the seat's crop changed since its last look (the room: True)


@dataclass(frozen=True)
class LookResult:
    """A prepared look with the models' raw outputs."""

    look: PreparedLook
    objects: list[np.ndarray]
    faces: list[np.ndarray] | None
    pose: list[np.ndarray] | None = None


def prepare_look(job: Job, frame: Frame, seats: SeatMap, scheduler: LookScheduler,
                 detector: Detector, face_detector: FaceDetector | None, *,
                 from_main_below_px: int = 0,
                 pose_estimator: PoseEstimator | None = None,
                 changed: bool = True) -> PreparedLook:
    """The job's pixels and the models' inputs. A seat whose crop is smaller than
    ``from_main_below_px`` (0: never) is cut from ``frame.main`` when the frame has one. The
    face detector and the pose estimator see the same seat pixels as the detector.
    ``changed``: the gate's word on the seat's crop (``SkipGate.visit``), for whoever wants to
    spare work on a seat that is looked at only because it is due or watched."""
    if job.seat is None:
        cut = SeatCut(frame.image)
    else:
        cut = cut_seat(job.seat.crop, frame.image, frame.main, from_main_below_px)
    faces = (face_detector.prepare(cut.pixels)
             if job.seat is not None and face_detector is not None else None)
    pose = (pose_estimator.prepare(cut.pixels)
            if job.seat is not None and pose_estimator is not None and cut.pixels.size else None)
    return PreparedLook(job, frame, seats, scheduler, cut, detector.prepare(cut.pixels), faces,
                        pose, changed)


def infer_look(look: PreparedLook, detector: Detector, face_detector: FaceDetector | None,
               pose_estimator: PoseEstimator | None = None) -> LookResult:
    """The models' raw outputs: the detect thread's only work."""
    raw = detector.infer(look.objects)
    raw_faces = (face_detector.infer(look.faces)
                 if face_detector is not None and look.faces is not None else None)
    raw_pose = (pose_estimator.infer(look.pose)
                if pose_estimator is not None and look.pose is not None else None)
    return LookResult(look, raw, raw_faces, raw_pose)


def decode_look(result: LookResult, detector: Detector, face_detector: FaceDetector | None
                ) -> tuple[list[Detection], list[Face]]:
    """Detections and faces in frame (detection-stream) pixels."""
    look = result.look
    dets = to_frame(detector.decode(result.objects, look.objects), look.cut)
    faces = (faces_to_frame(face_detector.decode(result.faces, look.faces), look.cut)
             if face_detector is not None and result.faces is not None and look.faces is not None
             else [])
    return dets, faces


def decode_pose(result: LookResult, pose_estimator: PoseEstimator | None) -> Pose | None:
    """The seat's pose in frame (detection-stream) pixels; None when no pose was estimated."""
    look = result.look
    if pose_estimator is None or result.pose is None or look.pose is None:
        return None
    return pose_to_frame(pose_estimator.decode(result.pose, look.pose), look.cut)


def observe_look(engine: RulesEngine, result: LookResult, detections: list[Detection],
                 faces: list[Face], pose: Pose | None = None,
                 face_check: FaceCheck | None = None) -> list[RuleEvent]:
    """The look through the rules core; at a seat, ``face_check`` (when the exam opted in)
    compares the seat's face with its check-in face now and then (``SeatLook.face_sim``)."""
    look = result.look
    if look.job.seat is not None:
        seen = seat_look(look.job.seat, look.seats, detections, faces, look.frame.t_mono,
                         pose=None if pose is None else pose.keypoints)
        if face_check is not None and face_check.enabled:
            sim = face_check.look(look.job.seat, look.frame.image, faces, look.frame.t_mono)
            if sim is not None:
                seen = dataclasses.replace(seen, face_sim=sim)
        return engine.observe_seat(seen)
    return engine.observe_room(room_look(detections, look.frame.t_mono))


def set_second_looks(detector: Detector, on: bool) -> int:
    """Turn the second looks (a pair's second detector, the phone finder's hands) of
    ``detector`` and the detectors it wraps on or off; how many it switched."""
    n, d = 0, detector
    while d is not None:
        if hasattr(d, "second_looks"):
            d.second_looks = on
            n += 1
        d = getattr(d, "detector", None)
    return n


class Pipeline:
    """The three looking threads' steps (``capture_loop``, ``prepare_step``, ``detect_step``)
    and the rules thread's (``rules_step``); the node runs each on its own named thread.
    ``seat_from_main_below_px``: seats smaller than this in the detection stream are cut from
    the frame's main stream (None: the detector's input size; 0: never). ``pose_estimator``
    (None: no posture cue) looks at each seat's pixels for the student's keypoints."""

    def __init__(self, source: ResilientSource, ring: FrameRing, seat_plan: SeatPlan,
                 detector: Detector, face_detector: FaceDetector | None, engine: RulesEngine,
                 counters: Counters, stop: threading.Event, *,
                 before_rules: Callable[[], None], on_events: EventSink,
                 clock: Clock = time.monotonic,
                 seat_from_main_below_px: int | None = None,
                 pose_estimator: PoseEstimator | None = None,
                 face_check: FaceCheck | None = None,
                 on_sweep: Callable[[float], None] | None = None) -> None:
        self.source = source
        self.ring = ring
        self.seat_plan = seat_plan
        self.detector = detector
        self.face_detector = face_detector
        self.pose_estimator = pose_estimator
        self.face_check = face_check
        self.engine = engine
        self.counters = counters
        self.stop = stop
        self.before_rules = before_rules
        self.on_events = on_events
        self._clock = clock
        self.from_main_below_px = (detector.input_size if seat_from_main_below_px is None
                                   else seat_from_main_below_px)
        self.source_ended = threading.Event()
        self._latest: Frame | None = None
        self._frame_cond = threading.Condition()
        self._prepared: queue.Queue[PreparedLook] = queue.Queue(maxsize=2)
        self._results: queue.Queue[LookResult] = queue.Queue(maxsize=8)
        self._last_seq = -1
        # what the rules thread watches (the session, the seats: RulesEngine.watched_seats),
        # one tuple swapped whole; and the session the prepare thread's gate last saw
        self._watched: tuple[str | None, frozenset[str]] = (None, frozenset())
        self._gate_session: str | None = None
        # optional work shed to keep the revisit bound (edge/budget.py; set by the node's
        # supervise loop): 1 no second looks, 2 also no faces (nor pose) on seats unchanged
        # and unwatched. ``on_sweep(seconds)`` hears each sweep's length (room look to room
        # look, the detect thread)
        self.shed_level = 0
        self.on_sweep = on_sweep
        self._sweep_t: float | None = None
        self._second_looks = True

    @property
    def latest(self) -> Frame | None:
        """The newest frame captured (None before the first)."""
        return self._latest

    # -- capture ------------------------------------------------------------------------------
    def capture_loop(self) -> object:
        """Until the source ends (a file or folder without ``loop``) or the node stops."""
        for frame in self.source.frames():
            with self._frame_cond:
                self._latest = frame
                self.counters.frames_in += 1
                self._frame_cond.notify_all()
            self.ring.add(frame.t_mono, frame.evidence)
            if self.stop.is_set():
                break
        self.source_ended.set()
        return StopIteration

    # -- prepare and detect ---------------------------------------------------------------------
    def prepare_step(self) -> None:
        """Crop the next job from the latest frame and prepare the models' inputs, so that
        the detect thread never waits for pre-processing."""
        with self._frame_cond:
            if self._latest is None:
                self._frame_cond.wait(0.5)
            frame = self._latest
        if frame is None:
            return
        t0 = time.perf_counter()
        h, w = frame.image.shape[:2]
        seats, scheduler = self.seat_plan.for_frame(w, h)
        job, changed = self._next_job(frame, scheduler)
        if job.seat is None and frame.seq == self._last_seq and self.source_ended.is_set():
            self.stop.wait(0.2)             # the source ended: do not spin on its last frame
        self._last_seq = frame.seq
        faces, pose = self.face_detector, self.pose_estimator
        if self.shed_level >= 2 and job.seat is not None and not changed \
                and job.seat.id not in self._watched[1]:
            faces = pose = None              # shed: nothing moved there, nothing watched
            self.counters.faces_shed += 1
        look = prepare_look(job, frame, seats, scheduler, self.detector, faces,
                            from_main_below_px=self.from_main_below_px,
                            pose_estimator=pose, changed=changed)
        self.counters.stage_s["prepare"] += time.perf_counter() - t0
        self._put(self._prepared, look)

    def _next_job(self, frame: Frame, scheduler: LookScheduler) -> tuple[Job, bool]:
        """The next job worth a look, and whether its crop changed. A seat the gate finds
        unchanged (and not watched, not due) is skipped, its visit counted; the room is always
        looked at, so this ends within one sweep. A new session forgets every seat's last
        look: the first sweep of a session looks at every seat."""
        session, watched = self._watched
        if session != self._gate_session:
            self._gate_session = session
            scheduler.gate.forget()
        while True:
            job = scheduler.next()
            if job.seat is None:
                return job, True
            x1, y1, x2, y2 = job.seat.crop
            verdict = scheduler.gate.visit(job.seat.id, frame.image[y1:y2, x1:x2],
                                           frame.t_mono, watched=job.seat.id in watched)
            if verdict.look:
                return job, verdict.changed
            scheduler.looked(job.seat.id, self._clock(), skipped=True)

    def detect_step(self) -> None:
        """Only the models run here: the pipeline's rate is the models' rate."""
        self.counters.last_detect_beat = self._clock()
        try:
            look = self._prepared.get(timeout=0.5)
        except queue.Empty:
            return
        t0 = time.perf_counter()
        if look.job.seat is None:
            self.counters.sweeps += 1
            self._sweep_began()
            new_sweep = getattr(self.detector, "new_sweep", None)
            if new_sweep is not None:       # a sweep starts: the second-look cap starts again
                new_sweep()
        result = infer_look(look, self.detector, self.face_detector, self.pose_estimator)
        self.counters.model_s += time.perf_counter() - t0
        self.counters.looks += 1
        if look.job.seat is not None:
            look.scheduler.looked(look.job.seat.id, self._clock())
        self._put(self._results, result)

    def _sweep_began(self) -> None:
        """At each room look: the last sweep's length to ``on_sweep``, and the shed level's
        second-look switch applied to the detector before the new sweep."""
        now = self._clock()
        if self._sweep_t is not None and self.on_sweep is not None:
            self.on_sweep(now - self._sweep_t)
        self._sweep_t = now
        wanted = self.shed_level < 1
        if wanted != self._second_looks:
            set_second_looks(self.detector, wanted)
            self._second_looks = wanted

    def _put(self, q: queue.Queue, item) -> None:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    # -- rules ----------------------------------------------------------------------------------
    def rules_step(self) -> None:
        self.before_rules()
        try:
            result: LookResult | None = self._results.get(timeout=0.2)
        except queue.Empty:
            result = None
        t0 = time.perf_counter()
        events: list[RuleEvent] = []
        if result is not None:
            dets, faces = decode_look(result, self.detector, self.face_detector)
            pose = decode_pose(result, self.pose_estimator)
            self.counters.stage_s["decode"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            events = observe_look(self.engine, result, dets, faces, pose, self.face_check)
            frame, seats = result.look.frame, result.look.seats
        else:
            frame, seats = self._latest, self.seat_plan.current
        events += self.engine.tick(self._clock())
        policy = self.engine.policy
        self._watched = (policy.session_id if policy else None, self.engine.watched_seats())
        t1 = time.perf_counter()
        self.on_events(events, frame, seats)
        self.counters.stage_s["rules"] += t1 - t0
        self.counters.stage_s["evidence"] += time.perf_counter() - t1
