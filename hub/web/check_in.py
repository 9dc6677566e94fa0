"""The proctor's check-in view at the start of an exam: seat by seat (the seat map's order) the
roster photo (when the student has one) beside a fresh crop of the seat asked from the room's
node, the four results (identified, absent, someone else, moved to seat…), and the headcount
(seen seated by the node against checked in). Only a proctor of the session, during its time;
every view (``checkin.view``) and every result (``checkin.result``) is audited."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from hub.store import check_ins, face_matches, photos, rooms
from hub.store import sessions as store
from hub.web.camera_requests import ask_camera, private_jpeg
from hub.web.security import audit, db, my_sessions, require_role, writer
from kuzet import contract

bp = Blueprint("checkin", __name__, url_prefix="/exams")
bp.before_request(require_role("proctor"))

CROP_EVERY_S = 3.0          # a fresh crop per seat at most this often


def _session_or_404(session_id: int) -> dict:
    """The proctor's own session, during its time (as the roster photos are shown)."""
    if session_id not in (my_sessions(g.user) or set()):
        abort(404)
    s = store.get(db(), session_id)
    if s is None or g.user.id not in s["proctor_ids"]:
        abort(404)
    return s


def _seat_ids(s: dict) -> list[str]:
    room = rooms.room(db(), s["building"], s["room"]) or {}
    return [x["id"] for x in (room.get("seatmap") or {}).get("seats", [])]


def cards(s: dict) -> tuple[list[dict], list[dict], list[str]]:
    """The seated students in seat-map order (each with its photo, newest crop and latest
    result), the roster's unseated students, and the seat map's seat ids."""
    conn = db()
    seat_ids = _seat_ids(s)
    order = {seat: i for i, seat in enumerate(seat_ids)}
    with_photo = photos.with_photo(conn, s["id"])
    crops = check_ins.latest_crops(conn, s["id"])
    results = check_ins.latest(conn, s["id"])
    seated, unseated = [], []
    for st in store.roster(conn, s["id"]):
        no = st["student_no"]
        crop = crops.get(st["seat"]) if st["seat"] else None
        card = {"student_no": no, "name": st["name"], "group": st["group_name"],
                "seat": st["seat"], "result": results.get(no),
                "photo": url_for("exams.student_photo", session_id=s["id"], student_no=no)
                if no in with_photo else None,
                "crop": _crop_view(s["id"], crop) if crop is not None else None,
                # the automatic face match's advice on that crop (hub.face_match, H5's
                # _face_match.html shows it; None: none made)
                "face_match": face_matches.for_evidence(conn, crop["evidence_id"])
                if crop is not None else None}
        (seated if st["seat"] else unseated).append(card)
    seated.sort(key=lambda c: (order.get(c["seat"], len(order)), c["seat"]))
    unseated.sort(key=lambda c: c["name"])
    return seated, unseated, seat_ids


def _crop_view(session_id: int, row) -> dict:
    return {"command": row["command_id"], "evidence_id": row["evidence_id"],
            "captured_at": row["trusted_captured_at"],
            "seat_taken": None if row["seat_taken"] is None else bool(row["seat_taken"]),
            "image": url_for("checkin.crop_image", session_id=session_id,
                             command_id=row["command_id"])}


@bp.get("/<int:session_id>/check-in")
def view(session_id: int):
    s = _session_or_404(session_id)
    seated, unseated, seat_ids = cards(s)
    audit("checkin.view", str(session_id), s["building"], s["room"], seats=len(seated))
    return render_template("check_in.html", s=s, seated=seated, unseated=unseated,
                           seat_ids=seat_ids, results=check_ins.RESULTS,
                           count=check_ins.headcount(db(), session_id))


@bp.get("/<int:session_id>/check-in/headcount.json")
def headcount(session_id: int):
    _session_or_404(session_id)
    return jsonify(check_ins.headcount(db(), session_id))


@bp.post("/<int:session_id>/check-in/<seat>/crop")
def ask_crop(session_id: int, seat: str):
    """Ask the room's node for a fresh crop of ``seat`` (a ``check_in`` command)."""
    s = _session_or_404(session_id)
    if seat not in _seat_ids(s):
        abort(404)
    user_id = g.user.id                # the queue runs in the writer's thread
    return ask_camera(
        kind="check_in_crop", key=(session_id, seat), every_s=CROP_EVERY_S,
        building=s["building"], room=s["room"], action="checkin.crop", target=seat,
        queue=lambda conn, origin: check_ins.ask(conn, origin, session_id, seat, user_id),
        status_url=lambda command_id: url_for("checkin.crop_status", session_id=session_id,
                                              command_id=command_id),
        back=url_for("checkin.view", session_id=s["id"]))


