"""The exam is a proctor's boundary, not the room: the proctor of the exam running now in a101
sees nothing of the previous exam there (its alerts, evidence, clip, protocol, live events),
and a room holds one exam at a time. Attacked over HTTP with the Flask test client on the real
writer and SQLite file, alerts written as the ingest writer writes them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from hub.roster import ImportRefused, parse_timetable
from hub.store import sessions, users
from hub.store import violation_protocols as protocols
from hub.store.alerts import apply_alert, apply_evidence
from hub.store.db import connect
from kuzet import contract
from kuzet_tools.bench.sim import alert_for, evidence_for
from tests.support.hub_env import PASSWORD, login

JPEG = b"\xff\xd8\xff\xe0jpeg\xff\xd9"
A101 = contract.Origin(building="main", room="a101", node="cam1")


def put(services, session_id: str, started_at: datetime | None = None) -> tuple[str, str]:
    aid = contract.new_id()
    ev = evidence_for(A101, aid, JPEG)
    relative, _ = services.evidence.create(ev.evidence_id, ev.content_type, JPEG)
    msg = alert_for(A101, "r2s3", alert_id=aid, evidence=[ev], started_at=started_at)
    msg = msg.model_copy(update={"session_id": session_id})
    services.writer.call(lambda c: apply_alert(c, msg, 1.0)
                         and apply_evidence(c, ev, relative, 1.0))
    return aid, ev.evidence_id


@pytest.fixture
def previous(services, seeded):
    """The exam before aigerim's in a101 (omar's, two to four hours ago): one alert the node
    named with its session, one from a node that named none the hub knows; omar's protocol."""
    w = services.writer
    now = datetime.now(UTC)
    w.call(users.add_user, "omar", PASSWORD, "proctor", "Omar")
    sid = w.call(sessions.add_session, "main", "a101", "omar", now - timedelta(hours=4),
                 now - timedelta(hours=2))
    named = put(services, str(sid), now - timedelta(hours=3))
    unnamed = put(services, "exam-1", now - timedelta(hours=3))
    omar = users.User(w.call(lambda c: c.execute(
        "SELECT id FROM users WHERE username='omar'").fetchone()[0]), "omar", "proctor", "")
    w.call(protocols.confirm_with_protocol, named[0], omar)
    pid = w.call(lambda c: c.execute("SELECT id FROM protocols WHERE alert_id=?",
                                     (named[0],)).fetchone()[0])
    return {"session": sid, "alerts": [named, unnamed], "protocol": pid}


def test_the_next_exams_proctor_sees_nothing_of_the_previous_one(client, services, previous):
    token = login(client, "aigerim")                 # her a101 exam runs now
    mine, my_ev = put(services, "1")                 # seeded: aigerim's session is 1
    for aid, ev in previous["alerts"]:
        for url in (f"/evidence/alert/{aid}", f"/evidence/file/{ev}",
                    f"/evidence/clip/{ev}/frames.json", f"/evidence/clip/{ev}/0.jpg"):
            with client.get(url) as r:
                assert r.status_code == 404, url
        for action in ("acknowledge", "confirm", "note"):
            r = client.post(f"/proctor/alerts/{aid}/{action}",
                            data={"csrf_token": token, "text": "x"})
            assert r.status_code == 404, action
        r = client.post(f"/proctor/alerts/{aid}/dismiss",
                        data={"csrf_token": token, "reason": "other"})
        assert r.status_code == 404
    pid = previous["protocol"]
    for url in (f"/protocols/{pid}", f"/protocols/{pid}.pdf"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/protocols/{pid}", data={"csrf_token": token,
                                                  "student": "x"}).status_code == 404
    assert f"/protocols/{pid}\"" not in client.get("/protocols/").text
    conn = connect(services.db_path, readonly=True)
    assert conn.execute("SELECT COUNT(*) FROM protocols").fetchone()[0] == 1   # omar's only
    conn.close()

    feed = client.get("/live/main/a101/alerts.json").json
    assert [a["alert_id"] for a in feed["alerts"]] == [mine]
    page = client.get("/proctor/room/main/a101").text
    assert mine in page and all(aid not in page for aid, _ in previous["alerts"])
    assert client.get(f"/evidence/alert/{mine}").status_code == 200
    with client.get(f"/evidence/file/{my_ev}") as r:
        assert r.status_code == 200


