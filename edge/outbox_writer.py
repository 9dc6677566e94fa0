"""Messages into the durable outbox, even when the disk is full.

An alert must not be lost because the SD card filled up: when the outbox refuses a write, the
reserve (``Ballast``) is given up to make room and the write is tried again; if it still fails,
the message is held in memory, said so in the status, and written first once there is room
(``retry``, called before anything new on the rules thread).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from edge.outbox import Outbox
from kuzet import contract

log = logging.getLogger(__name__)

Item = tuple[str, str, bytes, int, str | None]     # msg_id, topic, payload, qos, attachment


class OutboxWriter:
    def __init__(self, outbox: Outbox, origin: contract.Origin, *,
                 make_room: Callable[[], bool] = lambda: False,
                 warn: Callable[[str], None] = log.warning) -> None:
        """``make_room()`` frees space (the ballast) and says whether it could."""
        self.outbox = outbox
        self.origin = origin
        self._make_room = make_room
        self._warn = warn
        self._held: list[Item] = []

    @property
    def held(self) -> int:
        """How many messages are held in memory (the disk was full)."""
        return len(self._held)

    def put(self, msg, kind: str, attachment: str | None = None) -> None:
        """Into the durable outbox; if the disk is full, held in memory and retried."""
        item: Item = (msg.id, contract.topic(self.origin, kind), contract.encode(msg), 1,
                      attachment)
        try:
            try:
                self.outbox.add(*item)
            except sqlite3.OperationalError:
                if not self._make_room():     # room for alerts: give up the reserve
                    raise
                self.outbox.add(*item)
        except sqlite3.Error as exc:
            self._warn(f"outbox write failed ({exc}); holding {len(self._held) + 1} "
                       "messages in memory")
            self._held.append(item)

    def retry(self) -> None:
        """Write the held messages, oldest first, while the outbox takes them."""
        while self._held:
            try:
                self.outbox.add(*self._held[0])
            except sqlite3.Error:
                return
            self._held.pop(0)
