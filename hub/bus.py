"""A small in-process publish/subscribe: the writer publishes, each open live page listens.

The hub runs its web server and its ingest worker in one process (docs/hub.md says why), so
a live page is a thread blocked on its :class:`Subscription`. An event is serialised to its
SSE bytes once, whatever the number of listeners. A listener that falls behind by more than
``limit`` events is told to resynchronise (the page reloads its feed) instead of growing.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

_seq = itertools.count(1)


@dataclass
class Event:
    """``kind`` is ``alert`` or ``node``; ``data`` is the JSON the page gets."""

    kind: str
    building: str
    room: str
    data: dict[str, Any]
    seq: int = field(default_factory=lambda: next(_seq))
    _sse: bytes | None = field(default=None, repr=False)

    def sse(self) -> bytes:
        if self._sse is None:
            body = json.dumps(self.data, separators=(",", ":"))
            self._sse = f"id: {self.seq}\nevent: {self.kind}\ndata: {body}\n\n".encode()
        return self._sse


class Subscription:
    """Events for a set of rooms (``None``: every room)."""

    def __init__(self, bus: EventBus, rooms: set[tuple[str, str]] | None,
                 kinds: set[str] | None, limit: int) -> None:
        self._bus = bus
        self.rooms = rooms
        self.kinds = kinds
        self._limit = limit
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition()
        self.overflowed = False
        self.closed = False

    def wants(self, event: Event) -> bool:
        return ((self.rooms is None or (event.building, event.room) in self.rooms)
                and (self.kinds is None or event.kind in self.kinds))

    def put(self, event: Event) -> None:
        with self._cond:
            if len(self._queue) >= self._limit:
                self._queue.clear()
                self.overflowed = True
            else:
                self._queue.append(event)
            self._cond.notify()

    def get(self, timeout: float) -> list[Event]:
        """Every waiting event (possibly none after ``timeout`` seconds)."""
        with self._cond:
            if not self._queue and not self.closed:
                self._cond.wait(timeout)
            out = list(self._queue)
            self._queue.clear()
            return out

    def take_overflow(self) -> bool:
        with self._cond:
            flag, self.overflowed = self.overflowed, False
            return flag

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self._bus._remove(self)


class EventBus:
    def __init__(self, limit: int = 2000) -> None:
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._limit = limit

    def subscribe(self, rooms: set[tuple[str, str]] | None = None,
                  kinds: set[str] | None = None) -> Subscription:
        sub = Subscription(self, rooms, kinds, self._limit)
        with self._lock:
            self._subs.append(sub)
        return sub

    def publish(self, event: Event) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.wants(event):
                sub.put(event)

    def close_all(self) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.close()

    def watched(self, building: str, room: str) -> bool:
        """Is any open page listening to this room? (Nobody watching: no view to build.)"""
        with self._lock:
            return any(s.rooms is None or (building, room) in s.rooms for s in self._subs)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._subs)

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
