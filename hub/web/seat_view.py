"""What the proctor's seat page shows: the seat (its student and its outline on the camera's
frame), its incidents still to decide and those decided, and the latest picture of it; and
where an action taken there leads back to. No routes here (``hub.web.proctor`` has them)."""

from __future__ import annotations

from typing import Any

from flask import abort, g, url_for

from hub import triage
from hub.store import alerts, nodes, rooms, scope, seat_pictures
from hub.store import sessions as exam_sessions
from hub.web.security import db, my_sessions

UNDECIDED = ("new", "acknowledged")
MARGIN = 0.35              # around the seat's box, as a share of its size: a little context


def seat_or_404(building: str, room: str, seat: str) -> tuple[dict, dict]:
    """The room (with its seat map) and the seat of it; 404 for a seat not on the map."""
    info = rooms.room(db(), building, room)
    spec = (info or {}).get("seatmap") or {}
    found = next((s for s in spec.get("seats", []) if s["id"] == seat), None)
    if info is None or found is None:
        abort(404)
    return info, found


def view_box(polygon: list, frame_size: list) -> list[float]:
    """The seat's bounding box with ``MARGIN`` around it, kept inside the frame, as an SVG
    viewBox ``[x, y, width, height]``."""
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    x0, y0 = max(0.0, min(xs) - w * MARGIN), max(0.0, min(ys) - h * MARGIN)
    x1 = min(float(frame_size[0]), max(xs) + w * MARGIN)
    y1 = min(float(frame_size[1]), max(ys) + h * MARGIN)
    return [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)]


def _student(building: str, room: str, seat: dict) -> str | None:
    """Who sits there in the proctor's exam (the roster's seating), else the map's name."""
    st = exam_sessions.student_at(db(), session_in(building, room), seat["id"])
    return st["name"] if st is not None else seat.get("student")


def session_in(building: str, room: str) -> int | None:
    """The proctor's session running now in the room (the newest if several)."""
    ids = [w.id for w in scope.proctor_sessions(db(), g.user.id)
           if (w.building, w.room) == (building, room)]
    return max(ids) if ids else None


def _clause(rule: str) -> str:
    """The clause 4.1 item the rule checks (``hub.triage``; none for a rule it does not know)."""
    try:
        return triage.clause(rule)
    except ValueError:
        return ""


def _triage_key(alert: dict) -> tuple:
    try:
        return triage.sort_key(alert)
    except ValueError:
        return (len(triage.SEVERITY), alert["started_at"] or "", alert["alert_id"])


def room_node(building: str, room: str) -> str | None:
    """The room's camera node to ask for a picture: an online one first."""
    found = nodes.room_nodes(db(), building, room)
    found.sort(key=lambda n: ({"online": 0, "degraded": 1}.get(n["liveness"], 2), n["node"]))
    return found[0]["node"] if found else None


def context(building: str, room: str, seat_id: str) -> dict[str, Any]:
    info, seat = seat_or_404(building, room, seat_id)
    frame = info["seatmap"]["frame_size"]
    mine = my_sessions(g.user) or set()
    found = alerts.seat_alerts(db(), building, room, seat_id, mine)
    for a in found:
        a["clause"] = _clause(a["rule"])
    todo = [a for a in found if a["decision"] in UNDECIDED]      # going on first, the worst
    todo.sort(key=lambda a: (a["status"] != "open", *_triage_key(a)))
    done = [a for a in found if a["decision"] not in UNDECIDED]
    pictured = next((a for a in found if a["thumb"] or a["evidence"]), None)
    files = alerts.alert_evidence(db(), pictured["alert_id"]) if pictured else []
    return {
        "building": building, "room": room, "info": info, "seat": seat,
        "student": _student(building, room, seat), "frame_size": frame,
        "points": " ".join(f"{x:g},{y:g}" for x, y in seat["polygon"]),
        "view_box": view_box(seat["polygon"], frame),
        "todo": todo, "done": done,
        "picture": picture(building, room, pictured, files, mine),
        "clip": next((f for f in files if f["kind"] == "clip"), None),
        "dismiss_reasons": alerts.DISMISS_REASONS,
        "back": url_for("proctor.seat", building=building, room=room, seat=seat_id),
    }


def picture(building: str, room: str, pictured: dict | None, files: list,
            sessions: set[int]) -> dict[str, Any] | None:
    """The newest picture of the seat: a fresh snapshot asked for here, or the newest alert's
    snapshot (either shown cut to the seat) or crop (already the seat)."""
    by_kind = {f["kind"]: f for f in files}
    candidates = []
    fresh = seat_pictures.latest(db(), building, room, sessions)
    if fresh is not None:
        candidates.append({"kind": "snapshot", "captured_at": fresh["trusted_captured_at"],
                           "url": url_for("proctor.picture_image", command_id=fresh["alert_id"]),
                           "alert_id": None})
    for kind in ("snapshot", "crop"):
        if kind in by_kind:
            f = by_kind[kind]
            candidates.append({"kind": kind, "captured_at": f["trusted_captured_at"],
                               "url": url_for("live.evidence_file", evidence_id=f["evidence_id"]),
                               "alert_id": pictured["alert_id"] if pictured else None})
            break
    return max(candidates, key=lambda c: c["captured_at"] or "", default=None)


def back_url(row, alert_id: str, wanted: str) -> str | None:
    """Where an action on ``alert_id`` returns to: ``wanted`` if it is this alert's seat page
    or evidence page (nothing else: no open redirect), else None."""
    allowed = {url_for("live.evidence_page", alert_id=alert_id)}
    if row["seat"]:
        allowed.add(url_for("proctor.seat", building=row["building"], room=row["room"],
                            seat=row["seat"]))
    return wanted if wanted in allowed else None
