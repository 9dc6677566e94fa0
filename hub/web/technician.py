"""The technician's pages: every node's health joined with the device registry, enrolment
(add, one-time bundle or code, re-enrol, revoke), a live snapshot to aim the camera, and the
seat-map editor that pushes the map to the node.

No student data: no alerts, no evidence but the snapshots a technician asked for (every face
blurred by the node), and seat maps without the students' names (kept as they are on save).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from pydantic import ValidationError

from hub.config import is_loopback
from hub.store import alerts, messages, rooms, signed_records
from hub.store.nodes import HISTORY_S, history, room_nodes
from hub.web.inputs import json_object
from hub.web.security import audit, db, require_role, writer
from hub.web.sparkline import Spark, sparkline
from kuzet import contract
from kuzet.contract import SeatMapSpec
from kuzet.errors import KuzetError

bp = Blueprint("technician", __name__, url_prefix="/tech")
bp.before_request(require_role("technician"))
NODE = "/nodes/<building>/<room>/<name>"
BRIDGE_KEY = "kuzet_provisioning"
HISTORY_POINTS = 120         # slices per picture: a 6 h window draws 3-minute means
PICTURED = ("fps", "cpu_temp_c", "disk_free_mb", "outbox_depth")


def bridge():
    """The provisioning bridge, or 404 when the hub has no ``[provisioning]`` enabled."""
    found = current_app.extensions.get(BRIDGE_KEY)
    if found is None:
        abort(404)
    return found


def _node_id(building: str, room: str, name: str) -> str:
    node_id = f"{building}/{room}/{name}"
    try:
        bridge().device(node_id)
    except KuzetError:
        abort(404)
    return node_id


def _rows(now: float) -> list[dict[str, Any]]:
    """Registered devices with their health and history, then nodes heard of but not
    registered."""
    live = {(n["building"], n["room"], n["node"]): n for n in room_nodes(db())}
    pictures = _pictures(now)
    found = current_app.extensions.get(BRIDGE_KEY)
    rows = []
    for d in found.devices() if found is not None else []:
        key = (d.building, d.room, d.name)
        rows.append({"id": d.node_id, "building": d.building, "room": d.room, "name": d.name,
                     "device": d, "health": live.pop(key, None), "history": pictures.get(key)})
    for (b, r, n), health in live.items():
        rows.append({"id": f"{b}/{r}/{n}", "building": b, "room": r, "name": n,
                     "device": None, "health": health, "history": pictures.get((b, r, n))})
    return rows


def _pictures(now: float) -> dict[tuple[str, str, str], dict[str, Spark]]:
    """Per node with heartbeats in the last ``HISTORY_S``: a sparkline of each ``PICTURED``
    figure. Silence longer than a slice and a half, or than the heartbeat timeout, is a gap."""
    since = now - HISTORY_S
    timeout = current_app.config["KUZET_CONFIG"].liveness.heartbeat_timeout_s
    max_gap = max(1.5 * HISTORY_S / HISTORY_POINTS, timeout)
    return {key: {f: sparkline([(p.t, getattr(p, f)) for p in points], since, now, max_gap)
                  for f in PICTURED}
            for key, points in history(db(), since, now, HISTORY_POINTS).items()}


@bp.get("/")
def nodes():
    writer = current_app.extensions["kuzet"].writer
    now = time.time()
    return render_template("tech_nodes.html", rows=_rows(now), hub_problem=writer.disk_problem,
                           history_hours=round(HISTORY_S / 3600),
                           provisioning=current_app.extensions.get(BRIDGE_KEY) is not None,
                           rejected=messages.rejected(db()),
                           counters=messages.counters(db()), signing=_signing())


def _signing() -> dict[tuple[str, str, str], dict[str, int]]:
    """Per node: its records still waiting for a predecessor (``gaps``) and its refused
    signatures among the kept rejected messages (``bad``); only nodes with either."""
    gaps = signed_records.node_gaps(db())
    bad = messages.bad_signatures_by_node(db())
    return {key: {"gaps": gaps.get(key, 0), "bad": bad.get(key, 0)}
            for key in set(gaps) | set(bad)}


@bp.post("/nodes")
def add_node():
    f = request.form
    node_id = "/".join(f.get(k, "").strip() for k in ("building", "room", "name"))
    try:
        bridge().add(node_id)
    except KuzetError as exc:
        flash(_("Could not add the node: %(why)s", why=str(exc)), "error")
        return redirect(url_for("technician.nodes"))
    b, r, n = node_id.split("/")
    audit("node.add", node_id, b, r)
    flash(_("Node %(node)s added.", node=node_id), "ok")
    return redirect(url_for("technician.nodes"))


@bp.post(NODE + "/enrol")
def enrol(building: str, room: str, name: str):
    """Issue the certificate and download the one-time bundle (it is not kept anywhere)."""
    node_id = _node_id(building, room, name)
    again = bridge().device(node_id).status == "enrolled"
    try:
        bundle = bridge().enrol(node_id)
    except KuzetError as exc:
        flash(_("Could not enrol the node: %(why)s", why=str(exc)), "error")
        return redirect(url_for("technician.nodes"))
    audit("node.reenrol" if again else "node.enrol", node_id, building, room,
          serial=bundle.device.serial)
    from io import BytesIO

    resp = send_file(BytesIO(bundle.data), mimetype="application/gzip", as_attachment=True,
                     download_name=bundle.filename)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post(NODE + "/code")
def code(building: str, room: str, name: str):
    node_id = _node_id(building, room, name)
    try:
        one_time = bridge().new_code(node_id)
    except KuzetError as exc:
        flash(_("Could not make a code: %(why)s", why=str(exc)), "error")
        return redirect(url_for("technician.nodes"))
    audit("node.code", node_id, building, room)
    config = current_app.config["KUZET_CONFIG"]
    ttl_min = int(config.provisioning.code_ttl_s // 60)
    https = _enrol_over_https(config)
    scheme = {"_scheme": "https"} if https else {}
    return render_template("tech_code.html", node_id=node_id, code=one_time, ttl_min=ttl_min,
                           fetch_url=url_for("enrolment.fetch", _external=True, **scheme),
                           ca_url=url_for("technician.ca_cert", _external=True, **scheme),
                           https_only=https, ca_fingerprint=bridge().ca_fingerprint())


def _enrol_over_https(config) -> bool:
    """Whether the Pi fetches its bundle over HTTPS (checking the hub against the CA, curl held
    to HTTPS): always, but on a loopback demo hub (not behind the TLS front) whose page was
    asked for on loopback, where the one-time code never leaves the machine."""
    if config.web.behind_tls_proxy or request.is_secure:
        return True
    return not is_loopback(urlsplit("//" + request.host).hostname or "")


@bp.get("/ca.crt")
def ca_cert():
    """The building's CA certificate (public), for the Pi's ``curl --cacert``."""
    resp = Response(bridge().ca_pem(), mimetype="application/x-pem-file")
    resp.headers["Content-Disposition"] = "attachment; filename=ca.crt"
    return resp


@bp.route(NODE + "/revoke", methods=["GET", "POST"])
def revoke(building: str, room: str, name: str):
    node_id = _node_id(building, room, name)
    if request.method == "GET":
        return render_template("tech_revoke.html", node_id=node_id,
                               device=bridge().device(node_id))
    if request.form.get("confirm") != node_id:
        flash(_("Type the node's name to confirm."), "error")
        return redirect(url_for("technician.revoke", building=building, room=room, name=name))
    done = bridge().revoke(node_id)          # every step tried; safe to repeat
    if done.problems:
        why = "; ".join(done.problems)
        flash(_("The node is revoked in the registry, but: %(why)s", why=why), "error")
        audit("node.revoke", node_id, building, room, incomplete=why, already=done.already)
        return redirect(url_for("technician.nodes"))
    audit("node.revoke", node_id, building, room, already=done.already,
          retried=list(done.retried))
    flash(_("Node %(node)s revoked: it is cut off the broker.", node=node_id), "ok")
    return redirect(url_for("technician.nodes"))


@bp.post(NODE + "/snapshot")
def snapshot(building: str, room: str, name: str):
    node_id = _node_id(building, room, name)
    try:
        sent = bridge().send(node_id, contract.Action.SNAPSHOT)
    except KuzetError as exc:
        return jsonify({"error": str(exc)}), 409
    audit("node.snapshot", node_id, building, room, command=sent.command_id)
    return jsonify({"command": sent.command_id,
                    "status_url": url_for("technician.command", command_id=sent.command_id)})


def _snapshot_row(command_id: str):
    return alerts.command_snapshot(db(), command_id)


@bp.get("/commands/<command_id>.json")
def command(command_id: str):
    """A command's outcome: the node's reply, and a snapshot's image once it is stored."""
    sent = bridge().sent(command_id)
    if sent is None:
        abort(404)
    out: dict[str, Any] = {"action": sent.action, "ok": sent.ok, "detail": sent.detail}
    if sent.action == contract.Action.SNAPSHOT.value and _snapshot_row(command_id):
        out["image"] = url_for("technician.snapshot_image", command_id=command_id)
    return jsonify(out)


