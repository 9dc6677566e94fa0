"""What the proctors' decisions say about the detector: how many alerts of each rule were
confirmed and how many dismissed, for which reason (``alerts.DISMISS_REASONS``), per room and
overall. A rule dismissed often as ``detection_error`` in one room is where the detector is
wrong there; ``proctor_nearby`` is the proctor's own presence raising outside-help rules.
No student data: counts only."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import asdict, dataclass, field

from hub.store.alerts import DISMISS_REASONS


@dataclass(frozen=True)
class RoomRuleReason:
    building: str
    room: str
    rule: str
    reason: str
    count: int


@dataclass
class RuleTotals:
    """One rule's alerts overall: how many, how many decided each way, the dismissals'
    reasons, and the share of the decided ones that were dismissed."""

    rule: str
    alerts: int = 0
    confirmed: int = 0
    dismissed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def dismissed_share(self) -> float | None:
        decided = self.confirmed + self.dismissed
        return round(self.dismissed / decided, 3) if decided else None


@dataclass(frozen=True)
class DismissalCounts:
    by_room: list[RoomRuleReason]     # per (building, room, rule, reason), most first
    by_rule: list[RuleTotals]         # per rule, the most dismissed first

    def as_json(self) -> dict:
        return {"reasons": list(DISMISS_REASONS),
                "by_room": [asdict(r) for r in self.by_room],
                "by_rule": [{**asdict(r), "dismissed_share": r.dismissed_share}
                            for r in self.by_rule]}


def dismissal_counts(conn: sqlite3.Connection,
                     buildings: Collection[str] | None = None) -> DismissalCounts:
    """The counts over every alert the hub holds (only ``buildings``' if given)."""
    where, args = "", ()
    if buildings is not None:
        wanted = tuple(sorted(set(buildings)))
        where = f" AND building IN ({','.join('?' * len(wanted)) or 'NULL'})"
        args = wanted
    by_room = [RoomRuleReason(*r) for r in conn.execute(
        "SELECT building, room, rule, dismiss_reason, COUNT(*) AS n FROM alerts"
        f" WHERE decision = 'dismissed' AND dismiss_reason IS NOT NULL{where}"
        " GROUP BY building, room, rule, dismiss_reason"
        " ORDER BY n DESC, building, room, rule, dismiss_reason", args)]
    totals: dict[str, RuleTotals] = {}
    for rule, decision, reason, n in conn.execute(
            "SELECT rule, decision, dismiss_reason, COUNT(*) FROM alerts"
            f" WHERE 1 = 1{where} GROUP BY rule, decision, dismiss_reason", args):
        t = totals.setdefault(rule, RuleTotals(rule))
        t.alerts += n
        if decision == "confirmed":
            t.confirmed += n
        elif decision == "dismissed":
            t.dismissed += n
            if reason is not None:
                t.reasons[reason] = t.reasons.get(reason, 0) + n
    by_rule = sorted(totals.values(), key=lambda t: (-t.dismissed, -t.alerts, t.rule))
    return DismissalCounts(by_room, by_rule)