def test_the_dean_of_the_building_still_sees_both_exams(client, previous, services):
    login(client, "dean")
    ids = {a["alert_id"] for a in client.get("/live/main/a101/alerts.json").json["alerts"]}
    assert {aid for aid, _ in previous["alerts"]} <= ids
    assert client.get(f"/protocols/{previous['protocol']}").status_code == 200


def test_the_live_stream_carries_only_the_proctors_own_session(hub_config, services, previous):
    from hub.web.app import create_app

    config = hub_config.model_copy(update={"web": hub_config.web.model_copy(
        update={"sse_keepalive_s": 0.2})})
    app = create_app(config, services)
    client = app.test_client()
    login(client, "aigerim")
    response = client.get("/live/main/a101/stream", buffered=False)
    assert response.status_code == 200
    chunks: list[bytes] = []
    done = threading.Event()

    def read():
        for chunk in response.response:
            chunks.append(chunk)
            if done.is_set():
                break

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    old_aid, _ = previous["alerts"][0]
    late = alert_for(A101, "r2s3", event="update", alert_id=old_aid,
                     started_at=datetime.now(UTC) - timedelta(hours=3))
    late = late.model_copy(update={"session_id": str(previous["session"])})
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while b"event: alert" not in b"".join(chunks) and datetime.now(UTC) < deadline:
        services.writer.call(lambda c: apply_alert(c, late, 2.0))     # the old exam's node
        mine, _ = put(services, "1")                                   # and aigerim's
        threading.Event().wait(0.3)
    done.set()
    reader.join(5)                  # a keep-alive comes within 0.2 s: the reader stops
    body = b"".join(chunks).decode()
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")
              and '"alert_id"' in line]
    assert events, body[:500]
    assert all(e["session"] == 1 for e in events)
    assert old_aid not in body
    response.close()


def test_overlapping_sessions_in_one_room_are_refused(services, seeded):
    now = datetime.now(UTC)
    with pytest.raises(sessions.SessionRefused, match="already has session 1"):
        services.writer.call(sessions.add_session, "main", "a101", "bolat",
                             now + timedelta(hours=1), now + timedelta(hours=3))
    services.writer.call(sessions.add_session, "main", "a101", "bolat",    # just after: fine
                         now + timedelta(hours=2, seconds=1), now + timedelta(hours=4))
    today = datetime.now(UTC).date().isoformat()
    tt = ("exam_code,discipline,groups,building,room,date,start,end,proctors,allowed_aids\n"
          f"M9,Физика,ЭЭ-21,main,b202,{today},00:00,23:59,bolat,\n")
    with pytest.raises(ImportRefused) as exc:
        services.writer.call(sessions.import_timetable, parse_timetable(tt, "UTC"))
    assert [(e.line, e.field) for e in exc.value.errors] == [(2, "start")]
    assert "already has session 2" in exc.value.errors[0].message


def test_overlap_is_refused_on_the_admin_page(client, seeded):
    from zoneinfo import ZoneInfo

    token = login(client, "admin")
    local = datetime.now(ZoneInfo("Asia/Almaty")).replace(tzinfo=None)   # the hub's zone
    r = client.post("/admin/sessions", data={
        "csrf_token": token, "building": "main", "room": "b202", "proctor": "aigerim",
        "starts_at": local.isoformat(timespec="minutes"),
        "ends_at": (local + timedelta(hours=1)).isoformat(timespec="minutes")},
        follow_redirects=True)
    assert "already has session 2" in r.text
