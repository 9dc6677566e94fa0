"""Evidence on a shared tablet: no browser keeps a copy of an evidence image, a clip frame or
a protocol PDF (``Cache-Control: no-store``), and every look at evidence is in the audit log
with who, which evidence and when."""

from __future__ import annotations

from io import BytesIO

import pytest

from hub.store import violation_protocols as store
from hub.store.alerts import apply_alert, apply_evidence
from hub.store.db import connect
from kuzet import contract
from kuzet_tools.bench.sim import alert_for, evidence_for
from tests.support.footage import mjpeg_avi
from tests.support.hub_env import login

JPEG = b"\xff\xd8\xff\xe0jpeg\xff\xd9"


@pytest.fixture
def alert_with_clip(services, seeded):
    o = contract.Origin(building="main", room="a101", node="cam1")
    aid = contract.new_id()
    snap = evidence_for(o, aid, JPEG)
    clip_bytes = mjpeg_avi([JPEG, JPEG + b"2"])
    clip = evidence_for(o, aid, clip_bytes, kind="clip", content_type="video/x-msvideo")
    stored = {e.evidence_id: services.evidence.create(e.evidence_id, e.content_type, data)[0]
              for e, data in ((snap, JPEG), (clip, clip_bytes))}

    def write(c):
        apply_alert(c, alert_for(o, "r1s1", alert_id=aid, evidence=[snap, clip]), 1.0)
        for e in (snap, clip):
            apply_evidence(c, e, stored[e.evidence_id], 1.0)

    services.writer.call(write)
    return aid, snap.evidence_id, clip.evidence_id


def audit_rows(services) -> list[tuple]:
    conn = connect(services.db_path, readonly=True)
    rows = conn.execute("SELECT username, action, target, at FROM audit ORDER BY id").fetchall()
    conn.close()
    return [tuple(r) for r in rows]


def test_no_evidence_response_may_be_kept_by_the_browser(client, services, alert_with_clip):
    aid, snap, clip = alert_with_clip
    token = login(client, "aigerim")
    assert client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token}
                       ).status_code == 302
    conn = connect(services.db_path, readonly=True)
    pid = store.for_alert(conn, aid)["id"]
    draft_pdf = f"/protocols/{pid}.pdf"
    with client.get(draft_pdf) as r:
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    client.post(f"/protocols/{pid}/issue", data={"csrf_token": token})
    client.post(f"/protocols/{pid}/signed", data={"csrf_token": token, "scan": (
        BytesIO(b"%PDF-1.4 signed"), "scan.pdf", "application/pdf")})
    assert store.get(conn, pid)["status"] == "signed"
    conn.close()
    for url in (f"/evidence/alert/{aid}", f"/evidence/file/{snap}",
                f"/evidence/file/{snap}?download=1", f"/evidence/file/{clip}",
                f"/evidence/clip/{clip}/frames.json", f"/evidence/clip/{clip}/0.jpg",
                f"/evidence/clip/{clip}/1.jpg", f"/protocols/{pid}", f"/protocols/{pid}.pdf",
                f"/protocols/{pid}/signed"):
        with client.get(url) as r:
            assert r.status_code == 200, url
            assert r.headers["Cache-Control"] == "no-store", url


def test_every_look_at_evidence_is_audited(client, services, alert_with_clip):
    aid, snap, clip = alert_with_clip
    login(client, "aigerim")
    before = len(audit_rows(services))
    client.get(f"/evidence/file/{snap}").close()
    client.get(f"/evidence/clip/{clip}/1.jpg").close()     # a frame, without frames.json
    login(client, "dean")
    client.get(f"/evidence/clip/{clip}/0.jpg").close()
    got = audit_rows(services)[before:]
    looks = [(user, action, target) for user, action, target, _at in got
             if action.startswith("evidence.")]
    assert ("aigerim", "evidence.file", snap) in looks
    assert ("aigerim", "evidence.clip_frame", clip) in looks
    assert ("dean", "evidence.clip_frame", clip) in looks
    assert all(at for *_rest, at in got)


def test_a_played_clip_is_one_audit_entry_not_one_per_frame(client, services, alert_with_clip):
    _aid, _snap, clip = alert_with_clip
    login(client, "aigerim")
    for _ in range(3):
        for n in (0, 1):
            client.get(f"/evidence/clip/{clip}/{n}.jpg").close()
    frames = [r for r in audit_rows(services) if r[1] == "evidence.clip_frame"]
    assert len(frames) == 1
