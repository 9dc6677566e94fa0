"""Messages into the durable outbox, even when the disk is full.

An alert must not be lost because the SD card filled up: when the outbox refuses a write, the
reserve (``Ballast``) is given up to make room and the write is tried again; if it still fails,
the message is held in memory, said so in the status, and written first once there is room
(``retry``, called before anything new on the rules thread).

With a ``Sealer`` (``edge.signing``), every alert and evidence message is chained and signed
here, in the order it enters the outbox; a message held in memory keeps its place.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from edge.outbox import ChainHead, Outbox
from edge.signing import SIGNED_KINDS, Sealer
from kuzet import contract

log = logging.getLogger(__name__)

# msg_id, topic, payload, qos, attachment, the chain's head with this record
Item = tuple[str, str, bytes, int, str | None, ChainHead | None]


class OutboxWriter:
    def __init__(self, outbox: Outbox, origin: contract.Origin, *,
                 make_room: Callable[[], bool] = lambda: False,
                 warn: Callable[[str], None] = log.warning,
                 sealer: Sealer | None = None) -> None:
        """``make_room()`` frees space (the ballast) and says whether it could; ``sealer``
        signs and chains alerts and evidence (None: they go unsigned)."""
        self.outbox = outbox
        self.origin = origin
        self.sealer = sealer
        self._make_room = make_room
        self._warn = warn
        self._held: list[Item] = []

    @property
    def held(self) -> int:
        """How many messages are held in memory (the disk was full)."""
        return len(self._held)

    def put(self, msg, kind: str, attachment: str | None = None) -> None:
        """Into the durable outbox; if the disk is full, held in memory and retried."""
        head = None
        if self.sealer is not None and kind in SIGNED_KINDS:
            msg, head = self.sealer.seal(msg)
        item: Item = (msg.id, contract.topic(self.origin, kind), contract.encode(msg), 1,
                      attachment, head)
        try:
            try:
                self._add(item)
            except sqlite3.OperationalError:
                if not self._make_room():     # room for alerts: give up the reserve
                    raise
                self._add(item)
        except sqlite3.Error as exc:
            self._warn(f"outbox write failed ({exc}); holding {len(self._held) + 1} "
                       "messages in memory")
            self._held.append(item)

    def _add(self, item: Item) -> None:
        *fields, head = item
        if head is None:
            self.outbox.add(*fields)
        else:
            self.outbox.add(*fields, chain=head)

    def retry(self) -> None:
        """Write the held messages, oldest first, while the outbox takes them."""
        while self._held:
            try:
                self._add(self._held[0])
            except sqlite3.Error:
                return
            self._held.pop(0)
