"""What proctors and deans share: the room's live data (SSE stream and feed JSON) and the
evidence pages and files. Every evidence view is audited; a room or evidence the user may not
see is a 404."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)

from hub import protocol_evidence, triage
from hub.avi import mjpeg_frames
from hub.store import alerts, nodes, rooms, scope, users
from hub.store.db import connect
from hub.web import labels
from hub.web.security import (
    alert_or_404,
    audit,
    clock,
    db,
    evidence_or_404,
    login_check,
    my_sessions,
    roles_allowed,
    room_or_404,
)
from hub.web.sse import event_stream

bp = Blueprint("live", __name__)


def _centroid(points: list) -> tuple[float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return sum(xs) / len(xs), sum(ys) / len(ys)


# How many open incidents the room page lists before "and N more" (the worst first), and
# how many of the history's latest it lists (its counts cover the whole exam).
OPEN_SHOWN = 24
HISTORY_SHOWN = 30


def _incidents(building: str, room: str) -> dict:
    """The room's incidents that ``g.user`` may see: the open ones in triage order, the
    latest of the history, the history's counts and the seats' states (all in SQL)."""
    mine, conn = my_sessions(g.user), db()
    return {"open": alerts.open_alerts(conn, building, room, sessions=mine),
            "history": alerts.history_alerts(conn, building, room, sessions=mine,
                                             limit=HISTORY_SHOWN),
            "counts": alerts.history_counts(conn, building, room, sessions=mine),
            "seat_states": alerts.room_seat_states(conn, building, room, sessions=mine),
            "now": time.time()}      # as the alerts' received_at: the hub's own clock


def _links(building: str, room: str) -> dict:
    """Where a row or a seat leads: the proctor's seat page (``__SEAT__`` for the seat);
    for the dean (no seat page) none, and an alert without a seat (or any, for the dean) to
    its evidence page (``__ALERT__``)."""
    seat = (url_for("proctor.seat", building=building, room=room, seat="__SEAT__")
            if g.user.role == "proctor" else None)
    return {"seat": seat, "evidence": url_for("live.evidence_page", alert_id="__ALERT__")}


def room_context(building: str, room: str) -> dict | None:
    """Everything the room page shows (of the alerts, only those ``g.user`` may see)."""
    info = rooms.room(db(), building, room)
    if info is None:
        return None
    incidents = _incidents(building, room)
    seatmap = info["seatmap"]
    seats = []
    if seatmap:
        for s in seatmap["seats"]:
            cx, cy = _centroid(s["polygon"])
            seats.append({"id": s["id"], "student": s.get("student"), "cx": cx, "cy": cy,
                          "points": " ".join(f"{x:g},{y:g}" for x, y in s["polygon"])})
    return {"building": building, "room": room, "info": info, "seats": seats,
            "frame_size": seatmap["frame_size"] if seatmap else None,
            "alerts": incidents["open"] + incidents["history"], **incidents,
            "nodes": nodes.room_nodes(db(), building, room),
            "students": {s["id"]: s["student"] for s in seats if s["student"]},
            "label_json": labels.as_json(), "triage": triage.as_json(),
            "links": _links(building, room), "open_shown": OPEN_SHOWN,
            "history_shown": HISTORY_SHOWN,
            "keepalive_s": current_app.config["KUZET_CONFIG"].web.sse_keepalive_s}


@bp.get("/live/<building>/<room>/alerts.json")
@roles_allowed("proctor", "dean")
def feed(building: str, room: str):
    """The room's state as the page shows it: ``open`` (every open incident, triage order),
    ``history`` (the latest), ``counts`` (over the whole exam), ``seat_states``, ``nodes``;
    ``alerts`` is open and history together. A page that lost its stream reloads it."""
    room_or_404(building, room)
    incidents = _incidents(building, room)
    return jsonify({**incidents, "alerts": incidents["open"] + incidents["history"],
                    "nodes": nodes.room_nodes(db(), building, room)})


def _still_allowed(db_path, user, building: str, room: str) -> set[int] | None | bool:
    """May ``user`` still watch the room? ``False`` if not; else the sessions whose alerts
    they may see (``None``: all, a dean of the building)."""
    conn = connect(db_path, readonly=True)
    try:
        if users.get_user(conn, user.id) is None:
            return False
        if user.role == "dean":
            return None if building in users.buildings(conn, user.id) else False
        mine = {w.id for w in scope.proctor_sessions(conn, user.id)
                if (w.building, w.room) == (building, room)}
        return mine or False
    finally:
        conn.close()


def _shown(event, sessions: set[int] | None) -> bool:
    """A proctor's stream carries only their sessions' alerts (and the room's nodes)."""
    return sessions is None or event.kind != "alert" or event.data.get("session") in sessions


@bp.get("/live/<building>/<room>/stream")
@roles_allowed("proctor", "dean")
def stream(building: str, room: str):
    """Server-Sent Events: ``alert`` and ``node`` events for the room, a keep-alive ``ping``
    event every ``sse_keepalive_s`` (the page knows a silent drop when pings stop); access is
    re-checked then; the stream ends after ``sse_max_age_s`` and the browser reconnects by
    itself (``retry``)."""
    room_or_404(building, room)
    services = current_app.extensions["kuzet"]
    web = current_app.config["KUZET_CONFIG"].web
    user = g.user
    login_open = login_check()
    mine = my_sessions(user)
    sub = services.bus.subscribe({(building, room)})

    def render(batch: list, overflowed: bool) -> bytes | None:
        out = [b"event: resync\ndata: {}\n\n"] if overflowed else []
        out += [ev.sse() for ev in batch if _shown(ev, mine)]
        return b"".join(out) or None

    def still_allowed() -> bool:
        nonlocal mine
        allowed = _still_allowed(services.db_path, user, building, room) \
            if login_open() else False
        if allowed is False:
            return False
        mine = allowed
        return True

    return event_stream(sub, web, render, still_allowed, retry_ms=1000,
                        idle=b"event: ping\ndata: {}\n\n")


@bp.get("/evidence/alert/<alert_id>")
@roles_allowed("proctor", "dean")
def evidence_page(alert_id: str):
    alert = alert_or_404(alert_id)
    info = rooms.room(db(), alert["building"], alert["room"])
    seat = None
    if info and info["seatmap"] and alert["seat"]:
        seat = next((s for s in info["seatmap"]["seats"] if s["id"] == alert["seat"]), None)
    files = alerts.alert_evidence(db(), alert_id)
    audit("evidence.view", alert_id, alert["building"], alert["room"],
          files=[f["evidence_id"] for f in files])
    return render_template(
        "evidence.html", alert=alert, files=files, seat=seat,
        seat_points=" ".join(f"{x:g},{y:g}" for x, y in seat["polygon"]) if seat else "",
        frame_size=info["seatmap"]["frame_size"] if info and info["seatmap"] else None,
        notes=alerts.alert_notes(db(), alert_id),
        proof=protocol_evidence.alert_proof(db(), alert_id),
        student=seat.get("student") if seat else None,
        can_act=g.user.role == "proctor", dismiss_reasons=alerts.DISMISS_REASONS)


def _file(row):
    return current_app.extensions["kuzet"].evidence.resolve(row["file"])


@bp.get("/evidence/file/<evidence_id>")
@roles_allowed("proctor", "dean")
def evidence_file(evidence_id: str):
    row = evidence_or_404(evidence_id)
    audit("evidence.file", evidence_id, row["building"], row["room"], kind=row["kind"])
    download = request.args.get("download") == "1"
    ext = ".jpg" if row["content_type"] == "image/jpeg" else ".avi"
    response = send_file(_file(row), mimetype=row["content_type"], as_attachment=download,
                         download_name=f"{row['alert_id']}-{row['kind']}-{evidence_id}{ext}")
    response.headers["Cache-Control"] = "no-store"       # a shared tablet keeps no copy
    return response


@bp.get("/evidence/clip/<evidence_id>/frames.json")
@roles_allowed("proctor", "dean")
def clip_frames(evidence_id: str):
    row = evidence_or_404(evidence_id)
    frames, fps = mjpeg_frames(_file(row).read_bytes())
    audit("evidence.clip", evidence_id, row["building"], row["room"])
    return jsonify({"frames": len(frames), "fps": fps or 4.0})


@bp.get("/evidence/clip/<evidence_id>/<int:n>.jpg")
@roles_allowed("proctor", "dean")
def clip_frame(evidence_id: str, n: int):
    row = evidence_or_404(evidence_id)
    data = _file(row).read_bytes()
    frames, _fps = mjpeg_frames(data)
    if not 0 <= n < len(frames):
        abort(404)
    start, size = frames[n]
    _audit_clip_frame(row, n)
    response = Response(data[start:start + size], mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response


CLIP_AUDIT_EVERY_S = 600.0


def _audit_clip_frame(row, n: int) -> None:
    """A clip's frames are audited once per user and clip every ``CLIP_AUDIT_EVERY_S`` (a
    played clip fetches every frame; one entry says who saw it and when)."""
    seen = current_app.extensions.setdefault("kuzet_clip_views", {})
    key, now = (g.user.id, row["evidence_id"]), clock()
    if now - seen.get(key, float("-inf")) < CLIP_AUDIT_EVERY_S:
        return
    if len(seen) > 10_000:
        seen.clear()
    seen[key] = now
    audit("evidence.clip_frame", row["evidence_id"], row["building"], row["room"], frame=n)
