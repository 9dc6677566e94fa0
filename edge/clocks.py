"""The node's two clocks, as passed around: both are plain ``() -> float`` callables.

The monotonic clock (``time.monotonic``) measures: durations, timeouts, rule windows,
cool-downs, schedules, retention within a boot. The wall clock (``time.time``) only stamps
messages and evidence: a Pi has no real-time clock, so NTP may move it by a year while the node
runs. Tests pass fakes for either.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]


def utc(wall: float) -> datetime:
    """A wall-clock reading as an aware UTC datetime (what messages carry)."""
    return datetime.fromtimestamp(wall, UTC)
