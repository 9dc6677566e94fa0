"""Login throttling: failures per key with growing delays (exponential back-off).

The login page keeps two limiters: one keyed by client and user name (tight), one by client
alone (looser, for a client trying many names). Only a client that has failed waits: the real
user on another client logs in at once, whatever an attacker does elsewhere. In memory (the
hub is one process): a restart forgets, which only ever helps a real user.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last: float


class BackoffLimiter:
    """After ``free`` failures of a key, each further failure makes it wait
    ``base_s * 2**(failures - free)`` seconds (at most ``max_s``) from that failure; a
    success forgets the key, and so does ``forget_s`` without a failure."""

    MAX_KEYS = 50_000

    def __init__(self, free: int, base_s: float, max_s: float, forget_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free = free
        self.base_s = base_s
        self.max_s = max_s
        self.forget_s = forget_s
        self.clock = clock
        self._keys: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def _delay(self, count: int) -> float:
        if count < self.free:
            return 0.0
        return min(self.max_s, self.base_s * 2 ** min(count - self.free, 60))

    def _current(self, key: str, now: float) -> _Failures | None:
        f = self._keys.get(key)
        if f is not None and now - f.last >= self.forget_s:
            del self._keys[key]
            return None
        return f

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            f = self._current(key, now)
            return max(0.0, f.last + self._delay(f.count) - now) if f else 0.0

    def failed(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            f = self._current(key, now)
            if f is None:
                if len(self._keys) >= self.MAX_KEYS:
                    self._forget_old(now)
                self._keys[key] = _Failures(1, now)
            else:
                f.count, f.last = f.count + 1, now

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)

    def _forget_old(self, now: float) -> None:
        """Memory stays bounded: drop forgotten keys, then the oldest half if still full."""
        for k in [k for k, f in self._keys.items() if now - f.last >= self.forget_s]:
            del self._keys[k]
        if len(self._keys) >= self.MAX_KEYS:
            by_age = sorted(self._keys, key=lambda k: self._keys[k].last)
            for k in by_age[:len(by_age) // 2]:
                del self._keys[k]
