"""The revisit bound on a slow machine: shed optional work first, and never silently.

Every seat must be looked at within ``bound_s`` (2 s). The detect thread hands
``RevisitBudget.sweep`` the length of each sweep it finished (a sweep is the room look and one
visit of every seat, so a sweep's length is the revisit of its seats); the node's supervise
loop calls ``observe`` once a second. When every sweep that ended over ``rise_after_s`` (5 s)
was over the bound, the node sheds one step of optional work, in this order (``SHED_STEPS``):

1. ``second_looks``: the phone finder's second detector (SSDLite) and its second looks at the
   hands;
2. ``faces_unchanged``: the face detector (and the pose model) on seats whose crop has not
   changed since their last look (``edge/change.py``) and where the rules watch nothing.

Nothing else is ever shed: the object detector looks at every seat within the bound or the
node says it cannot. When every sweep of the last ``window_s`` (10 s) stays below
``fall_below`` of the bound (1.5 s) for ``fall_after_s`` (30 s), one step comes back: the gap
between 1.5 s and 2 s and the longer wait are the hysteresis, so a node near the bound does
not flap. After each change only the sweeps begun after it count, so that the new level is
judged by its own.

Each step is logged (``warn``: the log and the status's recent warnings); the state
(``BudgetState``) goes into the status's reasons and the heartbeat (``over_budget``,
``shed_level``, ``shed``). ``revisit_s``: the longest sweep of the last ``window_s``;
``over_budget``: the latest sweep was over the bound, whatever has been shed (at the last
step the node cannot keep the bound in this room: fewer seats per node, a Pi 5, or int8
models; docs/edge.md).

Pure: the clock is passed in, no MQTT; ``sweep`` may come from another thread (a lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from edge.clocks import Clock
from kuzet.contract import SHED_STEPS

log = logging.getLogger(__name__)

MAX_LEVEL = len(SHED_STEPS)
BOUND_S = 2.0

WHAT = {"second_looks": "second looks (second phone detector, hands)",
        "faces_unchanged": "faces on unchanged seats"}


@dataclass(frozen=True)
class BudgetState:
    """What the budget says now: the longest recent sweep (None before one ended), whether the
    latest is over the bound, and what is shed (``SHED_STEPS[:shed_level]``)."""

    revisit_s: float | None = None
    over_budget: bool = False
    shed_level: int = 0
    bound_s: float = BOUND_S

    @property
    def shed(self) -> tuple[str, ...]:
        return SHED_STEPS[: self.shed_level]

    def reasons(self) -> list[str]:
        """The status's reasons (empty: within the bound, nothing shed). No measured figure
        in them (the heartbeat has those), so the retained status changes only when the
        state does."""
        out = []
        if self.over_budget:
            out.append(f"revisit slow: seats wait longer than the {self.bound_s:g} s bound "
                       "between looks"
                       + (" with all optional work shed" if self.shed_level == MAX_LEVEL
                          else ""))
        if self.shed_level:
            out.append("shedding to keep the revisit bound: "
                       + ", ".join(WHAT[s] for s in self.shed))
        return out


class RevisitBudget:
    def __init__(self, bound_s: float = BOUND_S, *, window_s: float = 10.0,
                 rise_after_s: float = 5.0, fall_below: float = 0.75,
                 fall_after_s: float = 30.0, clock: Clock = time.monotonic,
                 warn: Callable[[str], None] = log.warning) -> None:
        if not 0 < fall_below < 1:
            raise ValueError(f"fall_below must be between 0 and 1, got {fall_below}")
        if bound_s <= 0 or window_s <= 0 or rise_after_s < 0 or fall_after_s < 0:
            raise ValueError("bound_s and window_s must be > 0, the waits >= 0")
        self.bound_s = bound_s
        self.window_s = window_s
        self.rise_after_s = rise_after_s
        self.fall_below = fall_below
        self.fall_after_s = fall_after_s
        self._clock = clock
        self._warn = warn
        self.level = 0
        self._sweeps: deque[tuple[float, float]] = deque()   # (t, sweep seconds)
        self._over_since: float | None = None
        self._under_since: float | None = None
        self._changed_at = float("-inf")       # when the level last changed
        self._lock = threading.Lock()          # sweep() on the detect thread, observe() not

    def sweep(self, seconds: float) -> None:
        """A sweep ended that took ``seconds`` (the detect thread's room look to room look)."""
        with self._lock:
            self._sweeps.append((self._clock(), seconds))

    def observe(self) -> BudgetState:
        """The state now; sheds or restores one step when the sweeps say so."""
        now = self._clock()
        with self._lock:
            while self._sweeps and self._sweeps[0][0] < now - self.window_s:
                self._sweeps.popleft()
            sweeps = list(self._sweeps)
        fresh = [s for t, s in sweeps if t - s >= self._changed_at]
        # the new level is judged by its own sweeps only; until one has ended, the state
        # says what the sweeps before the change said
        judged = fresh or [s for _, s in sweeps]
        worst = max(judged, default=None)
        over = bool(judged) and judged[-1] > self.bound_s       # the pace now
        under = worst is not None and worst < self.fall_below * self.bound_s
        if not fresh:
            self._over_since = self._under_since = None
        else:
            self._over_since = (self._over_since if self._over_since is not None else now) \
                if over else None
            self._under_since = (self._under_since if self._under_since is not None else now) \
                if under else None
        if fresh and over and self.level < MAX_LEVEL \
                and now - self._over_since >= self.rise_after_s:
            self._change(self.level + 1, now,
                         f"revisit slow ({worst:.1f} s > {self.bound_s:g} s): shedding "
                         f"{WHAT[SHED_STEPS[self.level]]}")
        elif fresh and under and self.level > 0 \
                and now - self._under_since >= self.fall_after_s:
            self._change(self.level - 1, now,
                         f"revisit back under {self.fall_below * self.bound_s:g} s "
                         f"({worst:.1f} s): {WHAT[SHED_STEPS[self.level - 1]]} back on")
        return BudgetState(revisit_s=None if worst is None else round(worst, 3),
                           over_budget=over, shed_level=self.level, bound_s=self.bound_s)

    def _change(self, level: int, now: float, text: str) -> None:
        self.level = level
        self._warn(f"{text} (shed level {level})")
        self._over_since = self._under_since = None
        self._changed_at = now
