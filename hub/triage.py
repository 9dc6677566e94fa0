"""Which incident a proctor should look at first, and which clause of the regulation it is
about. Pure: alerts in (the dicts ``hub.store.alerts.alert_view`` gives), order out; no
database, no Flask.

Severity, worst first: a device (phone, tablet, calculator), then notes, then outside help (a
second person at the seat, someone standing by it, too many people in the room), then a seat
left, then the advisory cues (posture, a changed face). Within a severity the incident that
has lasted longest comes first (the oldest start; they are all still running). Each rule names
the clause 4.1 item of the regulation it checks (docs/regulation: "4.1 no phone, tablet,
calculator", ...; a changed face: section 3, the identification of the person taking the
exam); the words for a clause are in ``hub.web.labels.CLAUSES``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kuzet.contract import Rule

# The severity groups, worst first.
SEVERITY = ("device", "notes", "outside_help", "seat_left", "advisory")

# rule -> (severity group, clause 4.1 item)
_RULES: dict[str, tuple[str, str]] = {
    Rule.DEVICE: ("device", "no_devices"),
    Rule.NOTES: ("notes", "no_aids"),
    Rule.EXTRA_PERSON: ("outside_help", "no_help"),
    Rule.OUTSIDER_NEAR_SEAT: ("outside_help", "no_help"),
    Rule.ROOM_OVERCROWDED: ("outside_help", "no_help"),
    Rule.SEAT_VACATED: ("seat_left", "stay_in_view"),
    Rule.HEAD_TURNED: ("advisory", "no_help"),            # looking at a neighbour's work
    Rule.HEAD_DOWN_HANDS_LOW: ("advisory", "no_devices"),  # a phone under the desk
    Rule.FACE_CHANGED: ("advisory", "identity"),   # another face at a checked-in seat
}

# The clause 4.1 items (the regulation's own words are the labels), and section 3's
# identification of the person taking the exam (the proctor identifies the student).
CLAUSES = ("stay_in_view", "no_help", "no_aids", "no_devices", "identity")

# An incident a proctor still has to look at: running, and neither confirmed nor dismissed.
OPEN_DECISIONS = ("new", "acknowledged")
DECIDED = ("confirmed", "dismissed")


def _entry(rule: str) -> tuple[str, str]:
    try:
        return _RULES[rule]
    except KeyError:
        raise ValueError(f"unknown rule {rule!r}: hub/triage.py gives every rule of"
                         " kuzet.contract.Rule a severity") from None


def group(rule: str) -> str:
    """The severity group of ``rule`` (one of SEVERITY)."""
    return _entry(rule)[0]


def rank(rule: str) -> int:
    """0 for the worst rules (devices), growing with lesser severity."""
    return SEVERITY.index(group(rule))


def clause(rule: str) -> str:
    """The clause 4.1 item ``rule`` checks (one of CLAUSES)."""
    return _entry(rule)[1]


def is_open(alert: Mapping[str, Any]) -> bool:
    """Still running and not yet decided: it belongs in the open list."""
    return alert["status"] == "open" and alert["decision"] in OPEN_DECISIONS


def outcome(alert: Mapping[str, Any]) -> str:
    """How an incident of the history ended: ``confirmed``, ``dismissed`` or ``unreviewed``
    (it closed before anyone decided)."""
    return alert["decision"] if alert["decision"] in DECIDED else "unreviewed"


def sort_key(alert: Mapping[str, Any]) -> tuple:
    """Worst severity first; within one, the oldest start (the longest running) first."""
    return rank(alert["rule"]), alert["started_at"] or "", alert["alert_id"]


def order(alerts: Iterable[Mapping[str, Any]]) -> list:
    """The open incidents as the proctor sees them, worst and longest first."""
    return sorted(alerts, key=sort_key)


def why(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of the one-line reason: rule, clause, score, how long (seconds)."""
    return {"rule": alert["rule"], "group": group(alert["rule"]),
            "clause": clause(alert["rule"]), "score": alert.get("score"),
            "duration_s": alert.get("duration_s") or 0}


def as_json() -> dict[str, Any]:
    """What the live page's script needs to keep the same order and words."""
    return {"severity": list(SEVERITY),
            "rules": {str(r): {"group": g, "rank": SEVERITY.index(g), "clause": c}
                      for r, (g, c) in _RULES.items()}}
