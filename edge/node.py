"""The edge node's composition root: builds the parts, runs their threads, supervises.

Threads (named, all waiting on one stop event):

* ``capture``, ``prepare``, ``detect``: the looking pipeline (``edge.pipeline``): frames in,
  models' outputs out, the detect thread running nothing but the models;
* ``rules``: held messages and hub commands first (``edge.outbox_writer``,
  ``edge.commands``), then the next look through the rules core, and the events to
  ``edge.incidents`` (alert messages, evidence, saved state);
* paho's network thread and the outbox pump (``edge.publisher.MqttPublisher``);
* the caller's thread runs ``run()``: status, heartbeats, LED, disk upkeep, systemd's
  watchdog (``edge.health``, ``edge.upkeep``).

Two clocks (``edge.clocks``): every duration, timeout, rule window, cool-down and schedule
runs on the monotonic clock; the wall clock (``wall_clock``, passed in) only stamps messages
and evidence. A Pi has no real-time clock, so NTP may move the wall clock by a year while the
node runs: no incident is stretched or cut by that, and retention does not take today's
evidence for old.

What the node measured is read through ``stats`` (a ``NodeStats`` snapshot), never from its
insides.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edge.budget import BudgetState, RevisitBudget
from edge.capture.factory import open_source
from edge.capture.supervisor import ResilientSource, SourceStatus
from edge.clocks import Clock, utc
from edge.commands import Commands
from edge.config import NodeConfig
from edge.evidence import Ballast, EvidenceStore, FrameRing
from edge.evidence_flow import EvidenceFlow
from edge.face_check import FaceCheck
from edge.health import (
    ClockStepNote,
    Heartbeats,
    Warnings,
    health_reasons,
    offline_status,
    status_message,
    watchdog_ok,
)
from edge.incidents import Incidents
from edge.lifecycle import AlertLifecycle
from edge.models import registry
from edge.models.base import Detector, FaceDetector
from edge.models.factory import create_blur_detector, create_detectors
from edge.models.pose import PoseEstimator
from edge.outbox import Outbox
from edge.outbox_writer import OutboxWriter
from edge.pipeline import Pipeline
from edge.publisher import BrokerSettings, MqttPublisher
from edge.rules import RulesEngine
from edge.seat_plan import SeatPlan
from edge.seats import SeatMap, SeatMapSpec
from edge.signing import NodeKey, Sealer
from edge.state import NodeState
from edge.stats import Counters, NodeStats
from edge.system import boot_id, cpu_temp_c, disk_free_mb, sd_notify, watchdog_interval_s
from edge.upkeep import Upkeep
from kuzet import contract

log = logging.getLogger(__name__)


class EdgeNode:
    def __init__(self, cfg: NodeConfig, *, detector: Detector | None = None,
                 face_detector: FaceDetector | None = None,
                 blur_detector: FaceDetector | None = None,
                 source_factory: Callable | None = None, pin_factory=None,
                 stop_at_end: bool = False, wall_clock: Clock = time.time,
                 publisher_factory: Callable[..., MqttPublisher] = MqttPublisher,
                 upkeep_every_s: float = 3600.0) -> None:
        """Detectors not passed in are built from ``cfg.detection``; ``blur_detector`` finds
        the faces blurred in evidence. ``source_factory()`` opens the camera (default: the
        config's source); ``publisher_factory(settings, origin, outbox, wall_clock=...)``
        makes the MQTT side (default ``MqttPublisher``; tests pass a fake of that shape).
        ``upkeep_every_s``: how often retention and the journal's pruning run (monotonic
        seconds)."""
        self.cfg = cfg
        self.origin = cfg.origin
        self._wall = wall_clock
        self._started_mono = time.monotonic()
        data = Path(cfg.node.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.stop_event = threading.Event()
        self.warnings = Warnings()
        self.counters = Counters(last_detect_beat=time.monotonic())
        # the 2 s revisit bound: optional work shed first, each step logged and reported
        self.budget = RevisitBudget(warn=self.warnings.warn)
        self.budget_state = BudgetState()

        # storage: the outbox, the saved state, evidence and its reserve
        ev = cfg.evidence
        self.outbox = Outbox(data / "outbox.db", wall_clock=wall_clock)
        self.state = NodeState(data / "state.json")
        self.evidence = EvidenceStore(
            data / "evidence", max_bytes=int(ev.max_mb * 2**20),
            min_free_bytes=int(ev.min_free_mb * 2**20), quality=ev.jpeg_quality,
            max_width=ev.max_width, delivered=self.outbox.delivered,
            in_use=self.outbox.attachments, wall_clock=wall_clock)
        self.ballast = Ballast(data / ".ballast", int(ev.ballast_mb * 2**20))
        self.ring = FrameRing(ev.clip_before_s + ev.clip_after_s + 2, ev.clip_fps)
        self.signing_key = NodeKey.for_node(data, cfg.broker.cert_file, cfg.broker.key_file)
        self.writer = OutboxWriter(self.outbox, self.origin, make_room=self.ballast.release,
                                   warn=self.warnings.warn,
                                   sealer=Sealer(self.signing_key, self.outbox.chain_head()))
        self.upkeep = Upkeep(self.evidence, self.ballast, self.outbox,
                             retention_days=ev.retention_days,
                             journal_days=cfg.node.journal_days, every_s=upkeep_every_s,
                             warn=self.warnings.warn)

        # looking: seats, models, the rules core, the camera
        self.seat_plan = SeatPlan(Path(cfg.seat_map), data / "seats.pushed.json",
                                  margin=cfg.detection.crop_margin,
                                  skip_unchanged=cfg.detection.skip_unchanged,
                                  max_skip_s=cfg.detection.max_skip_s)
        self.detector, self.face_detector = create_detectors(
            cfg.detection, detector=detector, face_detector=face_detector)
        self.pose_estimator: PoseEstimator | None = (
            registry.create_pose_estimator(num_threads=cfg.detection.num_threads)
            if cfg.detection.posture else None)         # the posture cue: off by default
        face_blur = None
        if ev.blur_other_faces:
            from edge.privacy import FaceBlur
            face_blur = FaceBlur(blur_detector or create_blur_detector(cfg.detection))
        self.engine = RulesEngine(cfg.rules.params())
        # the changed-face check, for exams that opt in: the embedder is loaded by the first
        # such exam; the seats' check-in faces live in its memory only (edge/face_check.py)
        self.face_check = FaceCheck(
            (lambda: registry.create_face_embedder(num_threads=1))
            if self.face_detector is not None else None, cfg.face_check.params())
        factory = source_factory or (lambda: open_source(cfg.source, sleep=self.stop_event.wait,
                                                         wall_clock=wall_clock))
        self.source = ResilientSource(factory, wait=self.stop_event.wait, stop_at_end=stop_at_end,
                                      on_status=self._on_source_status, wall_clock=wall_clock)

        # MQTT
        b = cfg.broker
        self.publisher = publisher_factory(
            BrokerSettings(host=b.host, port=b.port, client_id=b.client_id,
                           username=b.username, password=b.secret(),
                           ca_file=str(b.ca_file) if b.ca_file else None,
                           cert_file=str(b.cert_file) if b.cert_file else None,
                           key_file=str(b.key_file) if b.key_file else None,
                           keepalive=b.keepalive),
            self.origin, self.outbox, wall_clock=wall_clock)
        self.publisher.on_disk_full = self.ballast.release

        # what happens to what is seen: evidence, alerts and sessions, commands
        self.evidence_flow = EvidenceFlow(
            self.evidence, self.ring, self.writer, clip_before_s=ev.clip_before_s,
            clip_after_s=ev.clip_after_s, clip_fps=ev.clip_fps, face_blur=face_blur,
            is_open=lambda alert_id: alert_id in self.state.open_alerts,
            warn=self.warnings.warn, wall_clock=wall_clock)
        self.incidents = Incidents(
            self.engine, AlertLifecycle(self.origin, self.state.open_alerts, boot=boot_id(),
                                        wall_clock=wall_clock),
            self.state, self.writer, self.evidence_flow, self.counters, rules=cfg.rules,
            exam=cfg.exam, where=lambda: (self.pipeline.latest, self.seat_plan.current),
            on_session=lambda: self.publisher.set_status(self.status_message()),
            warn=self.warnings.warn, wall_clock=wall_clock, face_check=self.face_check)
        self.pipeline = Pipeline(
            self.source, self.ring, self.seat_plan, self.detector, self.face_detector,
            self.engine, self.counters, self.stop_event, before_rules=self._before_rules,
            on_events=lambda events, frame, seats: self.incidents.handle(
                events, frame, seats, flush_clips=self.stop_event.is_set()),
            seat_from_main_below_px=cfg.detection.seat_from_main_below_px,
            pose_estimator=self.pose_estimator, face_check=self.face_check,
            on_sweep=self.budget.sweep)
        self.source_ended = self.pipeline.source_ended
        self.commands = Commands(self.origin, self.publisher, self.incidents,
                                 self.evidence_flow, self.seat_plan, lambda: self.pipeline.latest,
                                 wall_clock=wall_clock)
        self.publisher.on_command = self.commands.put
        self.indicator = None
        if cfg.gpio.enabled:
            from edge.gpio import Indicator
            self.indicator = Indicator(cfg.gpio.led_pin, cfg.gpio.button_pin,
                                       pin_factory=pin_factory,
                                       on_press=self.commands.press_button)
        self._threads: list[threading.Thread] = []

    # -- what others may read -------------------------------------------------------------------
    @property
    def stats(self) -> NodeStats:
        """What the node measured so far (a snapshot)."""
        return NodeStats.of(self.counters, worst_seat_revisit=self.seat_plan.worst_revisit(),
                            held_in_memory=self.writer.held,
                            threads_alive=self.threads_alive())

    @property
    def seat_map(self) -> SeatMap | None:
        """The seat map in force, scaled to the frames (None before the first frame)."""
        return self.seat_plan.current

    @property
    def seat_spec(self) -> SeatMapSpec:
        """The seat map in force as pushed or configured."""
        return self.seat_plan.spec

    def threads_alive(self) -> bool:
        """The node's threads were started and none has died."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def health(self) -> list[str]:
        """Why the node is degraded (empty: all is well)."""
        return health_reasons(self.source.status, outbox_depth=self.outbox.depth(),
                              evidence_warnings=self.evidence.warnings,
                              held_in_memory=self.writer.held,
                              warnings=self.warnings.recent(), budget=self.budget_state)

    def status_message(self, reasons: list[str] | None = None) -> contract.StatusMessage:
        return status_message(self.origin, self.source.status, list(reasons or []),
                              self.incidents.session_id, utc(self._wall()))

    def start_session(self, session: contract.StartSession) -> None:
        """Start an exam session here (as the hub's command does)."""
        self.incidents.start_session(session)

    # -- start, supervise, stop -----------------------------------------------------------------
    def start(self) -> None:
        self.incidents.close_stale()
        self.incidents.restore_session()
        self.publisher.set_status(self.status_message())
        self.publisher.start()
        for name, step in (("capture", self.pipeline.capture_loop),
                           ("prepare", self.pipeline.prepare_step),
                           ("detect", self.pipeline.detect_step),
                           ("rules", self.pipeline.rules_step)):
            t = threading.Thread(target=self._guarded, args=(name, step), name=name,
                                 daemon=True)
            t.start()
            self._threads.append(t)
        sd_notify("READY=1")

    def _guarded(self, name: str, step: Callable[[], object]) -> None:
        """Run a thread's step until stop; an unexpected error is logged, shown in the status
        and the step goes on, so one bad frame or a full disk never ends a thread."""
        while not self.stop_event.is_set():
            try:
                if step() is StopIteration:
                    return
            except Exception as exc:  # the node must keep watching
                log.exception("%s: unexpected error", name)
                self.warnings.warn(f"{name}: {type(exc).__name__}: {exc}"[:200])
                self.stop_event.wait(0.5)

    def _before_rules(self) -> None:
        self.writer.retry()                 # alerts held in memory go first
        self.commands.run_pending()

    def _on_source_status(self, status: SourceStatus) -> None:
        log.info("source %s: %s", status.state, status.detail)

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Start, then supervise until ``stop()`` (or ``until()`` is true)."""
        self.start()
        beats = Heartbeats(self.origin, started=self._started_mono)
        next_beat = time.monotonic() + self.cfg.heartbeat_s
        watchdog = watchdog_interval_s()
        clock_steps = ClockStepNote(self._wall)
        last_reasons: list[str] | None = None
        try:
            while not self.stop_event.wait(min(1.0, watchdog or 1.0)):
                if until is not None and until():
                    break
                clock_steps.check()
                self.upkeep.run()
                self.keep_budget()
                reasons = self.health()
                if reasons != last_reasons:
                    self.publisher.set_status(self.status_message(reasons))
                    last_reasons = reasons
                if time.monotonic() >= next_beat:
                    self._heartbeat(beats)
                    next_beat = time.monotonic() + self.cfg.heartbeat_s
                if self.indicator is not None:
                    self.indicator.show(self.engine.policy is not None,
                                        self.publisher.connected.is_set())
                if watchdog and watchdog_ok(self.threads_alive(),
                                            self.counters.last_detect_beat, time.monotonic()):
                    sd_notify("WATCHDOG=1")
        finally:
            self.stop()

    def keep_budget(self) -> BudgetState:
        """The revisit budget's word on the latest sweeps, and the shed level it asks for
        handed to the pipeline (the supervise loop, once a second)."""
        self.budget_state = self.budget.observe()
        self.pipeline.shed_level = self.budget_state.shed_level
        return self.budget_state

    def _heartbeat(self, beats: Heartbeats) -> None:
        models = {"detector": getattr(self.detector, "name", "?"),
                  "faces": getattr(self.face_detector, "name", "off")}
        if self.pose_estimator is not None:
            models["pose"] = self.pose_estimator.name
        if self.face_check.embedder is not None:          # loaded by an exam that opted in
            models["face_embed"] = getattr(self.face_check.embedder, "name", "?")
        self.publisher.send_now("heartbeat", beats.next(
            self.stats, outbox_depth=self.outbox.depth(), cpu_temp_c=cpu_temp_c(),
            disk_free_mb=disk_free_mb(Path(self.cfg.node.data_dir)),
            model_versions=models, now=utc(self._wall()), budget=self.budget_state))

    def stop(self) -> None:
        if self.stop_event.is_set() and not self._threads:
            return
        self.stop_event.set()
        self.source.stop()
        for t in self._threads:
            t.join(timeout=10)
        self._threads = []
        try:
            self.evidence_flow.finish_clips(time.monotonic(), flush=True)  # alerts just opened
        except Exception:
            log.exception("could not finish clips at stop")
        self.publisher.stop(final_status=offline_status(self.origin, utc(self._wall())))
        if self.indicator is not None:
            self.indicator.close()
        sd_notify("STOPPING=1")