def _crop_or_404(session_id: int, command_id: str):
    return _session_and_crop(session_id, command_id)[1]


def _session_and_crop(session_id: int, command_id: str):
    s = _session_or_404(session_id)
    row = check_ins.crop(db(), command_id)
    if row is None or row["session_id"] != session_id:
        abort(404)
    return s, row


def _face_match_html(s: dict, evidence_id: str, match) -> str:
    """The card's advice line as the view renders it (the view replaces its own with it)."""
    crop = face_matches.check_in_crop(db(), evidence_id)
    card = {"crop": True, "photo": bool(crop and crop.photo_file), "face_match": match}
    return render_template("_face_match.html", s=s, card=card)


@bp.get("/<int:session_id>/check-in/crops/<command_id>.json")
def crop_status(session_id: int, command_id: str):
    """Whether the crop has come (the view polls this), with what the node saw seated."""
    s, row = _session_and_crop(session_id, command_id)
    ready = row["evidence_id"] is not None and row["file"] is not None
    match = face_matches.for_evidence(db(), row["evidence_id"]) if ready else None
    return jsonify({"command": command_id, "ready": ready, "seat": row["seat"],
                    **(_crop_view(session_id, row) if ready else {}),
                    "face_match": {"result": match["result"], "similarity": match["similarity"]}
                    if match is not None else None,
                    "face_match_wanted": bool(s["face_match"]),
                    "face_match_html": _face_match_html(s, row["evidence_id"], match)
                    if ready else "",
                    "headcount": check_ins.headcount(db(), session_id)})


@bp.get("/<int:session_id>/check-in/crops/<command_id>.jpg")
def crop_image(session_id: int, command_id: str):
    row = _crop_or_404(session_id, command_id)
    if row["file"] is None:
        abort(404)
    audit("checkin.crop.view", command_id, row["building"], row["room"], seat=row["seat"],
          evidence=row["evidence_id"])
    return private_jpeg(row["file"])


@bp.post("/<int:session_id>/check-in/result")
def result(session_id: int):
    """The proctor's result for one student: identified, absent, someone else, or moved to a
    seat of the map (the student is seated there)."""
    s = _session_or_404(session_id)
    fetch = request.headers.get("X-Requested-With") == "fetch"
    student_no = request.form.get("student_no", "").strip()
    outcome = request.form.get("result", "")
    moved_to = request.form.get("moved_to", "").strip() or None
    command_id = request.form.get("command", "").strip() or None
    if outcome not in check_ins.RESULTS or (moved_to and not contract.NAME_RE.match(moved_to)) \
            or (command_id and not contract.MESSAGE_ID_RE.match(command_id)):
        abort(400)
    try:
        writer().call(check_ins.record, session_id, student_no, outcome, g.user.id,
                      moved_to=moved_to, command_id=command_id, seat_ids=_seat_ids(s))
    except check_ins.CheckInRefused as exc:
        audit("checkin.result", student_no, s["building"], s["room"], session=session_id,
              result=outcome, refused=str(exc))
        if fetch:
            return jsonify({"error": str(exc)}), 409
        flash(str(exc), "error")
        return redirect(url_for("checkin.view", session_id=session_id))
    audit("checkin.result", student_no, s["building"], s["room"], session=session_id,
          result=outcome, moved_to=moved_to, command=command_id)
    if fetch:
        return jsonify({"student_no": student_no, "result": outcome, "moved_to": moved_to,
                        "headcount": check_ins.headcount(db(), session_id)})
    return redirect(url_for("checkin.view", session_id=session_id) + f"#student-{student_no}")


@bp.app_template_global()
def check_in_record(session_id: int) -> dict:
    """For the session page (``_check_in_record.html``): the session's check-in results,
    oldest first, the headcount, and whether this proctor may open the check-in view now."""
    return {"records": check_ins.records(db(), session_id),
            "count": check_ins.headcount(db(), session_id),
            "can_check": g.user is not None and g.user.role == "proctor"
            and session_id in (my_sessions(g.user) or set())}
