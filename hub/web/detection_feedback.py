"""What the proctors' dismissals say about the detector, for the technician and the admin:
counts per rule overall and per room, rule and reason (``hub.store.dismissals``); the same
as JSON for the detection work (and ``kuzet hub dismissals --json``). Counts only: no alert,
no student, no evidence."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from hub.store.alerts import DISMISS_REASONS
from hub.store.dismissals import dismissal_counts
from hub.web.security import audit, db, require_role

bp = Blueprint("detection", __name__, url_prefix="/detection")
bp.before_request(require_role("technician", "admin"))


@bp.get("/dismissals")
def dismissals():
    counts = dismissal_counts(db())
    audit("detection.dismissals", "json" if request.args.get("format") == "json" else "page")
    if request.args.get("format") == "json":
        return jsonify(counts.as_json())
    return render_template("detection_dismissals.html", counts=counts, reasons=DISMISS_REASONS)
