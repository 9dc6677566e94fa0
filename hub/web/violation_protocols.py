"""Appendix A protocols: view and edit a draft, print it (A4 PDF), issue it (the PDF is
frozen and stored with its sha256), upload the scanned signed copy, schedule the retake; the
list of students sent to retake per discipline, and its CSV for the registrar."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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
    send_file,
    url_for,
)
from flask_babel import gettext as _

from hub import evidence_bundle, protocol_evidence
from hub.store import alerts as store_alerts
from hub.store import check_ins
from hub.store import violation_protocols as store
from hub.violation_protocol import LANGS, CheckInLine, ProtocolDoc, lines, render_pdf
from hub.web.security import audit, db, require_role, writer
from kuzet import bundle as bundle_format

bp = Blueprint("protocols", __name__, url_prefix="/protocols")
bp.before_request(require_role("proctor", "dean"))

SIGNED_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
MAGIC = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff",
         "image/png": b"\x89PNG\r\n\x1a\n"}


def _folder() -> Path:
    folder = current_app.config["KUZET_CONFIG"].hub.data_dir / "protocols"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _protocol_or_404(protocol_id: int, may=store.may_see) -> dict:
    """The protocol if ``g.user`` may see it (else 404) and do what ``may`` says (else 403):
    the role model in docs/security.md, "Roles"."""
    p = store.get(db(), protocol_id)
    if p is None or not store.may_see(db(), p, g.user):
        abort(404)
    if not may(db(), p, g.user):
        abort(403)
    return p


def document(p: dict) -> ProtocolDoc:
    """The printable protocol, with its evidence and the node's signatures on it; its times
    in the hub's zone, named."""
    attachments = protocol_evidence.attachments(db(), p["alert_id"],
                                                store.evidence(db(), p["alert_id"]),
                                                current_app.extensions["kuzet"].evidence)
    return ProtocolDoc(p["id"], p["lang"], p["group_name"], p["student"], p["discipline"],
                       p["attestation_date"], p["violation"], p["proctor_note"],
                       p["examiner"], p["head_of_department"], p["seat"], attachments,
                       protocol_evidence.chain_missing(db(), p["alert_id"]),
                       current_app.config["KUZET_CONFIG"].hub.timezone, _check_in(p))


def _check_in(p: dict) -> CheckInLine | None:
    """The student's latest check-in in the protocol's exam (``hub.store.check_ins``)."""
    row = check_ins.for_student(db(), p["session_id"], p["student_no"])
    if row is None:
        return None
    return CheckInLine(row["result"], row["seat"] or "", row["by_name"] or "", row["at"],
                       row["moved_to"] or "")


@bp.get("/")
def listing():
    return render_template("protocols.html", protocols=store.listing(db(), g.user))


@bp.get("/<int:protocol_id>")
def page(protocol_id: int):
    p = _protocol_or_404(protocol_id)
    can = {rule: getattr(store, f"may_{rule}")(db(), p, g.user)
           for rule in ("prepare", "record_signed", "schedule_retake")}
    return render_template("protocol.html", p=p, preview=lines(document(p)), langs=LANGS,
                           evidence=store.evidence(db(), p["alert_id"]), can=can)


@bp.post("/<int:protocol_id>")
def save(protocol_id: int):
    p = _protocol_or_404(protocol_id, store.may_prepare)
    try:
        writer().call(store.update, protocol_id, request.form.to_dict())
    except ValueError as exc:
        flash(_("Not saved: %(why)s", why=_(str(exc))), "error")   # a store message id
        return redirect(url_for("protocols.page", protocol_id=protocol_id))
    audit("protocol.edit", str(protocol_id), p["building"], p["room"])
    flash(_("Saved."), "ok")
    return redirect(url_for("protocols.page", protocol_id=protocol_id))


@bp.get("/<int:protocol_id>.pdf")
def pdf(protocol_id: int):
    """An issued protocol's stored PDF; a draft's is rendered now (a preview)."""
    p = _protocol_or_404(protocol_id)
    audit("protocol.pdf", str(protocol_id), p["building"], p["room"])
    if p["pdf_file"]:
        return send_file(_folder() / p["pdf_file"], mimetype="application/pdf",
                         download_name=f"protocol-{protocol_id}.pdf")
    return Response(render_pdf(document(p)), mimetype="application/pdf",
                    headers={"Content-Disposition":
                             f'inline; filename="protocol-{protocol_id}-draft.pdf"'})


