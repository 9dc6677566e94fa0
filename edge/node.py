"""The edge node's composition root: wires capture, detection, rules, evidence and MQTT.

Threads (named, all waiting on one stop event):

* ``capture``  reads frames (ResilientSource), keeps the latest and feeds the clip ring;
* ``detect``   runs the detector on the next job of the look schedule (room, then each seat's
  crop) on the latest frame, and hands the result on. Nothing else runs on this thread, so
  it stays as close to the model's own rate as the CPU allows;
* ``rules``    turns results into looks, runs the rules core, writes evidence and messages to
  the durable outbox, runs commands from the hub;
* paho's network thread and the outbox pump (``MqttPublisher``);
* the caller's thread runs ``run()``: status, heartbeats, LED, disk budget, systemd watchdog.

Two clocks: every duration, timeout, rule window, cool-down and schedule runs on the monotonic
clock; the wall clock (``wall_clock``, passed in) only stamps messages and evidence. A Pi has
no real-time clock, so NTP may move the wall clock by a year while the node runs: no incident
is stretched or cut by that, and retention does not take today's evidence for old.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.capture.base import Frame
from edge.capture.factory import open_source
from edge.capture.supervisor import ResilientSource, SourceStatus
from edge.config import NodeConfig
from edge.evidence import Ballast, EvidenceFile, EvidenceStore, FrameRing, boot_id
from edge.looks import room_look, seat_look, shift, shift_faces
from edge.outbox import Outbox
from edge.privacy import blur_boxes
from edge.publisher import BrokerSettings, MqttPublisher
from edge.rules import Policy, RuleEvent, RulesEngine
from edge.schedule import LookScheduler
from edge.seats import SeatMap, inside_polygon, load_seat_map, parse_seat_map
from edge.state import NodeState
from edge.system import cpu_temp_c, disk_free_mb, sd_notify, watchdog_interval_s
from kuzet import __version__, contract

log = logging.getLogger(__name__)
OUTBOX_GROWING = 200
CLOCK_STEP_S = 2.0        # a wall-clock change beyond the monotonic one that is logged


def _utc(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, UTC)


class EdgeNode:
    def __init__(self, cfg: NodeConfig, *, detector=None, face_detector=None,
                 source_factory: Callable | None = None, pin_factory=None,
                 stop_at_end: bool = False, wall_clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self._wall = wall_clock
        self.origin = cfg.origin
        data = Path(cfg.node.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.stop_event = threading.Event()
        self.outbox = Outbox(data / "outbox.db", wall_clock=wall_clock)
        self.state = NodeState(data / "state.json")
        ev = cfg.evidence
        self.evidence = EvidenceStore(
            data / "evidence", max_bytes=int(ev.max_mb * 2**20),
            min_free_bytes=int(ev.min_free_mb * 2**20), quality=ev.jpeg_quality,
            max_width=ev.max_width, delivered=self.outbox.delivered,
            in_use=self.outbox.attachments, wall_clock=wall_clock)
        self.expire_every_s = 3600.0    # how often retention runs (monotonic seconds)
        self.ballast = Ballast(data / ".ballast", int(ev.ballast_mb * 2**20))
        self.ring = FrameRing(ev.clip_before_s + ev.clip_after_s + 2, ev.clip_fps)
        # A map pushed from the hub is kept in the data dir (writable under the systemd unit's
        # ProtectSystem=strict, unlike /etc/kuzet) and outranks the config's file.
        self.pushed_seat_map = data / "seats.pushed.json"
        self.seat_spec = load_seat_map(self._seat_map_file())
        if detector is None or (face_detector is None and cfg.detection.faces):
            from edge.models.registry import create_detector, create_face_detector
            d = cfg.detection
            if detector is None and d.phones != "off":
                from edge.models.phones import create_phone_detector
                detector = create_phone_detector(d.model, d.score_threshold, d.num_threads,
                                                 hands=d.phones == "hands")
            detector = detector or create_detector(d.model, d.score_threshold, d.num_threads)
            if d.faces and face_detector is None:
                face_detector = create_face_detector(d.face_model, d.face_threshold,
                                                     num_threads=d.num_threads)
        self.detector = detector
        self.face_detector = face_detector if cfg.detection.faces else None
        self.face_blur = None
        if ev.blur_other_faces:
            from edge.models.registry import create_face_detector
            from edge.privacy import FaceBlur
            # its own interpreter: the detect thread owns the other one
            self.face_blur = FaceBlur(create_face_detector(
                cfg.detection.face_model, cfg.detection.face_threshold, with_yaw=False,
                num_threads=1))
        self._clip_masks: dict[str, list] = {}   # alert -> face boxes blurred in its snapshot
        self.engine = RulesEngine(cfg.rules.params())
        b = cfg.broker
        self.publisher = MqttPublisher(
            BrokerSettings(host=b.host, port=b.port, client_id=b.client_id,
                           username=b.username, password=b.secret(),
                           ca_file=str(b.ca_file) if b.ca_file else None,
                           cert_file=str(b.cert_file) if b.cert_file else None,
                           key_file=str(b.key_file) if b.key_file else None,
                           keepalive=b.keepalive),
            self.origin, self.outbox, on_command=self._commands_put, wall_clock=wall_clock)
        self.publisher.on_disk_full = self.ballast.release
        factory = source_factory or (lambda: open_source(cfg.source, sleep=self.stop_event.wait,
                                                         wall_clock=wall_clock))
        self.source = ResilientSource(factory, wait=self.stop_event.wait, stop_at_end=stop_at_end,
                                      on_status=self._on_source_status, wall_clock=wall_clock)
        self.indicator = None
        if cfg.gpio.enabled:
            from edge.gpio import Indicator
            self.indicator = Indicator(cfg.gpio.led_pin, cfg.gpio.button_pin,
                                       pin_factory=pin_factory, on_press=self._on_button)
        self._latest: Frame | None = None
        self._frame_cond = threading.Condition()
        self._prepared: queue.Queue = queue.Queue(maxsize=2)
        self._results: queue.Queue = queue.Queue(maxsize=8)
        self._commands: queue.Queue = queue.Queue()
        self._unsaved: list[tuple[str, str, bytes, int]] = []   # disk full: kept in memory
        self._pending_clips: list[tuple[str, float, float]] = []
        self._seats: SeatMap | None = None
        self._scheduler: LookScheduler | None = None
        self._seats_dirty = threading.Event()
        self._last_seq = -1
        self._threads: list[threading.Thread] = []
        self._started_mono = time.monotonic()
        self._boot = boot_id()
        self.source_ended = threading.Event()
        # measurements (read by heartbeats and the benchmark)
        self.frames_in = 0
        self.looks = 0
        self.model_s = 0.0          # seconds spent running the models (infer)
        self.stage_s = {"prepare": 0.0, "decode": 0.0, "rules": 0.0, "evidence": 0.0}
        self.alerts_emitted = 0
        self.last_detect_beat = time.monotonic()
        self._recent: list[tuple[float, str]] = []   # (monotonic time, warning)

    # -- start-up -----------------------------------------------------------------------------
    def start(self) -> None:
        self._close_stale_alerts()
        if self.state.session:
            self._start_session(contract.StartSession.model_validate(self.state.session))
        elif self.cfg.exam is not None:
            e = self.cfg.exam
            self._start_session(contract.StartSession(
                session_id=e.session_id, allowed_aids=e.allowed_aids,
                roster_size=e.roster_size, proctors=e.proctors))
        self.publisher.set_status(self._status_message())
        self.publisher.start()
        for name, target in (("capture", self._capture_loop), ("prepare", self._prepare_step),
                             ("detect", self._detect_step), ("rules", self._rules_step)):
            t = threading.Thread(target=self._guarded, args=(name, target), name=name,
                                 daemon=True)
            t.start()
            self._threads.append(t)
        sd_notify("READY=1")

    def _guarded(self, name: str, step: Callable[[], None]) -> None:
        """Run a thread's step until stop; an unexpected error is logged, shown in the status
        and the step goes on, so one bad frame or a full disk never ends a thread."""
        while not self.stop_event.is_set():
            try:
                if step() is StopIteration:
                    return
            except Exception as exc:  # the node must keep watching
                log.exception("%s: unexpected error", name)
                self._warn(f"{name}: {type(exc).__name__}: {exc}"[:200])
                self.stop_event.wait(0.5)

    def _close_stale_alerts(self) -> None:
        """Alerts left open by a crash or power cut are closed now, saying so.

        Duration: in the same boot, the monotonic clock measures it (the time the node was
        down included); after a reboot no clock can be trusted across the gap (no RTC, NTP
        may not have run yet), so it is the duration last measured before the node stopped."""
        for alert_id, info in list(self.state.open_alerts.items()):
            started = datetime.fromisoformat(info["started_at"])
            if info.get("boot") == self._boot and "started_mono" in info:
                duration = time.monotonic() - info["started_mono"]
            elif "duration_s" in info:
                duration = info["duration_s"]
            else:                          # state written by an older version
                duration = self._wall() - started.timestamp()
            duration = max(0.0, duration)
            msg = contract.AlertMessage(
                origin=self.origin, alert_id=alert_id, event=contract.AlertEvent.CLOSE,
                rule=info["rule"], advisory=info["rule"] in contract.ADVISORY_RULES,
                seat=info.get("seat"), session_id=info.get("session_id"),
                started_at=started, ended_at=started + timedelta(seconds=duration),
                duration_s=duration, sent_at=self._now(),
                score=info.get("score", 0.0), detail={"closed_by": "node restart"})
            self._queue(msg, "alert")
            self.evidence.close_alert(alert_id)
            del self.state.open_alerts[alert_id]
        self.state.save()

    # -- capture --------------------------------------------------------------------------------
    def _capture_loop(self):
        for frame in self.source.frames():
            with self._frame_cond:
                self._latest = frame
                self.frames_in += 1
                self._frame_cond.notify_all()
            self.ring.add(frame.t_mono, frame.evidence)
            if self.stop_event.is_set():
                break
        self.source_ended.set()
        return StopIteration

    def _on_source_status(self, status: SourceStatus) -> None:
        log.info("source %s: %s", status.state, status.detail)

    # -- detection ------------------------------------------------------------------------------
    def _seat_plan(self, frame: Frame) -> tuple[SeatMap, LookScheduler]:
        h, w = frame.image.shape[:2]
        if self._seats is None or self._seats.size != (w, h) or self._seats_dirty.is_set():
            self._seats_dirty.clear()
            self._seats = SeatMap(self.seat_spec, w, h, margin=self.cfg.detection.crop_margin)
            self._scheduler = LookScheduler(self._seats)
        assert self._scheduler is not None
        return self._seats, self._scheduler

    def _prepare_step(self) -> None:
        """Crop the next job from the latest frame and prepare the models' inputs, so that
        the detect thread never waits for pre-processing."""
        with self._frame_cond:
            if self._latest is None:
                self._frame_cond.wait(0.5)
            frame = self._latest
        if frame is None:
            return
        t0 = time.perf_counter()
        seats, scheduler = self._seat_plan(frame)
        job = scheduler.next()
        if job.seat is None and frame.seq == self._last_seq and self.source_ended.is_set():
            self.stop_event.wait(0.2)       # the source ended: do not spin on its last frame
        self._last_seq = frame.seq
        if job.seat is None:
            x1 = y1 = 0
            crop = frame.image
        else:
            x1, y1, x2, y2 = job.seat.crop
            crop = frame.image[y1:y2, x1:x2]
        prepared = self.detector.prepare(crop)
        faces = self.face_detector.prepare(crop) if (job.seat and self.face_detector) else None
        self.stage_s["prepare"] += time.perf_counter() - t0
        self._put(self._prepared, (job, frame, seats, scheduler, (x1, y1), prepared, faces))

    def _detect_step(self) -> None:
        """Only the models run here: the pipeline's rate is the models' rate."""
        self.last_detect_beat = time.monotonic()
        try:
            job, frame, seats, scheduler, offset, prepared, faces = \
                self._prepared.get(timeout=0.5)
        except queue.Empty:
            return
        t0 = time.perf_counter()
        raw = self.detector.infer(prepared)
        raw_faces = self.face_detector.infer(faces) if faces is not None else None
        self.model_s += time.perf_counter() - t0
        self.looks += 1
        if job.seat is not None:
            scheduler.looked(job.seat.id, time.monotonic())
        self._put(self._results, (job, frame, seats, offset, prepared, raw, faces, raw_faces))

    def _put(self, q: queue.Queue, item) -> None:
        while not self.stop_event.is_set():
            try:
                q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    # -- rules, evidence, messages ---------------------------------------------------------------
    def _rules_step(self) -> None:
        self._retry_unsaved()               # alerts held in memory go first
        self._run_commands()
        try:
            job, frame, seats, (dx, dy), prepared, raw, fprep, fraw = \
                self._results.get(timeout=0.2)
        except queue.Empty:
            job = frame = seats = None
        t0 = time.perf_counter()
        events: list[RuleEvent] = []
        if job is not None:
            dets = shift(self.detector.decode(raw, prepared), dx, dy)
            faces = (shift_faces(self.face_detector.decode(fraw, fprep), dx, dy)
                     if fraw is not None else [])
            self.stage_s["decode"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            if job.seat is not None:
                events = self.engine.observe_seat(seat_look(job.seat, seats, dets, faces,
                                                            frame.t_mono))
            else:
                events = self.engine.observe_room(room_look(dets, frame.t_mono))
        else:
            frame, seats = self._latest, self._seats
        events += self.engine.tick(time.monotonic())
        t1 = time.perf_counter()
        for ev in events:
            self._emit(ev, frame, seats)
        self._finish_clips(time.monotonic())
        self.stage_s["rules"] += t1 - t0
        self.stage_s["evidence"] += time.perf_counter() - t1

    def _wall_of(self, mono: float) -> float:
        return self._wall() - (time.monotonic() - mono)

    def _now(self) -> datetime:
        return _utc(self._wall())

    def _emit(self, ev: RuleEvent, frame: Frame | None, seats: SeatMap | None) -> None:
        session = self.engine.policy.session_id if self.engine.policy else None
        info = self.state.open_alerts.get(ev.alert_id, {})
        session = info.get("session_id", session)
        refs: list[contract.EvidenceRef] = []
        if ev.event == contract.AlertEvent.OPEN and frame is not None:
            refs = self._snapshot(ev, frame, seats)
            self._pending_clips.append((ev.alert_id, frame.t_mono, frame.t_wall))
        # One incident keeps the start time it opened with; its end is that start plus its
        # duration (monotonic), so a wall-clock jump in between stretches nothing.
        started = (datetime.fromisoformat(info["started_at"]) if "started_at" in info
                   else _utc(self._wall_of(ev.started)))
        msg = contract.AlertMessage(
            origin=self.origin, alert_id=ev.alert_id, event=ev.event, rule=ev.rule,
            advisory=ev.advisory, seat=ev.seat, session_id=session, started_at=started,
            ended_at=(started + timedelta(seconds=ev.duration_s)
                      if ev.event == contract.AlertEvent.CLOSE else None),
            duration_s=ev.duration_s, score=min(1.0, ev.score), detail=ev.detail, evidence=refs,
            sent_at=self._now())
        self._queue(msg, "alert")
        self.alerts_emitted += 1
        if ev.event == contract.AlertEvent.OPEN:
            self.state.open_alerts[ev.alert_id] = {
                "rule": ev.rule.value, "seat": ev.seat, "session_id": session,
                "started_at": started.isoformat(), "score": min(1.0, ev.score),
                "boot": self._boot, "started_mono": ev.started, "duration_s": ev.duration_s}
            self._save_state()
        elif ev.event == contract.AlertEvent.UPDATE and info:
            info["duration_s"] = ev.duration_s
            info["score"] = min(1.0, ev.score)
            self._save_state()
        elif ev.event == contract.AlertEvent.CLOSE:
            self.state.open_alerts.pop(ev.alert_id, None)
            self._save_state()
            if not any(a == ev.alert_id for a, _, _ in self._pending_clips):
                self._close_evidence(ev.alert_id)

    def _save_state(self) -> None:
        try:
            self.state.save()
        except OSError as exc:          # kept in memory; saved again on the next change
            self._warn(f"state not saved: {exc.strerror}")

    def _close_evidence(self, alert_id: str) -> None:
        try:
            self.evidence.close_alert(alert_id)
        except sqlite3.Error as exc:
            self._warn(f"evidence index not updated: {exc}")

    def _evidence_room(self, what: str, need: int) -> bool:
        """Evidence only while the disk keeps its reserve after it: alerts come first."""
        if self.evidence.space_ok(need) and not self._unsaved:
            return True
        self._warn(f"{what} skipped: disk low ({disk_free_mb(self.evidence.folder):.0f} MB free)")
        return False

    def _snapshot(self, ev: RuleEvent, frame: Frame, seats: SeatMap | None
                  ) -> list[contract.EvidenceRef]:
        h, w = frame.evidence.shape[:2]
        if not self._evidence_room(f"evidence for alert {ev.alert_id}", h * w // 2):
            return []
        image = frame.evidence
        fx = image.shape[1] / frame.image.shape[1]
        fy = image.shape[0] / frame.image.shape[0]
        seat = seats.by_id.get(ev.seat) if (seats and ev.seat) else None
        polygon = crop = None
        if seat is not None:
            polygon = seat.polygon * [fx, fy]
            x1, y1, x2, y2 = seat.crop
            crop = (int(x1 * fx), int(y1 * fy), int(x2 * fx), int(y2 * fy))
        image = self._blur_others(ev.alert_id, image, polygon)
        try:
            files = self.evidence.snapshot(ev.alert_id, image, polygon, crop, frame.t_wall)
        except (OSError, sqlite3.Error) as exc:
            self._warn(f"evidence not saved for alert {ev.alert_id}: {exc}")
            return []
        return [ref for ref in map(self._send_evidence, files) if ref is not None]

    def _blur_others(self, key: str, image, polygon):
        """Blur every face not at the flagged seat (all faces when there is no seat)."""
        if self.face_blur is None:
            return image
        def at_seat(x: float, y: float) -> bool:
            return polygon is not None and inside_polygon(polygon, x, y)
        image, boxes = self.face_blur.blur(image, keep=at_seat)
        scale = self.ring.max_width / image.shape[1] if image.shape[1] > self.ring.max_width \
            else 1.0
        self._clip_masks[key] = [tuple(v * scale for v in b) for b in boxes]
        return image

    def _send_evidence(self, f: EvidenceFile) -> contract.EvidenceRef | None:
        """The evidence message goes into the outbox without its bytes: the publisher reads
        the file when it sends it (the file is not stored twice)."""
        msg = contract.EvidenceMessage(
            origin=self.origin, alert_id=f.alert_id, evidence_id=f.evidence_id, kind=f.kind,
            content_type=f.content_type, sha256=f.sha256, size=f.size,
            captured_at=_utc(f.captured_wall), sent_at=self._now(),
            data="")
        self._queue(msg, "evidence", attachment=str(f.path))
        try:
            self.evidence.set_message(f.evidence_id, msg.id)
        except sqlite3.Error as exc:
            self._warn(f"evidence index not updated: {exc}")
        return contract.EvidenceRef(evidence_id=f.evidence_id, kind=f.kind, sha256=f.sha256,
                                    size=f.size)

    def _finish_clips(self, now: float) -> None:
        after, before = self.cfg.evidence.clip_after_s, self.cfg.evidence.clip_before_s
        done = [c for c in self._pending_clips
                if self.ring.newest >= c[1] + after or now >= c[1] + after + 5
                or self.stop_event.is_set()]
        for alert_id, t_mono, t_wall in done:
            self._pending_clips.remove((alert_id, t_mono, t_wall))
            frames = self.ring.between(t_mono - before, t_mono + after)
            boxes = self._clip_masks.pop(alert_id, [])
            if not self._evidence_room(f"clip for alert {alert_id}",
                                       2 * sum(map(len, frames))):
                continue
            try:
                f = self.evidence.clip(alert_id, frames,
                                       self.cfg.evidence.clip_fps, t_wall,
                                       mask=blur_boxes(boxes) if boxes else None)
                if f is not None:
                    self._send_evidence(f)
            except (OSError, sqlite3.Error, ValueError) as exc:
                self._warn(f"clip not saved for alert {alert_id}: {exc}")
            if alert_id not in self.state.open_alerts:
                self._close_evidence(alert_id)

    def _queue(self, msg, kind: str, attachment: str | None = None) -> None:
        """Into the durable outbox; if the disk is full, held in memory and retried."""
        item = (msg.id, contract.topic(self.origin, kind), contract.encode(msg), 1, attachment)
        try:
            try:
                self.outbox.add(*item)
            except sqlite3.OperationalError:
                if not self.ballast.release():   # room for alerts: give up the reserve
                    raise
                self.outbox.add(*item)
        except sqlite3.Error as exc:
            self._warn(f"outbox write failed ({exc}); holding {len(self._unsaved) + 1} "
                       "messages in memory")
            self._unsaved.append(item)

    def _retry_unsaved(self) -> None:
        while self._unsaved:
            try:
                self.outbox.add(*self._unsaved[0])
            except sqlite3.Error:
                return
            self._unsaved.pop(0)

    def _warn(self, text: str) -> None:
        """Log a problem and show it in the status for the next minute."""
        log.warning(text)
        now = time.monotonic()
        self._recent = [(t, m) for t, m in self._recent[-4:] if now - t < 60 and m != text]
        self._recent.append((now, text))

    # -- commands -------------------------------------------------------------------------------
    def _commands_put(self, cmd) -> None:
        self._commands.put(cmd)

    def _on_button(self) -> None:
        self._commands.put("button")

    def _run_commands(self) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            if cmd == "button":
                self._toggle_session()
                continue
            ok, detail = True, ""
            try:
                detail = self._run_command(cmd)
            except Exception as exc:  # reported to the hub, never fatal
                ok, detail = False, str(exc)
                log.warning("command %s failed: %s", cmd.action, exc)
            self.publisher.send_now("reply", contract.CommandReply(
                origin=self.origin, command_id=cmd.id, ok=ok, detail=detail[:2000],
                sent_at=self._now()))

    def _run_command(self, cmd: contract.CommandMessage) -> str:
        A = contract.Action
        if cmd.action == A.START_SESSION:
            assert cmd.session is not None
            self._start_session(cmd.session)
            return f"session {cmd.session.session_id} started"
        if cmd.action == A.STOP_SESSION:
            self._stop_session()
            return "session stopped"
        if cmd.action == A.SNAPSHOT:
            frame = self._latest
            if frame is None:
                raise RuntimeError("no frame yet: the camera is not delivering")
            image = self._blur_others(cmd.id, frame.evidence, None)
            self._clip_masks.pop(cmd.id, None)
            files = self.evidence.snapshot(cmd.id, image, None, None, frame.t_wall)
            ref = self._send_evidence(files[0])
            self.evidence.close_alert(cmd.id)
            return ref.evidence_id
        if cmd.action == A.RELOAD_SEATMAP:
            if cmd.seatmap is not None:
                spec = parse_seat_map(cmd.seatmap, "seatmap in command")
                tmp = self.pushed_seat_map.with_suffix(".tmp")
                tmp.write_text(spec.model_dump_json(indent=1))
                tmp.replace(self.pushed_seat_map)
            else:
                spec = load_seat_map(self._seat_map_file())
            self.seat_spec = spec
            self._seats_dirty.set()
            return f"{len(spec.seats)} seats"
        raise ValueError(f"unknown action {cmd.action}")

    def _seat_map_file(self) -> Path:
        """The seat map in force: the last one pushed from the hub, else the config's."""
        return self.pushed_seat_map if self.pushed_seat_map.exists() else Path(self.cfg.seat_map)

    def _start_session(self, s: contract.StartSession) -> None:
        for ev in self.engine.start_session(Policy(
                session_id=s.session_id, allowed_aids=frozenset(s.allowed_aids),
                roster_size=s.roster_size, proctors=s.proctors,
                yaw_limit_deg=self.cfg.rules.yaw_limit_deg,
                taken_after_s=self.cfg.rules.taken_after_s), time.monotonic()):
            self._emit(ev, self._latest, self._seats)
        self.state.session = s.model_dump(mode="json")
        self._save_state()
        self.publisher.set_status(self._status_message())

    def _stop_session(self) -> None:
        for ev in self.engine.stop_session(time.monotonic()):
            self._emit(ev, self._latest, self._seats)
        self.state.session = None
        self._save_state()
        self.publisher.set_status(self._status_message())

    def _toggle_session(self) -> None:
        if self.engine.policy is not None:
            self._stop_session()
            return
        e = self.cfg.exam
        sid = time.strftime("local-%Y%m%d-%H%M%S", time.localtime(self._wall()))
        self._start_session(contract.StartSession(
            session_id=e.session_id if e else sid, allowed_aids=e.allowed_aids if e else [],
            roster_size=e.roster_size if e else None, proctors=e.proctors if e else 1))

    # -- status and heartbeats -----------------------------------------------------------------
    def _status_message(self, reasons: list[str] | None = None) -> contract.StatusMessage:
        src = self.source.status
        reasons = list(reasons or [])
        state = "degraded" if reasons else "online"
        return contract.StatusMessage(
            origin=self.origin, state=state, since=self._now(), reasons=reasons[:10],
            source=contract.SourceState(state=src.state, detail=src.detail[:500],
                                        since=_utc(src.since)),
            session_id=self.engine.policy.session_id if self.engine.policy else None,
            version=__version__, sent_at=self._now())

    def health(self) -> list[str]:
        reasons = []
        src = self.source.status
        if src.state != "ok":
            reasons.append(f"camera {src.state}: {src.detail}"[:200])
        depth = self.outbox.depth()
        if depth > OUTBOX_GROWING:
            reasons.append(f"outbox growing: {depth} messages not yet delivered")
        reasons += self.evidence.warnings
        if self._unsaved:
            reasons.append(f"disk full: {len(self._unsaved)} messages held in memory")
        now = time.monotonic()
        reasons += [m for t, m in self._recent if now - t < 60]
        return [r[:200] for r in reasons]

    def heartbeat(self, interval: float, prev: tuple[float, int, int, float]) -> tuple:
        now = time.monotonic()
        dt = max(1e-6, now - prev[0])
        looks = self.looks - prev[2]
        msg = contract.HeartbeatMessage(
            origin=self.origin, fps=(self.frames_in - prev[1]) / dt,
            inference_ms=1000 * (self.model_s - prev[3]) / looks if looks else 0.0,
            worst_seat_revisit_s=(self._scheduler.worst_revisit() if self._scheduler else None),
            cpu_temp_c=cpu_temp_c(), disk_free_mb=disk_free_mb(Path(self.cfg.node.data_dir)),
            outbox_depth=self.outbox.depth(), software_version=__version__,
            model_versions={"detector": getattr(self.detector, "name", "?"),
                            "faces": getattr(self.face_detector, "name", "off")},
            uptime_s=now - self._started_mono, sent_at=self._now())
        self.publisher.send_now("heartbeat", msg)
        return (now, self.frames_in, self.looks, self.model_s)

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Start, then supervise until ``stop()`` (or ``until()`` is true)."""
        self.start()
        beat = (time.monotonic(), 0, 0, 0.0)
        next_beat = time.monotonic() + self.cfg.heartbeat_s
        watchdog = watchdog_interval_s()
        last_reasons: list[str] | None = None
        next_expiry = time.monotonic()
        offset = self._wall() - time.monotonic()
        try:
            while not self.stop_event.wait(min(1.0, watchdog or 1.0)):
                if until is not None and until():
                    break
                offset = self._note_clock_step(offset)
                try:
                    if time.monotonic() >= next_expiry:
                        next_expiry = time.monotonic() + self.expire_every_s
                        self.evidence.expire(self.cfg.evidence.retention_days * 86400)
                    self.evidence.enforce_budget()
                    self.ballast.refill(self.evidence.min_free_bytes)
                except (OSError, sqlite3.Error) as exc:
                    self._warn(f"evidence budget: {exc}")
                reasons = self.health()
                if reasons != last_reasons:
                    self.publisher.set_status(self._status_message(reasons))
                    last_reasons = reasons
                if time.monotonic() >= next_beat:
                    beat = self.heartbeat(self.cfg.heartbeat_s, beat)
                    next_beat = time.monotonic() + self.cfg.heartbeat_s
                if self.indicator is not None:
                    self.indicator.show(self.engine.policy is not None,
                                        self.publisher.connected.is_set())
                if watchdog and self._alive():
                    sd_notify("WATCHDOG=1")
        finally:
            self.stop()

    def _note_clock_step(self, offset: float) -> float:
        """Log a wall-clock step (NTP correcting the clock): nothing else depends on it."""
        now = self._wall() - time.monotonic()
        if abs(now - offset) > CLOCK_STEP_S:
            log.warning("the wall clock moved by %+.0f s (NTP?): timestamps follow it, "
                        "durations and retention do not", now - offset)
        return now

    def _alive(self) -> bool:
        """The threads run and detection has moved within the last 30 s."""
        return all(t.is_alive() for t in self._threads) and \
            time.monotonic() - self.last_detect_beat < 30

    def stop(self) -> None:
        if self.stop_event.is_set() and not self._threads:
            return
        self.stop_event.set()
        self.source.stop()
        for t in self._threads:
            t.join(timeout=10)
        self._threads = []
        try:
            self._finish_clips(time.monotonic())   # clips of alerts just opened
        except Exception:
            log.exception("could not finish clips at stop")
        offline = contract.StatusMessage(origin=self.origin, state="offline",
                                         since=self._now(), reasons=["stopped"],
                                         version=__version__, sent_at=self._now())
        self.publisher.stop(final_status=offline)
        if self.indicator is not None:
            self.indicator.close()
        sd_notify("STOPPING=1")
