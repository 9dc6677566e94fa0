"""Commands from the hub (and the node's button), run on the rules thread.

paho's thread (``put``) and the button (``press_button``) only queue; ``run_pending`` runs
them on the rules thread, between looks, so that nothing else touches the rules engine, the
evidence or the seat map at the same time. Every hub command gets a reply: ``ok`` with a
detail, or the error. One that fails is never fatal.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from typing import Protocol

from edge.capture.base import Frame
from edge.clocks import Clock, utc
from edge.evidence_flow import EvidenceFlow
from edge.incidents import Incidents
from edge.seat_plan import SeatPlan
from edge.seats import SeatMap
from kuzet import contract

log = logging.getLogger(__name__)
BUTTON = "button"


class Replies(Protocol):
    """Where replies go (``MqttPublisher`` has this shape)."""

    def send_now(self, kind: str, message: object) -> bool: ...


class Commands:
    def __init__(self, origin: contract.Origin, replies: Replies, incidents: Incidents,
                 evidence: EvidenceFlow, seat_plan: SeatPlan,
                 latest_frame: Callable[[], Frame | None], *,
                 wall_clock: Clock = time.time) -> None:
        self.origin = origin
        self.replies = replies
        self.incidents = incidents
        self.evidence = evidence
        self.seat_plan = seat_plan
        self._latest_frame = latest_frame
        self._wall = wall_clock
        self._queue: queue.Queue[contract.CommandMessage | str] = queue.Queue()

    def put(self, cmd: contract.CommandMessage) -> None:
        """A command from the hub (any thread)."""
        self._queue.put(cmd)

    def press_button(self) -> None:
        """The proctor pressed the node's button (gpiozero's thread)."""
        self._queue.put(BUTTON)

    def run_pending(self) -> None:
        """Run what was queued, in order, and reply to each hub command."""
        while True:
            try:
                cmd = self._queue.get_nowait()
            except queue.Empty:
                return
            if not isinstance(cmd, contract.CommandMessage):   # the button
                self.incidents.toggle_session()
                continue
            ok, detail = True, ""
            try:
                detail = self.run(cmd)
            except Exception as exc:  # reported to the hub, never fatal
                ok, detail = False, str(exc)
                log.warning("command %s failed: %s", cmd.action, exc)
            self.replies.send_now("reply", contract.CommandReply(
                origin=self.origin, command_id=cmd.id, ok=ok, detail=detail[:2000],
                sent_at=utc(self._wall())))

    def run(self, cmd: contract.CommandMessage) -> str:
        """Run one command; returns the reply's detail, raises on failure."""
        A = contract.Action
        if cmd.action == A.START_SESSION:
            assert cmd.session is not None
            self.incidents.start_session(cmd.session)
            return f"session {cmd.session.session_id} started"
        if cmd.action == A.STOP_SESSION:
            return self._stop(cmd.session_id)
        if cmd.action == A.SNAPSHOT:
            frame = self._latest_frame()
            if frame is None:
                raise RuntimeError("no frame yet: the camera is not delivering")
            return self.evidence.snapshot(cmd.id, frame)
        if cmd.action == A.RELOAD_SEATMAP:
            spec = (self.seat_plan.push(cmd.seatmap) if cmd.seatmap is not None
                    else self.seat_plan.reload())
            return f"{len(spec.seats)} seats"
        if cmd.action == A.PRESENCE:
            return self._presence(cmd)
        if cmd.action == A.CHECK_IN:
            return self._check_in(cmd)
        raise ValueError(f"unknown action {cmd.action}")

    def _presence(self, cmd: contract.CommandMessage) -> str:
        """The proctor is at a seat: quiet its outside-help rules (only during the session
        the command names, for a seat of the map in force)."""
        assert cmd.seat is not None and cmd.quiet_s is not None
        running = self.incidents.session_id
        if running is None:
            raise PermissionError(f"refused: no session runs; seat {cmd.seat} not quieted")
        if cmd.session_id is not None and cmd.session_id != running:
            raise PermissionError(f"refused: session {running} runs, not {cmd.session_id};"
                                  f" seat {cmd.seat} not quieted")
        if cmd.seat not in {s.id for s in self.seat_plan.spec.seats}:
            raise ValueError(f"refused: seat {cmd.seat} is not in the seat map")
        closed = self.incidents.quiet_seat(cmd.seat, cmd.quiet_s)
        log.info("proctor at seat %s: outside-help rules quiet for %.0f s (%d alert(s) closed)",
                 cmd.seat, cmd.quiet_s, closed)
        return (f"seat {cmd.seat}: outside help quiet for {cmd.quiet_s:.0f} s"
                + (f", {closed} alert(s) closed" if closed else ""))

    def _check_in(self, cmd: contract.CommandMessage) -> str:
        """The proctor checks a seat's student in: the seat's crop of the latest frame goes
        to the hub as evidence (kind ``check-in``, under the command's id), with whether the
        node saw the seat taken and how many seats it saw taken (``contract.Seated``)."""
        assert cmd.seat is not None
        frame = self._latest_frame()
        if frame is None:
            raise RuntimeError("no frame yet: the camera is not delivering")
        h, w = frame.image.shape[:2]
        seats = SeatMap(self.seat_plan.spec, w, h, margin=self.seat_plan.margin)
        seat = seats.by_id.get(cmd.seat)
        if seat is None:
            raise ValueError(f"refused: seat {cmd.seat} is not in the seat map")
        seated = self.seated(frame.t_mono, cmd.seat)
        evidence_id = self.evidence.check_in(cmd.id, frame, seat, seated)
        if self.incidents.face_check is not None:   # its next good face is the seat's face
            self.incidents.face_check.check_in(cmd.seat)
        seen = {True: "taken", False: "empty", None: "not looked at"}[seated.seat]
        taken = "no exam runs" if seated.taken is None \
            else f"{seated.taken} of {seated.looked} seats looked at taken"
        return f"seat {cmd.seat}: check-in crop {evidence_id}; seat {seen}; {taken}"

    def seated(self, t: float, seat: str) -> contract.Seated:
        """What the rules saw seated in the last ``CHECK_IN_SEEN_S`` (looks come only while
        a session runs: outside one, nothing is known)."""
        looks = self.incidents.engine.seated(t, contract.CHECK_IN_SEEN_S)
        if self.incidents.session_id is None:
            return contract.Seated()
        return contract.Seated(seat=looks.get(seat), taken=sum(looks.values()),
                               looked=len(looks))

    def _stop(self, session_id: str | None) -> str:
        """Stop the running session, only if the command names it: a stop for another
        session (or one without a name, from an older hub) is refused and nothing stops."""
        running = self.incidents.session_id
        if session_id is None:
            raise PermissionError("refused: stop_session names no session_id; nothing stopped"
                                  + (f" (session {running} runs)" if running else ""))
        if running is None:
            return f"session {session_id} is not running: nothing to stop"
        if running != session_id:
            raise PermissionError(f"refused: session {running} runs, not {session_id};"
                                  " nothing stopped")
        self.incidents.stop_session()
        return f"session {session_id} stopped"