@bp.get("/<int:protocol_id>/bundle.zip")
def bundle(protocol_id: int):
    """The evidence bundle: the protocol's PDF, its evidence files and the node's signed
    records, for ``kuzet verify`` (offline, against the building's CA)."""
    p = _protocol_or_404(protocol_id)
    audit("protocol.bundle", str(protocol_id), p["building"], p["room"])
    alert = store_alerts.alert_row(db(), p["alert_id"])
    if alert is None:
        abort(404)
    pdf = (_folder() / p["pdf_file"]).read_bytes() if p["pdf_file"] else render_pdf(document(p))
    pki = current_app.config["KUZET_CONFIG"].provisioning
    data = evidence_bundle.build(db(), p["alert_id"], alert, store.evidence(db(), p["alert_id"]),
                                 current_app.extensions["kuzet"].evidence, pdf,
                                 pki.pki_dir / bundle_format.CRL if pki.enabled else None)
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition":
                             f'attachment; filename="protocol-{protocol_id}-evidence.zip"',
                             "Cache-Control": "no-store"})


def _store_file(name: str, data: bytes) -> str:
    path = _folder() / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return hashlib.sha256(data).hexdigest()


@bp.post("/<int:protocol_id>/issue")
def issue(protocol_id: int):
    p = _protocol_or_404(protocol_id, store.may_prepare)
    if p["status"] != "draft":
        abort(409)
    name = f"{protocol_id}-issued-{p['updated_at'].replace(':', '')}.pdf"
    try:
        sha = _store_file(name, render_pdf(document(p)))
    except FileExistsError:
        abort(409)
    try:
        writer().call(store.issue, protocol_id, name, sha, p["updated_at"])
    except store.ProtocolRefused as exc:
        (_folder() / name).unlink(missing_ok=True)
        flash(_(str(exc)), "error")        # a store message id (N_)
        return redirect(url_for("protocols.page", protocol_id=protocol_id))
    audit("protocol.issue", str(protocol_id), p["building"], p["room"], sha256=sha)
    flash(_("Issued: print it and have it signed."), "ok")
    return redirect(url_for("protocols.page", protocol_id=protocol_id))


@bp.post("/<int:protocol_id>/signed")
def signed(protocol_id: int):
    p = _protocol_or_404(protocol_id, store.may_record_signed)
    upload = request.files.get("scan")
    if upload is None or upload.mimetype not in SIGNED_TYPES:
        flash(_("Upload the signed copy as PDF, JPEG or PNG."), "error")
        return redirect(url_for("protocols.page", protocol_id=protocol_id))
    data = upload.read()
    if not data.startswith(MAGIC[upload.mimetype]):      # empty, truncated or not that type
        flash(_("The file is empty or not a PDF, JPEG or PNG."), "error")
        return redirect(url_for("protocols.page", protocol_id=protocol_id))
    name = f"{protocol_id}-signed-{hashlib.sha256(data).hexdigest()[:16]}" \
           f"{SIGNED_TYPES[upload.mimetype]}"
    try:
        sha = _store_file(name, data)
    except FileExistsError:
        flash(_("Already uploaded."), "error")
        return redirect(url_for("protocols.page", protocol_id=protocol_id))
    try:
        writer().call(store.sign, protocol_id, name, sha)
    except store.ProtocolRefused as exc:
        (_folder() / name).unlink(missing_ok=True)       # no file without its record
        flash(_(str(exc)), "error")        # a store message id (N_)
        return redirect(url_for("protocols.page", protocol_id=protocol_id))
    audit("protocol.signed", str(protocol_id), p["building"], p["room"], sha256=sha)
    return redirect(url_for("protocols.page", protocol_id=protocol_id))


@bp.get("/<int:protocol_id>/signed")
def signed_copy(protocol_id: int):
    p = _protocol_or_404(protocol_id)
    if not p["signed_file"]:
        abort(404)
    audit("protocol.signed_view", str(protocol_id), p["building"], p["room"])
    return send_file(_folder() / p["signed_file"])


@bp.post("/<int:protocol_id>/retake")
def retake(protocol_id: int):
    p = _protocol_or_404(protocol_id, store.may_schedule_retake)
    try:
        writer().call(store.schedule_retake, protocol_id, request.form.get("retake_on", ""))
    except ValueError as exc:
        flash(_(str(exc)), "error")        # a store message id (N_)
        return redirect(url_for("protocols.page", protocol_id=protocol_id))
    audit("protocol.retake", str(protocol_id), p["building"], p["room"])
    return redirect(url_for("protocols.page", protocol_id=protocol_id))


@bp.get("/retakes")
def retakes():
    discipline = request.args.get("discipline") or None
    rows = store.retakes(db(), discipline)
    visible = [r for r in rows if store.may_see(db(), dict(r), g.user)]
    if request.args.get("format") == "csv":
        if g.user.role != "dean":
            abort(403)
        audit("protocol.retakes_csv", discipline or "")
        tz = current_app.config["KUZET_CONFIG"].hub.timezone
        return Response(store.retakes_csv(visible, tz), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="retakes.csv"'})
    by = {}
    for r in visible:
        by.setdefault(r["discipline"], []).append(r)
    return render_template("retakes.html", by_discipline=by, discipline=discipline)
