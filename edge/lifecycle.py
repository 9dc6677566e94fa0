"""The alert lifecycle: rule events in, alert messages and saved-state changes out.

Pure: no threads, no MQTT, no files. The caller saves ``open_alerts`` (``NodeState``) when an
``AlertUpdate`` says it changed, and puts the messages into the outbox.

Two clocks, both passed in: the monotonic one measures, the wall one only stamps. An incident
keeps the ``started_at`` it opened with, in every message and in the saved state; its end is
that start plus its (monotonic) duration, so a wall-clock jump in between stretches nothing.

Alerts left open by a crash or a power cut are closed at start (``close_stale``), saying so
(``detail.closed_by = "node restart"``). Their duration: in the same boot, the monotonic clock
measures it (the time the node was down included); after a reboot no clock can be trusted
across the gap (no RTC, NTP may not have run yet), so it is the duration last measured before
the node stopped; state from older versions, which kept neither, falls back to the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from edge.clocks import Clock, utc
from edge.rules import RuleEvent
from edge.state import OpenAlert
from kuzet import contract


@dataclass(frozen=True)
class AlertUpdate:
    message: contract.AlertMessage
    state_changed: bool           # open_alerts changed: the caller saves the state


class AlertLifecycle:
    """Turns each ``RuleEvent`` into the ``AlertMessage`` the hub gets, and keeps
    ``open_alerts`` (the dict passed in, e.g. ``NodeState.open_alerts``) up to date."""

    def __init__(self, origin: contract.Origin, open_alerts: dict[str, OpenAlert], *,
                 boot: str, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time) -> None:
        self.origin = origin
        self.open_alerts = open_alerts
        self.boot = boot
        self._clock = clock
        self._wall = wall_clock

    def _wall_of(self, mono: float) -> float:
        """The wall time of a monotonic reading, as the wall clock now reckons it."""
        return self._wall() - (self._clock() - mono)

    def on_event(self, ev: RuleEvent, session_id: str | None,
                 evidence: Sequence[contract.EvidenceRef] = ()) -> AlertUpdate:
        """The message for ``ev``. An alert keeps the session and the start time it opened
        with; ``session_id`` (the session in force) only applies to a new alert."""
        known = self.open_alerts.get(ev.alert_id)
        session = known.session_id if known else session_id
        started = known.started_at if known else utc(self._wall_of(ev.started))
        score = min(1.0, ev.score)
        closing = ev.event == contract.AlertEvent.CLOSE
        msg = contract.AlertMessage(
            origin=self.origin, alert_id=ev.alert_id, event=ev.event, rule=ev.rule,
            advisory=ev.advisory, seat=ev.seat, session_id=session, started_at=started,
            ended_at=started + timedelta(seconds=ev.duration_s) if closing else None,
            duration_s=ev.duration_s, score=score, detail=ev.detail, evidence=list(evidence),
            sent_at=utc(self._wall()))
        changed = True
        if ev.event == contract.AlertEvent.OPEN:
            self.open_alerts[ev.alert_id] = OpenAlert(
                rule=ev.rule.value, seat=ev.seat, session_id=session, started_at=started,
                score=score, boot=self.boot, started_mono=ev.started, duration_s=ev.duration_s)
        elif ev.event == contract.AlertEvent.UPDATE and known:
            self.open_alerts[ev.alert_id] = replace(known, duration_s=ev.duration_s,
                                                    score=score)
        elif closing:
            self.open_alerts.pop(ev.alert_id, None)
        else:
            changed = False              # an update of an alert this node does not know
        return AlertUpdate(msg, changed)

    def close_stale(self) -> list[contract.AlertMessage]:
        """Close every alert left open (by a crash, a power cut): the close messages, and
        ``open_alerts`` emptied."""
        out = []
        for alert_id, info in list(self.open_alerts.items()):
            if info.boot == self.boot and info.started_mono is not None:
                duration = self._clock() - info.started_mono
            elif info.duration_s is not None:
                duration = info.duration_s
            else:                          # state written by an older version
                duration = self._wall() - info.started_at.timestamp()
            duration = max(0.0, duration)
            out.append(contract.AlertMessage(
                origin=self.origin, alert_id=alert_id, event=contract.AlertEvent.CLOSE,
                rule=info.rule, advisory=info.rule in contract.ADVISORY_RULES, seat=info.seat,
                session_id=info.session_id, started_at=info.started_at,
                ended_at=info.started_at + timedelta(seconds=duration), duration_s=duration,
                sent_at=utc(self._wall()), score=info.score,
                detail={"closed_by": "node restart"}))
            del self.open_alerts[alert_id]
        return out
