"""What the node says about itself: status, health reasons, heartbeats, liveness.

The status (retained) is ``online`` or ``degraded`` with its reasons: the camera's state, an
outbox that grows (the hub is not taking messages), evidence space, messages held in memory
(the disk is full), and every problem warned about in the last minute. Heartbeats carry the
rates measured since the last one. systemd's watchdog is fed only while every thread runs and
detection has moved within ``DETECT_STALL_S``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime

from edge.budget import BudgetState
from edge.capture.supervisor import SourceStatus
from edge.clocks import Clock, utc
from edge.stats import NodeStats
from kuzet import __version__, contract

log = logging.getLogger(__name__)
OUTBOX_GROWING = 200      # messages not yet delivered that make the status degraded
CLOCK_STEP_S = 2.0        # a wall-clock change beyond the monotonic one that is logged
DETECT_STALL_S = 30.0     # detection not moving for this long stops feeding the watchdog
WARNING_KEEP_S = 60.0


class Warnings:
    """Problems logged and shown in the status for the next minute (the last five)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._recent: list[tuple[float, str]] = []   # (monotonic time, warning)

    def warn(self, text: str) -> None:
        log.warning(text)
        now = self._clock()
        self._recent = [(t, m) for t, m in self._recent[-4:]
                        if now - t < WARNING_KEEP_S and m != text]
        self._recent.append((now, text))

    def recent(self) -> list[str]:
        now = self._clock()
        return [m for t, m in self._recent if now - t < WARNING_KEEP_S]


def health_reasons(source: SourceStatus, *, outbox_depth: int, evidence_warnings: Iterable[str],
                   held_in_memory: int, warnings: Iterable[str],
                   budget: BudgetState | None = None) -> list[str]:
    """Why the node is degraded; empty when all is well. Each reason at most 200 characters.
    ``budget``: the revisit budget's word (over the bound, what is shed)."""
    reasons = []
    if source.state != "ok":
        reasons.append(f"camera {source.state}: {source.detail}"[:200])
    if outbox_depth > OUTBOX_GROWING:
        reasons.append(f"outbox growing: {outbox_depth} messages not yet delivered")
    reasons += evidence_warnings
    if held_in_memory:
        reasons.append(f"disk full: {held_in_memory} messages held in memory")
    if budget is not None:
        reasons += budget.reasons()
    reasons += warnings
    return [r[:200] for r in reasons]


def status_message(origin: contract.Origin, source: SourceStatus, reasons: list[str],
                   session_id: str | None, now: datetime) -> contract.StatusMessage:
    return contract.StatusMessage(
        origin=origin, state="degraded" if reasons else "online", since=now,
        reasons=reasons[:10],
        source=contract.SourceState(state=source.state, detail=source.detail[:500],
                                    since=utc(source.since)),
        session_id=session_id, version=__version__, sent_at=now)


def offline_status(origin: contract.Origin, now: datetime) -> contract.StatusMessage:
    """The last status of a node that stops cleanly."""
    return contract.StatusMessage(origin=origin, state="offline", since=now, reasons=["stopped"],
                                  version=__version__, sent_at=now)


class Heartbeats:
    """Heartbeat messages with the rates since the previous one (the first: since start)."""

    def __init__(self, origin: contract.Origin, clock: Clock = time.monotonic, *,
                 started: float | None = None) -> None:
        """``started``: when the node started (monotonic), for ``uptime_s``; default now."""
        self.origin = origin
        self._clock = clock
        now = clock()
        self._started = now if started is None else started
        self._prev = (now, NodeStats())

    def next(self, stats: NodeStats, *, model_versions: dict[str, str], outbox_depth: int,
             disk_free_mb: float, cpu_temp_c: float | None, now: datetime,
             budget: BudgetState | None = None) -> contract.HeartbeatMessage:
        t = self._clock()
        t_prev, prev = self._prev
        dt = max(1e-6, t - t_prev)
        looks = stats.looks - prev.looks
        self._prev = (t, stats)
        return contract.HeartbeatMessage(
            origin=self.origin, fps=(stats.frames_in - prev.frames_in) / dt,
            inference_ms=1000 * (stats.model_s - prev.model_s) / looks if looks else 0.0,
            worst_seat_revisit_s=stats.worst_seat_revisit, cpu_temp_c=cpu_temp_c,
            disk_free_mb=disk_free_mb, outbox_depth=outbox_depth,
            software_version=__version__, model_versions=model_versions,
            uptime_s=t - self._started, sent_at=now,
            over_budget=budget is not None and budget.over_budget,
            shed_level=budget.shed_level if budget else 0,
            shed=list(budget.shed) if budget else [])


def watchdog_ok(threads_alive: bool, last_detect_beat: float, now: float) -> bool:
    """Feed systemd's watchdog? Only while the threads run and detection moves."""
    return threads_alive and now - last_detect_beat < DETECT_STALL_S


class ClockStepNote:
    """Logs a wall-clock step (NTP correcting the clock): nothing else depends on it."""

    def __init__(self, wall_clock: Clock = time.time,
                 clock: Clock = time.monotonic) -> None:
        self._wall = wall_clock
        self._clock = clock
        self._offset = wall_clock() - clock()

    def check(self) -> float:
        """The step since the last check (seconds; logged when beyond ``CLOCK_STEP_S``)."""
        offset = self._wall() - self._clock()
        step, self._offset = offset - self._offset, offset
        if abs(step) > CLOCK_STEP_S:
            log.warning("the wall clock moved by %+.0f s (NTP?): timestamps follow it, "
                        "durations and retention do not", step)
        return step
