"""The proctor's pages: the rooms of their current sessions, the live room view (the alerts of
their own sessions only), a seat's page (its incidents, a fresh picture of it), and the
one-tap actions on such an alert (acknowledge, dismiss with a reason, confirm, add a note)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_time
from flask_babel import gettext as _

from hub.store import alerts, seat_pictures, violation_protocols
from hub.store import presence as presence_store
from hub.web import node_commands, seat_view
from hub.web.camera_requests import ask_camera, private_jpeg
from hub.web.live import room_context
from hub.web.security import (
    alert_or_404,
    audit,
    clock,
    db,
    my_sessions,
    require_role,
    room_or_404,
    visible_rooms,
    writer,
)

bp = Blueprint("proctor", __name__, url_prefix="/proctor")
bp.before_request(require_role("proctor"))


@bp.get("/")
def rooms():
    mine = sorted(visible_rooms(g.user) or [])
    if len(mine) == 1:
        return redirect(url_for("proctor.room", building=mine[0][0], room=mine[0][1]))
    return render_template("proctor_rooms.html", rooms=mine)


@bp.get("/room/<building>/<room>")
def room(building: str, room: str):
    room_or_404(building, room)
    ctx = room_context(building, room)
    if ctx is None:
        abort(404)
    audit("room.view", f"{building}/{room}", building, room)
    return render_template("room.html", can_act=True, **ctx)


def _act(alert_id: str, action: str, fn, *args):
    row = alert_or_404(alert_id)          # an alert of one of my sessions running now
    error = None
    try:
        writer().call(fn, alert_id, g.user, *args)
    except alerts.ActionRefused as exc:
        error = str(exc)
    audit(f"alert.{action}", alert_id, row["building"], row["room"],
          **({"refused": error} if error else {}), **_detail(args))
    if request.headers.get("X-Requested-With") == "fetch":
        body = {"alert": alerts.alert_view(db(), alert_id)}
        if error:
            body["error"] = _("This alert has already been decided.")
        return jsonify(body), (409 if error else 200)
    return redirect(_after(row, alert_id, action, error))


def _after(row, alert_id: str, action: str, error: str | None) -> str:
    """Where the proctor lands: from the seat or evidence page (a ``back`` naming this
    alert's own page), back there, and after a confirm straight on its draft protocol;
    else the room."""
    back = seat_view.back_url(row, alert_id, request.form.get("back", ""))
    if back is None:
        return url_for("proctor.room", building=row["building"], room=row["room"])
    if action == "confirm" and error is None:
        p = violation_protocols.for_alert(db(), alert_id)
        if p is not None:
            return url_for("protocols.page", protocol_id=p["id"])
    return back


def _detail(args: tuple) -> dict:
    return {"args": [a for a in args if isinstance(a, str)]} if args else {}


@bp.post("/alerts/<alert_id>/acknowledge")
def acknowledge(alert_id: str):
    return _act(alert_id, "acknowledge", alerts.acknowledge)


@bp.post("/alerts/<alert_id>/dismiss")
def dismiss(alert_id: str):
    reason = request.form.get("reason", "")
    if reason not in alerts.DISMISS_REASONS:
        abort(400)
    return _act(alert_id, "dismiss", alerts.decide, "dismissed", reason)


@bp.post("/alerts/<alert_id>/confirm")
def confirm(alert_id: str):
    """Confirm the violation; its Appendix A protocol is opened as a draft (clause 4.7)."""
    tz = current_app.config["KUZET_CONFIG"].hub.timezone
    return _act(alert_id, "confirm", partial(violation_protocols.confirm_with_protocol,
                                                  timezone=tz))


@bp.post("/alerts/<alert_id>/note")
def note(alert_id: str):
    text = request.form.get("text", "").strip()
    if not text:
        abort(400)
    return _act(alert_id, "note", alerts.add_note, text[:2000])


@bp.post("/room/<building>/<room>/seat/<seat>/present")
def presence(building: str, room: str, seat: str):
    """"I am at this seat": the seat's outside-help rules are quiet on the node for
    ``web.presence_quiet_s`` (the proctor is the second person there). Only the proctor of the
    session running in the room, for a seat of its seat map; logged (``seat.presence``)."""
    room_or_404(building, room)
    if seat not in presence_store.seat_ids(db(), building, room):
        abort(404)
    quiet_s = current_app.config["KUZET_CONFIG"].web.presence_quiet_s
    now = datetime.fromtimestamp(clock(), UTC)
    fetch = request.headers.get("X-Requested-With") == "fetch"
    back = _seat_page(building, room, seat)
    try:
        until, commands = writer().call(presence_store.mark, building, room, seat, g.user.id,
                                        quiet_s, now)
    except presence_store.PresenceRefused as exc:
        audit("seat.presence", seat, building, room, seat=seat, refused=str(exc))
        message = _("Start the exam first: the camera node runs no exam of yours here.")
        if fetch:
            return jsonify({"seat": seat, "error": message}), 409
        flash(message, "error")
        return redirect(back)
    sent = node_commands.publish(commands)
    audit("seat.presence", seat, building, room, seat=seat, until=until, quiet_s=quiet_s,
          nodes=len(commands), sent=sent)
    if fetch:
        return jsonify({"seat": seat, "until": until, "nodes": len(commands), "sent": sent})
    if not commands or sent < len(commands):
        flash(_("The camera node did not get it now: alerts at this seat may still come."),
              "error")
    else:
        flash(_("You are marked at seat %(seat)s until %(time)s.", seat=seat,
                time=format_time(now + timedelta(seconds=quiet_s), "HH:mm")), "ok")
    return redirect(back)


@bp.app_template_global()
def presence_until(building: str, room: str, seat: str) -> str | None:
    """For ``_presence.html``: until when the room's running exam has a proctor marked at
    ``seat`` (UTC ISO), if one is now."""
    return presence_store.until(db(), building, room, seat, datetime.fromtimestamp(clock(), UTC))


def _seat_page(building: str, room: str, seat: str) -> str:
    """Back to the seat's page."""
    return url_for("proctor.seat", building=building, room=room, seat=seat)


@bp.get("/room/<building>/<room>/seat/<seat>")
def seat(building: str, room: str, seat: str):
    """One seat on one screen: its incidents still to decide with their actions, the latest
    picture of it (and a fresh one on request), its decided incidents of this exam."""
    room_or_404(building, room)
    ctx = seat_view.context(building, room, seat)
    audit("seat.view", seat, building, room)
    return render_template("seat.html", **ctx)


PICTURE_EVERY_S = 5.0         # a fresh picture per seat at most this often


@bp.post("/room/<building>/<room>/seat/<seat>/picture")
def picture(building: str, room: str, seat: str):
    """Ask the room's camera for a fresh snapshot (faces blurred by the node, as every
    snapshot); the seat page shows it cut to the seat once it arrives (``picture_status``)."""
    room_or_404(building, room)
    seat_view.seat_or_404(building, room, seat)
    session_id = seat_view.session_in(building, room)
    if session_id is None:
        abort(404)
    return ask_camera(
        kind="seat_picture", key=(building, room, seat), every_s=PICTURE_EVERY_S,
        building=building, room=room, action="seat.picture", target=seat,
        queue=lambda conn, origin: seat_pictures.ask(conn, origin, session_id),
        status_url=lambda command_id: url_for("proctor.picture_status", command_id=command_id),
        back=url_for("proctor.seat", building=building, room=room, seat=seat))


def _asked_or_404(command_id: str):
    """A fresh picture's command, if it was asked for one of my sessions running now."""
    row = seat_pictures.asked(db(), command_id)
    if row is None or row["session_id"] not in (my_sessions(g.user) or set()):
        abort(404)
    room_or_404(row["building"], row["room"])
    return row


@bp.get("/pictures/<command_id>.json")
def picture_status(command_id: str):
    """Whether the fresh picture has come back (the seat page polls this)."""
    _asked_or_404(command_id)
    shot = alerts.command_snapshot(db(), command_id)
    return jsonify({"command": command_id, "ready": shot is not None,
                    "image": url_for("proctor.picture_image", command_id=command_id)
                    if shot is not None else None,
                    "captured_at": shot["trusted_captured_at"] if shot is not None else None})


@bp.get("/pictures/<command_id>.jpg")
def picture_image(command_id: str):
    row = _asked_or_404(command_id)
    shot = alerts.command_snapshot(db(), command_id)
    if shot is None:
        abort(404)
    audit("seat.picture.view", command_id, row["building"], row["room"],
          evidence=shot["evidence_id"])
    return private_jpeg(shot["file"])