@bp.get("/commands/<command_id>/snapshot.jpg")
def snapshot_image(command_id: str):
    sent = bridge().sent(command_id)
    row = _snapshot_row(command_id) if sent is not None else None
    if row is None:
        abort(404)
    path = current_app.extensions["kuzet"].evidence.resolve(row["file"])
    b, r, _n = sent.node_id.split("/")
    audit("node.snapshot.view", sent.node_id, b, r, evidence=row["evidence_id"])
    resp: Response = send_file(path, mimetype="image/jpeg")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get(NODE + "/seatmap")
def seatmap_editor(building: str, room: str, name: str):
    node_id = _node_id(building, room, name)
    stored = rooms.room(db(), building, room)
    spec = stored["seatmap"] if stored else None
    last = bridge().room_snapshot(building, room)
    page = {
        "node": node_id,
        "frame_size": spec["frame_size"] if spec else None,
        "seats": [{"id": s["id"], "polygon": s["polygon"]} for s in spec["seats"]]
        if spec else [],                         # never the students' names
        "snapshot_url": url_for("technician.snapshot", building=building, room=room,
                                name=name),
        "save_url": url_for("technician.save_seatmap", building=building, room=room,
                            name=name),
        "last_snapshot": url_for("technician.snapshot_image", command_id=last)
        if last and _snapshot_row(last) else None,
        "labels": {"waiting": _("Waiting for the camera…"), "saved": _("Saved; the node "
                   "loaded the map."), "sent": _("Saved; sent to the node."),
                   "failed": _("Failed:"), "seat_id": _("Seat id"),
                   "no_image": _("Take a snapshot first.")},
    }
    return render_template("tech_seatmap.html", node_id=node_id, page=page)


