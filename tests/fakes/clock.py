"""``FakeClock``: monotonic seconds that move only when the code under test sleeps or waits."""

from __future__ import annotations


class FakeClock:
    """Monotonic seconds that only move when something sleeps or waits; records the waits."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.now += seconds

    def wait(self, seconds: float) -> bool:
        self.sleep(seconds)
        return False
