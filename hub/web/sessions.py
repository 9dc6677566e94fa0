"""Exam sessions: importing the timetable and rosters (admin), the session page where a
proctor starts and ends the exam (a command to the room's node) and seats students, and the
list of sessions (admins, proctors, deans)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from hub import photos as photo_files
from hub.evidence import EvidenceFolder, EvidencePathError
from hub.roster import (
    ROSTER_COLUMNS,
    TIMETABLE_COLUMNS,
    ImportRefused,
    parse_roster,
    parse_timetable,
)
from hub.store import face_matches, rooms
from hub.store import photos as photo_store
from hub.store import sessions as store
from hub.web import node_commands
from hub.web.security import audit, db, dean_buildings, my_sessions, require_role, writer
from kuzet.contract import NAME_RE

bp = Blueprint("exams", __name__, url_prefix="/exams")
bp.before_request(require_role("admin", "proctor", "dean"))


def _only(*roles: str) -> None:
    if g.user.role not in roles:
        abort(403)


def _session_or_404(session_id: int) -> dict:
    s = store.get(db(), session_id)
    if s is None:
        abort(404)
    if g.user.role == "proctor" and g.user.id not in s["proctor_ids"]:
        abort(404)
    if g.user.role == "dean" and s["building"] not in dean_buildings(g.user):
        abort(404)
    return s


@bp.get("/")
def listing():
    mine = g.user.id if g.user.role == "proctor" else None
    listed = store.listing(db(), mine)
    if g.user.role == "dean":
        listed = [s for s in listed if s["building"] in dean_buildings(g.user)]
    return render_template("exams.html", sessions=listed,
                           timetable_columns=TIMETABLE_COLUMNS, roster_columns=ROSTER_COLUMNS)


@bp.post("/import")
def import_csv():
    """Roster and/or timetable from uploaded CSV files, and/or a zip of roster photos (named
    by student number, or in the roster's ``photo`` column; ``hub.photos``); all or nothing,
    errors by line or by file name."""
    _only("admin")
    config = current_app.config["KUZET_CONFIG"]
    texts = {}
    for name in ("roster", "timetable"):
        upload = request.files.get(name)
        if upload and upload.filename:
            try:
                texts[name] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                flash(_("%(file)s is not UTF-8 text.", file=name), "error")
                return redirect(url_for("exams.listing"))
    upload = request.files.get("photos")
    zipped = upload.read() if upload and upload.filename else None
    if not texts and zipped is None:
        flash(_("Choose a CSV file."), "error")
        return redirect(url_for("exams.listing"))
    photos: list = []
    try:
        students = parse_roster(texts["roster"]) if "roster" in texts else None
        exams = parse_timetable(texts["timetable"], config.hub.timezone) \
            if "timetable" in texts else None
        photos = _checked_photos(zipped, students)
        photo_files.store_all(
            EvidenceFolder(config.hub.photos_path), photos,
            lambda rows: writer().call(_import_all, students, exams, rows, g.user.id))
    except ImportRefused as exc:
        for e in exc.errors[:30]:
            flash(_("Line %(line)s, %(field)s: %(why)s", line=e.line, field=e.field,
                    why=e.message), "error")
        flash(_("Nothing was imported."), "error")
        return redirect(url_for("exams.listing"))
    except photo_files.PhotosRefused as exc:
        for e in exc.errors[:30]:
            flash(_("Photo %(file)s: %(why)s", file=e.name, why=e.message), "error")
        flash(_("Nothing was imported."), "error")
        return redirect(url_for("exams.listing"))
    audit("exams.import", ",".join(sorted(texts) + (["photos"] if zipped else [])),
          students=len(students or []), sessions=len(exams or []), photos=len(photos))
    flash(_("Imported: %(students)s students, %(sessions)s exam sessions.",
            students=len(students or []), sessions=len(exams or [])), "ok")
    if zipped is not None:
        flash(_("Roster photos imported: %(photos)s.", photos=len(photos)), "ok")
    return redirect(url_for("exams.listing"))


def _checked_photos(zipped: bytes | None, students) -> list:
    """The zip's photos checked (each: format, size, exactly one face) for the students
    already known and those of the roster uploaded with it."""
    by_column = {s.student_no: s.photo for s in students or [] if s.photo}
    if zipped is None:
        if by_column:
            raise photo_files.PhotosRefused([photo_files.PhotoError(
                "roster", f"its {photo_files.PHOTO_COLUMN!r} column names photos: upload "
                          "their zip with it")])
        return []
    known = photo_store.known_students(db()) | {s.student_no for s in students or []}
    return photo_files.prepare(photo_files.read_zip(zipped), known, by_column)


def _import_all(conn, students, exams, photos, user_id) -> list[str]:
    """One transaction: the roster first (the timetable's rosters and the photos need it).
    Returns the photo files no row names any more (replaced photos)."""
    if students is not None:
        store.import_roster(conn, students)
    if exams is not None:
        store.import_timetable(conn, exams, user_id)
    return photo_store.replace(conn, photos, user_id) if photos else []


@bp.get("/<int:session_id>")
def session_page(session_id: int):
    s = _session_or_404(session_id)
    room = rooms.room(db(), s["building"], s["room"])
    seats = [x["id"] for x in (room or {}).get("seatmap", {}).get("seats", [])] \
        if room and room.get("seatmap") else []
    return render_template("exam.html", s=s, roster=store.roster(db(), session_id),
                           seats=seats, can_run=g.user.role == "proctor",
                           can_stop=g.user.role == "admin" and s["started_at"]
                           and not s["stopped_at"])


@bp.post("/<int:session_id>/<any(start, stop):action>")
def run(session_id: int, action: str):
    """Start the exam (the node learns the allowed aids and the roster size) or end it
    (the node closes its alerts and raises no more). Only the session's own proctors start
    it, during its time; they (or an admin) end it, and only while it is the one running
    in its room: the stop names the session, and the node stops nothing else."""
    may_run = ("proctor",) if action == "start" else ("proctor", "admin")
    _only(*may_run)
    s = _session_or_404(session_id)
    now = datetime.now(UTC).isoformat()
    if action == "start" and not (s["starts_at"] <= now[:19] + "Z" < s["ends_at"]):
        flash(_("The exam can be started only during its time."), "error")
        return redirect(url_for("exams.session_page", session_id=session_id))
    try:
        commands = writer().call(store.set_running, session_id, True) if action == "start" \
            else writer().call(store.stop_running, session_id)
    except store.SessionRefused:
        audit("session.stop", str(session_id), s["building"], s["room"], refused="not running")
        flash(_("This exam is not the one running in the room: nothing was stopped."), "error")
        return redirect(url_for("exams.session_page", session_id=session_id))
    sent = node_commands.publish(commands)
    audit(f"session.{action}", str(session_id), s["building"], s["room"],
          nodes=len(commands), sent=sent)
    if not commands:
        flash(_("No camera node is known in this room: nothing was sent."), "error")
    elif sent < len(commands):
        flash(_("The broker is not reachable now: the command was recorded, not sent."),
              "error")
    else:
        flash(_("Exam started.") if action == "start" else _("Exam ended."), "ok")
    return redirect(url_for("exams.session_page", session_id=session_id))


@bp.post("/<int:session_id>/seat")
def seat(session_id: int):
    """The proctor taps a seat for a student (free seating), or clears it."""
    _only("proctor")
    s = _session_or_404(session_id)
    seat_id = request.form.get("seat", "").strip()
    if seat_id and not NAME_RE.match(seat_id):
        abort(400)
    try:
        writer().call(store.seat_student, session_id, request.form.get("student_no", ""),
                      seat_id or None, g.user.id)
    except ValueError:
        abort(400)
    audit("session.seat", str(session_id), s["building"], s["room"], seat=seat_id)
    return redirect(url_for("exams.session_page", session_id=session_id))


@bp.get("/<int:session_id>/students/<student_no>/photo")
def student_photo(session_id: int, student_no: str):
    """A student's roster photo (the check-in view shows it beside the seat's picture): only
    to a proctor of a session running now with the student on its roster; every view is
    audited (who, which student, when); never cached (``Cache-Control: no-store``)."""
    _only("proctor")
    if session_id not in (my_sessions(g.user) or set()):
        abort(404)
    s = _session_or_404(session_id)
    row = photo_store.photo_in_session(db(), session_id, student_no)
    if row is None:
        abort(404)
    try:
        data = EvidenceFolder(current_app.config["KUZET_CONFIG"].hub.photos_path).resolve(
            row["file"]).read_bytes()
    except (EvidencePathError, FileNotFoundError):
        abort(404)
    audit("photo.view", student_no, s["building"], s["room"], session=session_id,
          sha256=row["sha256"])
    return Response(data, mimetype="image/jpeg",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@bp.post("/<int:session_id>/face-match")
def face_match(session_id: int):
    """Opt the exam in or out of the automatic face match (advice at check-in, and the
    node's changed-face check): an admin or the session's proctor, before the start."""
    _only("admin", "proctor")
    s = _session_or_404(session_id)
    on = request.form.get("face_match", "") == "on"
    try:
        writer().call(face_matches.set_flag, session_id, on)
    except face_matches.FlagRefused:
        flash(_("The automatic face match is set before the exam starts."), "error")
        return redirect(url_for("exams.session_page", session_id=session_id))
    audit("session.face_match", str(session_id), s["building"], s["room"], on=on)
    flash(_("Automatic face match on: advice only, the proctor decides.") if on
          else _("Automatic face match off."), "ok")
    return redirect(url_for("exams.session_page", session_id=session_id))