@bp.post(NODE + "/seatmap")
def save_seatmap(building: str, room: str, name: str):
    """Store the room's map (students kept by seat id) and push it to the node."""
    node_id = _node_id(building, room, name)
    try:
        sent_map = json_object(request.get_data(cache=False), "seatmap")
        spec = SeatMapSpec.model_validate({**sent_map, "room": room})
    except (ValueError, ValidationError) as exc:
        return jsonify({"error": str(exc)[:500]}), 400
    stored = rooms.room(db(), building, room)
    students = {s["id"]: s.get("student") for s in
                ((stored or {}).get("seatmap") or {}).get("seats", [])}
    public = spec.model_dump(mode="json", exclude_none=True)
    public["seats"] = [{"id": s["id"], "polygon": s["polygon"]} for s in public["seats"]]
    full = {**public, "seats": [{**s, **({"student": students[s["id"]]}
                                         if students.get(s["id"]) else {})}
                                for s in public["seats"]]}
    writer().call(rooms.load_seatmap, building, room, full,
                  (stored or {}).get("title", ""))
    audit("room.seatmap", f"{building}/{room}", building, room, node=node_id,
          seats=len(spec.seats))
    try:
        sent = bridge().send(node_id, contract.Action.RELOAD_SEATMAP, seatmap=public)
    except KuzetError as exc:
        return jsonify({"saved": True, "error": str(exc)}), 409
    return jsonify({"saved": True, "command": sent.command_id,
                    "status_url": url_for("technician.command", command_id=sent.command_id)})
