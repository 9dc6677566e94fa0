"""From rule events to what the hub gets and what the node remembers: alert messages with
their evidence in the outbox, the open alerts and the exam session in ``state.json``.

It runs on the rules thread (and at start, before the threads). The pure part, which message
an event makes, is ``edge.lifecycle``; this module does the writing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edge.capture.base import Frame
from edge.clocks import Clock
from edge.config import ExamSection, RulesSection
from edge.evidence_flow import EvidenceFlow
from edge.face_check import FaceCheck
from edge.lifecycle import AlertLifecycle
from edge.outbox_writer import OutboxWriter
from edge.rules import Policy, RuleEvent, RulesEngine
from edge.seats import SeatMap
from edge.state import NodeState
from edge.stats import Counters
from kuzet import contract


class Incidents:
    def __init__(self, engine: RulesEngine, lifecycle: AlertLifecycle, state: NodeState,
                 writer: OutboxWriter, evidence: EvidenceFlow, counters: Counters, *,
                 rules: RulesSection, exam: ExamSection | None,
                 where: Callable[[], tuple[Frame | None, SeatMap | None]],
                 on_session: Callable[[], None], warn: Callable[[str], None],
                 clock: Clock = time.monotonic, wall_clock: Clock = time.time,
                 face_check: FaceCheck | None = None) -> None:
        """``where()``: the latest frame and seat map (the evidence of alerts that a session
        change closes); ``on_session()``: the session started or stopped (the status says
        which); ``face_check``: the seats' check-in faces, started and forgotten with each
        session (None: the node has no changed-face check)."""
        self.engine = engine
        self.lifecycle = lifecycle
        self.state = state
        self.writer = writer
        self.evidence = evidence
        self.counters = counters
        self.rules = rules
        self.exam = exam
        self._where = where
        self._on_session = on_session
        self._warn = warn
        self._clock = clock
        self._wall = wall_clock
        self.face_check = face_check

    @property
    def session_id(self) -> str | None:
        return self.engine.policy.session_id if self.engine.policy else None

    # -- alerts -------------------------------------------------------------------------------
    def handle(self, events: list[RuleEvent], frame: Frame | None, seats: SeatMap | None,
               *, flush_clips: bool = False) -> None:
        """The events of one rules step, then the clips that are due."""
        for ev in events:
            self.emit(ev, frame, seats)
        self.evidence.finish_clips(self._clock(), flush=flush_clips)

    def emit(self, ev: RuleEvent, frame: Frame | None, seats: SeatMap | None) -> None:
        """One event: its evidence (a new alert's, taken from ``frame``), its message, the
        saved state."""
        refs: list[contract.EvidenceRef] = []
        if ev.event == contract.AlertEvent.OPEN and frame is not None:
            refs = self.evidence.for_alert(ev, frame, seats)
        update = self.lifecycle.on_event(ev, self.session_id, refs)
        self.writer.put(update.message, "alert")
        self.counters.alerts_emitted += 1
        if update.state_changed:
            self.state.try_save(self._warn)
        if ev.event == contract.AlertEvent.CLOSE and not self.evidence.clip_pending(ev.alert_id):
            self.evidence.close_alert(ev.alert_id)

    def close_stale(self) -> None:
        """At start: alerts left open by a crash or a power cut are closed, saying so."""
        for msg in self.lifecycle.close_stale():
            self.writer.put(msg, "alert")
            self.evidence.store.close_alert(msg.alert_id)
        self.state.save()

    def quiet_seat(self, seat: str, quiet_s: float) -> int:
        """The proctor stands at ``seat``: its outside-help rules raise nothing for
        ``quiet_s`` seconds; an alert of theirs open there closes now, saying so. Returns how
        many closed. ValueError outside a session."""
        now = self._clock()
        events = self.engine.quiet(seat, contract.OUTSIDE_HELP_RULES, now + quiet_s, now)
        frame, seats = self._where()
        for ev in events:
            self.emit(ev, frame, seats)
        return len(events)

    # -- the exam session ---------------------------------------------------------------------
    def restore_session(self) -> None:
        """At start: the session saved before a restart, else the config's ``[exam]``."""
        if self.state.session:
            self.start_session(contract.StartSession.model_validate(self.state.session))
        elif self.exam is not None:
            e = self.exam
            self.start_session(contract.StartSession(
                session_id=e.session_id, allowed_aids=e.allowed_aids,
                roster_size=e.roster_size, proctors=e.proctors))

    def start_session(self, s: contract.StartSession) -> None:
        """A session starts (one already running stops first, closing its alerts)."""
        frame, seats = self._where()
        for ev in self.engine.start_session(Policy(
                session_id=s.session_id, allowed_aids=frozenset(s.allowed_aids),
                roster_size=s.roster_size, proctors=s.proctors,
                yaw_limit_deg=self.rules.yaw_limit_deg,
                taken_after_s=self.rules.taken_after_s,
                face_check=s.face_check and self.face_check is not None), self._clock()):
            self.emit(ev, frame, seats)
        if self.face_check is not None:
            self.face_check.start(s.face_check)
        self.state.session = s.model_dump(mode="json")
        self.state.try_save(self._warn)
        self._on_session()

    def stop_session(self) -> None:
        """The session ends: its open alerts close."""
        frame, seats = self._where()
        for ev in self.engine.stop_session(self._clock()):
            self.emit(ev, frame, seats)
        if self.face_check is not None:
            self.face_check.stop()
        self.state.session = None
        self.state.try_save(self._warn)
        self._on_session()

    def toggle_session(self) -> None:
        """The button: stop the running session, or start one (the config's ``[exam]``, else
        a local one named after the time)."""
        if self.engine.policy is not None:
            self.stop_session()
            return
        e = self.exam
        sid = time.strftime("local-%Y%m%d-%H%M%S", time.localtime(self._wall()))
        self.start_session(contract.StartSession(
            session_id=e.session_id if e else sid, allowed_aids=e.allowed_aids if e else [],
            roster_size=e.roster_size if e else None, proctors=e.proctors if e else 1))
