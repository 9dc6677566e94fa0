"""Evidence is bound to its alert's origin: only the node that raised an alert (or that a
technician's snapshot command went to) may send evidence under its id.

A node sends an alert's snapshot and crop before the alert that names them
(``edge.incidents``), and with ``[broker] evidence_process`` the two travel separately, so
evidence whose alert is not known yet is an orphan: held, unacknowledged, for at most
``orphan_hold_s``, ``orphan_max`` at a time and ``orphan_max_bytes`` of files together (their
declared sizes: the bytes held in memory, or on disk where the evidence process wrote them
before binding; a held job keeps its checked bytes only, not the message's base64 copy), and
bound as soon as its alert arrives. An orphan still alone after that is dropped, as is the
oldest when too many wait or they weigh too much (the broker's window of unacknowledged
messages must never fill with them, nor the hub's memory or disk). Evidence from another
node than its alert's is refused. Both are rejections: logged, counted, acked.

Pure bookkeeping on the writer's thread: the alerts' origins come from ``owner_of`` (the
store) and from the alerts in the batch itself. No SQL and no Flask here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kuzet import contract

Owner = tuple[str, str, str]              # building, room, node


@dataclass(frozen=True)
class OrphanLimits:
    hold_s: float = 60.0
    max_count: int = 500
    max_bytes: int = 64 * 2**20


@dataclass(frozen=True)
class Refusal:
    job: Any                              # the writer's MessageJob
    reason: str


def owner(origin: contract.Origin) -> Owner:
    return (origin.building, origin.room, origin.node)


def _named(owner_: Owner) -> str:
    return "/".join(owner_)


def is_evidence(job: Any) -> bool:
    return isinstance(getattr(job, "msg", None), contract.EvidenceMessage)


def _alerts_in(batch: list) -> dict[str, Owner]:
    named: dict[str, Owner] = {}
    for job in batch:
        msg = getattr(job, "msg", None)
        if isinstance(msg, contract.AlertMessage):
            named.setdefault(msg.alert_id, owner(msg.origin))
    return named


class EvidenceBinder:
    """``bind(batch, now)``: the batch to apply and the evidence refused."""

    def __init__(self, owner_of: Callable[[str], Owner | None],
                 limits: OrphanLimits = OrphanLimits()) -> None:
        self.owner_of = owner_of
        self.limits = limits
        self._held: OrderedDict[int, tuple[float, Any]] = OrderedDict()   # arrival order
        self._by_alert: dict[str, list[int]] = {}
        self._bytes = 0

    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def held_bytes(self) -> int:
        """The held evidence files' bytes together (their declared, checked sizes)."""
        return self._bytes

    def bind(self, batch: list, now: float) -> tuple[list, list[Refusal]]:
        """Evidence whose alert is known from the same node stays in the batch (after the
        batch's own alerts); orphans are held; held ones whose alert is in this batch come
        back; the rest is refused."""
        named = _alerts_in(batch)
        keep, after, refused = [], [], []
        arrived = [job for aid in named for job in self._release(aid)]
        for job in arrived + [j for j in batch if is_evidence(j)]:
            aid = job.msg.alert_id
            known = named.get(aid) or self.owner_of(aid)
            if known is None:
                refused += self._hold(job, now)
            elif known != owner(job.msg.origin):
                refused.append(Refusal(job, _foreign(job.msg, known)))
            elif aid in named:
                after.append(job)             # applied after the alert that names it
            else:
                keep.append(job)
        keep = [j for j in batch if not is_evidence(j)] + keep
        return keep + after, refused + self._expire(now)

    def _hold(self, job: Any, now: float) -> list[Refusal]:
        if job.msg.data:                      # the checked bytes are enough from here on
            job.msg = job.msg.model_copy(update={"data": ""})
        self._held[id(job)] = (now, job)
        self._by_alert.setdefault(job.msg.alert_id, []).append(id(job))
        self._bytes += job.msg.size
        refused = []
        while self._held and (len(self._held) > self.limits.max_count
                              or self._bytes > self.limits.max_bytes):
            many = len(self._held) > self.limits.max_count
            _, (_, oldest) = self._held.popitem(last=False)
            self._forget(oldest)
            why = (f"{self.limits.max_count} others wait for theirs" if many else
                   f"the evidence waiting for its alert would exceed {self.limits.max_bytes} "
                   "bytes")
            refused.append(Refusal(oldest, f"evidence {oldest.msg.evidence_id}: no alert "
                                   f"{oldest.msg.alert_id}, and {why}; dropped"))
        return refused

    def _release(self, alert_id: str) -> list:
        jobs = [self._held.pop(key)[1] for key in self._by_alert.pop(alert_id, [])]
        self._bytes -= sum(job.msg.size for job in jobs)
        return jobs

    def _expire(self, now: float) -> list[Refusal]:
        refused = []
        while self._held:
            key, (since, job) = next(iter(self._held.items()))
            if now - since < self.limits.hold_s:
                break
            del self._held[key]
            self._forget(job)
            refused.append(Refusal(job, f"evidence {job.msg.evidence_id}: no alert "
                                   f"{job.msg.alert_id} came within "
                                   f"{self.limits.hold_s:g} s; dropped"))
        return refused

    def _forget(self, job: Any) -> None:
        self._bytes -= job.msg.size
        keys = self._by_alert.get(job.msg.alert_id, [])
        if id(job) in keys:
            keys.remove(id(job))
        if not keys:
            self._by_alert.pop(job.msg.alert_id, None)


def _foreign(msg: contract.EvidenceMessage, known: Owner) -> str:
    return (f"evidence {msg.evidence_id} names alert {msg.alert_id} of {_named(known)}, "
            f"not of its sender {_named(owner(msg.origin))}")
