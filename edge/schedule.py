"""Which part of the frame the detector looks at next, and how long each seat waits.

A sweep is one look at the whole room (for the head count) and one look at each seat's crop.
Sweeps repeat round-robin, so the time between two looks at a seat is bounded by one sweep:
``(seats + 1) × time per look``. The scheduler measures the real figure.

With ``gate`` (``edge.change.SkipGate``) a seat whose crop has not changed since its last look
is skipped, not sent to the detector: a visit that checked its crop and found it unchanged
counts as a visit too, since a change would have been looked at then (the revisit figure is
the time between two visits; every seat is still looked at within the gate's ``max_skip_s``).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from edge.change import SkipGate
from edge.seats import Seat, SeatMap


@dataclass(frozen=True)
class Job:
    seat: Seat | None          # None: the whole frame (room look)


class LookScheduler:
    def __init__(self, seats: SeatMap, window_s: float = 60.0, *,
                 gate: SkipGate | None = None) -> None:
        self.jobs = [Job(None)] + [Job(s) for s in seats.seats]
        self._i = 0
        self.window_s = window_s
        self.gate = gate or SkipGate(enabled=False)       # default: every seat every sweep
        self.skipped = 0                                 # visits the gate skipped
        self._lock = threading.Lock()        # the prepare thread (skips) and detect (looks)
        self._last: dict[str, float] = {}
        self._gaps: deque[tuple[float, float]] = deque()   # (t, gap) of recent revisits
        self.worst_ever = 0.0

    def next(self) -> Job:
        job = self.jobs[self._i]
        self._i = (self._i + 1) % len(self.jobs)
        return job

    def looked(self, seat_id: str, t: float, *, skipped: bool = False) -> None:
        """The seat was visited at ``t``: looked at, or (``skipped``) its crop checked and
        found unchanged."""
        with self._lock:
            self.skipped += skipped
            prev = self._last.get(seat_id)
            self._last[seat_id] = t
            if prev is not None:
                gap = t - prev
                self._gaps.append((t, gap))
                self.worst_ever = max(self.worst_ever, gap)
            while self._gaps and self._gaps[0][0] < t - self.window_s:
                self._gaps.popleft()

    def worst_revisit(self) -> float | None:
        """The longest gap between two looks at one seat over the last ``window_s``."""
        with self._lock:
            return max((g for _, g in self._gaps), default=None)
