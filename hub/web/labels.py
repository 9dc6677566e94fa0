"""Every word the pages show for a code: rules, decisions, dismissal reasons, node states.

Lazy strings, translated when rendered in the request's language (Kazakh by default).
``as_json()`` gives the live page the same words for the codes that arrive over SSE.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

RULES = {
    "seat_vacated": _l("Seat left / out of view"),
    "extra_person": _l("Second person at the seat"),
    "outsider_near_seat": _l("Someone standing by the seat"),
    "notes": _l("Book or notes"),
    "device": _l("Phone or other device"),
    "head_turned": _l("Head turned to a neighbour"),
    "head_down_hands_low": _l("Head down, hands under the desk"),
    "room_overcrowded": _l("Too many people in the room"),
    "face_changed": _l("The face at the seat changed"),
}

DECISIONS = {
    "new": _l("New"),
    "acknowledged": _l("On it"),
    "dismissed": _l("Dismissed"),
    "confirmed": _l("Confirmed violation"),
}

DISMISS_REASONS = {
    "allowed_aid": _l("Allowed aid"),
    "detection_error": _l("Detection error"),
    "proctor_nearby": _l("A proctor was there"),
    "wrong_seat": _l("Wrong seat"),
    "other": _l("Other"),
}

LIVENESS = {
    "online": _l("Online"),
    "degraded": _l("Degraded"),
    "offline": _l("Offline"),
    "none": _l("No camera"),
}

# hub.triage's severity groups, worst first (the campus hub's incidents page heads)
SEVERITY = {
    "device": _l("Devices"),
    "notes": _l("Notes and books"),
    "outside_help": _l("Outside help"),
    "seat_left": _l("Seat left"),
    "advisory": _l("Advisory cues"),
}

LIVENESS_REASONS = {
    "node_offline": _l("Camera node stopped or lost power"),
    "no_heartbeat": _l("No heartbeat"),
    "never_seen": _l("Never heard from"),
    "node_degraded": _l("The node reports a problem"),
    "fps_low": _l("Frame rate too low"),
    "disk_low": _l("Disk space low"),
    "outbox_growing": _l("Messages not getting through"),
    "clock_skew": _l("The node's clock is wrong"),
    "revisit_slow": _l("Seats are looked at too seldom: the node is too slow for its seats"),
}

# What a node sheds to keep its seats' revisit bound (kuzet.contract.SHED_STEPS).
SHED_STEPS = {
    "second_looks": _l("second looks for phones"),
    "faces_unchanged": _l("faces on unchanged seats"),
}

SEAT_STATES = {
    "quiet": _l("Quiet"),
    "alert": _l("Alert"),
    "confirmed": _l("Confirmed"),
}

# The clause 4.1 items a rule checks (hub.triage.CLAUSES), in the regulation's words.
CLAUSES = {
    "stay_in_view": _l("4.1 stay in view"),
    "no_help": _l("4.1 no third-party help, no outsiders"),
    "no_aids": _l("4.1 no notes, textbooks, aids"),
    "no_devices": _l("4.1 no phone, tablet, calculator"),
    "identity": _l("3 the person taking the exam is identified"),
}

# How an incident of the room's history ended (hub.triage.outcome).
OUTCOMES = {
    "confirmed": _l("Confirmed"),
    "dismissed": _l("Dismissed"),
    "unreviewed": _l("Ended unreviewed"),
}

ROLES = {
    "proctor": _l("Proctor"),
    "dean": _l("Dean"),
    "technician": _l("Technician"),
    "admin": _l("Administrator"),
    "office": _l("Academic office"),
}

EVIDENCE_KINDS = {
    "snapshot": _l("Snapshot"),
    "crop": _l("The seat"),
    "clip": _l("Clip"),
}

PROTOCOL_STATUSES = {
    "draft": _l("Draft"),
    "issued": _l("Issued"),
    "signed": _l("Signed"),
    "retake_scheduled": _l("Retake scheduled"),
}

# The proctor's check-in results (hub.store.check_ins.RESULTS).
CHECK_IN_RESULTS = {
    "identified": _l("Identified"),
    "absent": _l("Absent"),
    "someone_else": _l("Someone else"),
    "moved": _l("Moved to seat"),
}

LANGUAGES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


def clock_offset(seconds: float) -> str:
    """How far a node's clock is off, in its largest whole unit: "Clock off by +3 h"."""
    sign, left = ("+" if seconds >= 0 else "-"), abs(seconds)
    for size, unit in ((86400, _("%(n)d d", n=round(left / 86400))),
                       (3600, _("%(n)d h", n=round(left / 3600))),
                       (60, _("%(n)d min", n=round(left / 60)))):
        if left >= size:
            return _("Clock off by %(offset)s", offset=sign + unit)
    return _("Clock off by %(offset)s", offset=sign + _("%(n)d s", n=round(left)))


def as_json() -> dict[str, Any]:
    """The labels in the current language, for the live page's script."""
    def tr(d: dict) -> dict:
        return {k: str(v) for k, v in d.items()}

    return {"rules": tr(RULES), "decisions": tr(DECISIONS), "reasons": tr(DISMISS_REASONS),
            "liveness": tr(LIVENESS), "liveness_reasons": tr(LIVENESS_REASONS),
            "seat_states": tr(SEAT_STATES), "clauses": tr(CLAUSES),
            "outcomes": tr(OUTCOMES)}
