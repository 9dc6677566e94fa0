"""``FakePublisher``: the shape of ``edge.publisher.MqttPublisher`` without a broker.

It is built the same way (``FakePublisher(settings, origin, outbox, wall_clock=...)``, so it can
be passed to ``EdgeNode(..., publisher_factory=FakePublisher)``) and records what the node
would have published directly: the retained status and the fire-and-forget messages
(heartbeats, replies). Messages that go through the outbox stay in the outbox: read them there
(``outbox.pending()``), as the real publisher would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from kuzet import contract


class FakePublisher:
    def __init__(self, settings=None, origin: contract.Origin | None = None, outbox=None, *,
                 on_command: Callable | None = None, wall_clock: Callable[[], float] | None = None,
                 connected: bool = True) -> None:
        self.settings = settings
        self.origin = origin
        self.outbox = outbox
        self.on_command = on_command
        self.on_disk_full: Callable[[], object] | None = None
        self.connected = threading.Event()
        if connected:
            self.connected.set()
        self.statuses: list[contract.StatusMessage] = []
        self.sent: list[tuple[str, object]] = []     # (kind, message) sent now
        self.started = self.stopped = False
        self._lock = threading.Lock()

    def start(self) -> None:
        self.started = True

    def stop(self, final_status: contract.StatusMessage | None = None) -> None:
        if final_status is not None:
            self.set_status(final_status)
        self.stopped = True

    def set_status(self, status: contract.StatusMessage) -> None:
        with self._lock:
            self.statuses.append(status)

    def send_now(self, kind: str, message) -> bool:
        if not self.connected.is_set():
            return False
        with self._lock:
            self.sent.append((kind, message))
        return True

    # -- for the test -------------------------------------------------------------------------
    def of_kind(self, kind: str) -> list:
        with self._lock:
            return [m for k, m in self.sent if k == kind]

    def replies(self) -> dict[str, contract.CommandReply]:
        return {r.command_id: r for r in self.of_kind("reply")}

    @property
    def status(self) -> contract.StatusMessage | None:
        with self._lock:
            return self.statuses[-1] if self.statuses else None


def queued(outbox, kind: str) -> list[dict]:
    """The messages of ``kind`` (alert, evidence) waiting in ``outbox``, decoded, oldest first."""
    return [json.loads(item.payload) for item in outbox.pending(limit=10_000)
            if item.topic.endswith("/" + kind)]
