"""Login rate limiting: failed attempts per user name and per address, in a sliding window.

In memory (the hub is one process): a restart forgets, which only ever helps a real user.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class FailureLimiter:
    """At most ``per_key`` failures per key within ``window_s``; ``retry_after`` tells how long
    a blocked key must wait."""

    def __init__(self, per_key: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_key = per_key
        self.window_s = window_s
        self.clock = clock
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        q = self._fails[key]
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [q[0] + self.window_s - now for k in keys
                     if len(q := self._trim(k, now)) >= self.per_key]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for k in keys:
                self._trim(k, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._fails.pop(k, None)
