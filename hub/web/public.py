"""The students' page, no login (a QR code on the door leads to it): what is monitored in
this room, why, how long it is kept and who sees it; Kazakh, Russian and English."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import force_locale

from hub.store import rooms
from hub.web import labels
from hub.web.security import db
from kuzet.contract import NAME_RE

bp = Blueprint("public", __name__, url_prefix="/public")


def _check(building: str, room: str) -> None:
    if not (NAME_RE.match(building) and NAME_RE.match(room)):
        abort(404)
    if rooms.room(db(), building, room) is None:
        abort(404)


@bp.get("/<building>/<room>")
def room_info(building: str, room: str):
    _check(building, room)
    cfg = current_app.config["KUZET_CONFIG"]
    lang = request.args.get("lang", "")
    if lang not in labels.LANGUAGES:
        lang = cfg.hub.default_language
    with force_locale(lang):
        return render_template("public.html", building=building, room=room, lang=lang,
                               days=int(cfg.retention.evidence_days), rules=labels.RULES,
                               languages=labels.LANGUAGES)


@bp.get("/<building>/<room>/qr.svg")
def qr(building: str, room: str):
    """A QR code of the room's public page, to print for the door."""
    import segno

    _check(building, room)
    url = url_for("public.room_info", building=building, room=room, _external=True)
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=8, border=2)
    return Response(out.getvalue(), mimetype="image/svg+xml")
