"""Roles and rooms: no role reaches another role's pages, no proctor reaches another room or
its evidence by guessing a URL; CSRF on every form; cookie flags; evidence views audited."""

from __future__ import annotations

import pytest

from hub.store.alerts import apply_alert, apply_evidence
from hub.store.db import connect
from kuzet import contract
from kuzet_tools.bench.sim import alert_for, evidence_for
from tests.support.hub_env import PASSWORD, login

JPEG = b"\xff\xd8\xff\xe0jpeg\xff\xd9"


def put_alert(services, room: str) -> tuple[str, str]:
    """An alert with a snapshot in main/<room>, written as the ingest writer would."""
    o = contract.Origin(building="main", room=room, node="cam1")
    aid = contract.new_id()
    ev = evidence_for(o, aid, JPEG)
    relative, _ = services.evidence.create(ev.evidence_id, ev.content_type, JPEG)
    services.writer.call(lambda c: apply_alert(c, alert_for(o, "r1s1", alert_id=aid,
                                                            evidence=[ev]), 1.0)
                         and apply_evidence(c, ev, relative, 1.0))
    return aid, ev.evidence_id


@pytest.fixture
def alerts(services, seeded):
    return {room: put_alert(services, room) for room in ("a101", "b202")}


def urls(alerts) -> dict[str, str]:
    a, ev = alerts["a101"]
    return {"proctor_room": "/proctor/room/main/a101", "proctor_home": "/proctor/",
            "dean": "/dean/", "dean_room": "/dean/room/main/a101", "tech": "/tech/",
            "admin": "/admin/", "audit": "/admin/audit", "evidence": f"/evidence/alert/{a}",
            "file": f"/evidence/file/{ev}", "feed": "/live/main/a101/alerts.json",
            "exams": "/exams/", "protocols": "/protocols/", "retakes": "/protocols/retakes",
            "retakes_csv": "/protocols/retakes?format=csv",
            "rounds": "/rounds/", "rounds_report": "/rounds/report"}


ALLOWED = {  # role -> pages it may open (everything else: 403 or 404)
    "aigerim": {"proctor_room", "proctor_home", "evidence", "file", "feed", "exams",
                "protocols", "retakes"},          # the retake list: their own protocols only
    "dean": {"dean", "dean_room", "evidence", "file", "feed", "exams", "protocols", "retakes",
             "retakes_csv", "rounds", "rounds_report"},
    "tech": {"tech"},
    "admin": {"admin", "audit", "exams"},
}


@pytest.mark.parametrize("user", sorted(ALLOWED))
def test_each_role_reaches_only_its_pages(client, alerts, user):
    login(client, user)
    for name, url in urls(alerts).items():
        with client.get(url, follow_redirects=name == "proctor_home") as r:
            status = r.status_code
        if name in ALLOWED[user]:
            assert status == 200, (user, name, status)
        else:
            assert status in (403, 404), (user, name, status)


def test_anonymous_is_sent_to_login(client, alerts):
    for url in urls(alerts).values():
        with client.get(url) as r:
            assert r.status_code == 302 and "/login" in r.headers["Location"], url


@pytest.mark.parametrize("user", ["bolat", "dana"])   # another room; a session that ended
def test_proctor_cannot_guess_another_rooms_urls(client, alerts, user):
    login(client, user)
    aid, ev = alerts["a101"]
    for url in ("/proctor/room/main/a101", f"/evidence/alert/{aid}", f"/evidence/file/{ev}",
                "/live/main/a101/alerts.json", "/live/main/a101/stream",
                f"/evidence/clip/{ev}/frames.json"):
        with client.get(url) as r:
            assert r.status_code == 404, url
    token = login(client, user)
    r = client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token})
    assert r.status_code == 404


def test_forms_need_the_csrf_token(client, alerts):
    token = login(client, "aigerim")
    aid, _ = alerts["a101"]
    assert client.post(f"/proctor/alerts/{aid}/acknowledge").status_code == 400
    assert client.post(f"/proctor/alerts/{aid}/acknowledge",
                       data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.post(f"/proctor/alerts/{aid}/acknowledge",
                       data={"csrf_token": token}).status_code == 302


def test_login_failure_and_cookie_flags(tmp_path, client, seeded):
    from hub.web.app import create_app
    from tests.support.hub_env import csrf_from, make_config

    r = client.post("/login", data={"username": "aigerim", "password": "wrong password",
                                    "csrf_token": csrf_from(client.get("/login").text)})
    assert r.status_code == 401
    secure = make_config(tmp_path / "s")
    secure = secure.model_copy(update={"web": secure.web.model_copy(
        update={"cookie_secure": True})})
    c = create_app(secure).test_client()
    cookie = c.get("/login").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_evidence_views_and_actions_are_audited(client, services, alerts):
    token = login(client, "aigerim")
    aid, ev = alerts["a101"]
    client.get(f"/evidence/alert/{aid}")
    with client.get(f"/evidence/file/{ev}") as r:
        assert r.data == JPEG
    client.post(f"/proctor/alerts/{aid}/dismiss", data={"csrf_token": token,
                                                         "reason": "allowed_aid"})
    conn = connect(services.db_path, readonly=True)
    rows = conn.execute("SELECT username, action, target FROM audit ORDER BY id").fetchall()
    conn.close()
    got = [(r[0], r[1], r[2]) for r in rows]
    assert ("aigerim", "evidence.view", aid) in got
    assert ("aigerim", "evidence.file", ev) in got
    assert ("aigerim", "alert.dismiss", aid) in got


@pytest.mark.parametrize("action, data, decision", [
    ("acknowledge", {}, "acknowledged"),
    ("dismiss", {"reason": "detection_error"}, "dismissed"),
    ("confirm", {}, "confirmed"),
])
def test_actions_record_who_and_when(client, services, seeded, alerts, action, data, decision):
    token = login(client, "aigerim")
    aid, _ = alerts["a101"]
    r = client.post(f"/proctor/alerts/{aid}/{action}", data={"csrf_token": token, **data},
                    headers={"X-Requested-With": "fetch"})
    assert r.status_code == 200 and r.json["alert"]["decision"] == decision
    conn = connect(services.db_path, readonly=True)
    row = conn.execute("SELECT * FROM alerts WHERE alert_id=?", (aid,)).fetchone()
    conn.close()
    assert row["ack_by"] == seeded.ids["aigerim"] and row["ack_at"]
    if decision != "acknowledged":
        assert row["decided_by"] == seeded.ids["aigerim"] and row["decided_at"]


def test_a_decided_alert_cannot_be_decided_again(client, alerts):
    token = login(client, "aigerim")
    aid, _ = alerts["a101"]
    hdr = {"X-Requested-With": "fetch"}
    assert client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token},
                       headers=hdr).status_code == 200
    r = client.post(f"/proctor/alerts/{aid}/dismiss", data={"csrf_token": token,
                                                             "reason": "other"}, headers=hdr)
    assert r.status_code == 409 and r.json["alert"]["decision"] == "confirmed"
    assert client.post(f"/proctor/alerts/{aid}/dismiss", data={
        "csrf_token": token, "reason": "no such reason"}).status_code == 400


def test_open_redirect_after_login_is_refused(client, seeded):
    from tests.support.hub_env import csrf_from

    token = csrf_from(client.get("/login").text)
    r = client.post("/login?next=//evil.example/x", data={
        "username": "aigerim", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/proctor/"
