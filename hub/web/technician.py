"""The technician's page: every node's health, and the messages the hub rejected. No student
data: no alerts, no seats' students, no evidence."""

from __future__ import annotations

from flask import Blueprint, render_template

from hub.store import queries
from hub.web.security import db, require_role

bp = Blueprint("technician", __name__, url_prefix="/tech")
bp.before_request(require_role("technician"))


@bp.get("/")
def nodes():
    return render_template("tech_nodes.html", nodes=queries.room_nodes(db()),
                           rejected=queries.rejected(db()), counters=queries.counters(db()))
