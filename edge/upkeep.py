"""Disk upkeep, run by the supervise loop every second.

Every ``every_s`` (monotonic, first at start): evidence retention (``retention_days``, see
``EvidenceStore.expire``) and the outbox journal's pruning (``journal_days``: what was
accepted stays listed that long after delivery). Every time: the evidence budget and the
ballast. A failure is warned about (it shows in the status) and tried again next time.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from edge.clocks import Clock
from edge.evidence import Ballast, EvidenceStore
from edge.outbox import Outbox

DAY_S = 86400.0


class Upkeep:
    def __init__(self, evidence: EvidenceStore, ballast: Ballast, outbox: Outbox, *,
                 retention_days: float, journal_days: float, every_s: float = 3600.0,
                 warn: Callable[[str], None], clock: Clock = time.monotonic) -> None:
        self.evidence = evidence
        self.ballast = ballast
        self.outbox = outbox
        self.retention_days = retention_days
        self.journal_days = journal_days
        self.every_s = every_s
        self._warn = warn
        self._clock = clock
        self._next = clock()

    def run(self) -> None:
        if self._clock() >= self._next:
            self._next = self._clock() + self.every_s
            try:
                self.evidence.expire(self.retention_days * DAY_S)
            except (OSError, sqlite3.Error) as exc:
                self._warn(f"evidence budget: {exc}")
            try:
                self.outbox.prune_journal(self.journal_days)
            except sqlite3.Error as exc:
                self._warn(f"outbox journal not pruned: {exc}")
        try:
            self.evidence.enforce_budget()
            self.ballast.refill(self.evidence.min_free_bytes)
        except (OSError, sqlite3.Error) as exc:
            self._warn(f"evidence budget: {exc}")
