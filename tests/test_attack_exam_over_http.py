"""The exam boundary, logins the server ends and evidence no browser keeps, attacked on a
real hub (waitress on a free port, ingest on a real mosquitto) as the attacker would: a node
publishes the previous exam's alert and evidence over MQTT, then browsers speak real HTTP
with cookies (urllib, http.client for the live stream)."""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime, timedelta

import pytest

from hub.server import HubServer
from hub.store import alerts, sessions, users
from hub.store import violation_protocols as protocols
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim, alert_for, evidence_for
from tests.support.footage import mjpeg_avi
from tests.support.http_session import HttpSession
from tests.support.hub_env import PASSWORD, make_config, read, seed
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration     # a real mosquitto

A101 = contract.Origin(building="main", room="a101", node="cam1")
JPEG = b"\xff\xd8\xff\xe0" + b"a phone under the desk" * 20 + b"\xff\xd9"


@pytest.fixture
def hub(tmp_path, broker):
    server = HubServer(make_config(tmp_path, broker.port, sse_keepalive_s=0.2)).start()
    assert server.services.ingest.connected.wait(10)
    server.seeded = seed(server.services.writer)      # aigerim's a101 exam (session 1) runs
    yield server
    server.stop()


@pytest.fixture
def node(hub, broker):
    sim = NodeSim(broker.host, broker.port, A101)
    yield sim
    sim.close()


def raise_alert(hub, node: NodeSim, session_id: int, started_at: datetime | None = None):
    """The node raises an alert for ``session_id`` and sends its snapshot and clip, over
    MQTT; returns (alert id, snapshot id, clip id) once the hub has stored them."""
    aid = contract.new_id()
    snap = evidence_for(A101, aid, JPEG)
    clip = evidence_for(A101, aid, mjpeg_avi([JPEG, JPEG + b"2"]), kind="clip",
                        content_type="video/x-msvideo")
    alert = alert_for(A101, "r2s3", alert_id=aid, evidence=[snap, clip], started_at=started_at)
    node.publish(alert.model_copy(update={"session_id": str(session_id)}))
    node.publish(snap)
    node.publish(clip)
    for ev in (snap, clip):
        assert wait_until(lambda e=ev: read(hub.services, alerts.evidence_row, e.evidence_id), 20)
    return aid, snap.evidence_id, clip.evidence_id


def browser(hub, username: str) -> HttpSession:
    s = HttpSession(f"http://127.0.0.1:{hub.port}")
    assert s.login(username, PASSWORD).status == 302
    return s


def cookie_of(s: HttpSession) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


@pytest.fixture
def previous(hub, node):
    """omar's a101 exam before aigerim's (four to two hours ago): the node's alert, its
    snapshot and clip, and omar's protocol of it."""
    w, now = hub.services.writer, datetime.now(UTC)
    omar = w.call(users.add_user, "omar", PASSWORD, "proctor", "Omar")
    sid = w.call(sessions.add_session, "main", "a101", "omar", now - timedelta(hours=4),
                 now - timedelta(hours=2))
    aid, snap, clip = raise_alert(hub, node, sid, now - timedelta(hours=3))
    w.call(protocols.confirm_with_protocol, aid, users.User(omar, "omar", "proctor", "Omar"))
    pid = read(hub.services, protocols.for_alert, aid)["id"]
    return {"session": sid, "alert": aid, "snapshot": snap, "clip": clip, "protocol": pid}


def test_the_next_exams_proctor_reaches_nothing_of_the_previous_one(hub, node, previous):
    aigerim = browser(hub, "aigerim")
    old = previous
    for path in (f"/evidence/alert/{old['alert']}", f"/evidence/file/{old['snapshot']}",
                 f"/evidence/file/{old['clip']}", f"/evidence/clip/{old['clip']}/frames.json",
                 f"/evidence/clip/{old['clip']}/0.jpg", f"/protocols/{old['protocol']}",
                 f"/protocols/{old['protocol']}.pdf"):
        assert aigerim.request(path).status == 404, path

    # Her live stream, over HTTP: the old exam's node sends an update of its alert, her
    # exam's node a new one; only hers arrives.
    conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=10)
    conn.request("GET", "/live/main/a101/stream", headers={"Cookie": cookie_of(aigerim)})
    stream = conn.getresponse()
    assert stream.status == 200
    late = alert_for(A101, "r2s3", event="update", alert_id=old["alert"],
                     started_at=datetime.now(UTC) - timedelta(hours=3))
    node.publish(late.model_copy(update={"session_id": str(old["session"])}))
    mine, _snap, _clip = raise_alert(hub, node, 1)
    lines: list[bytes] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(mine.encode() in li for li in lines):
        line = stream.readline()
        if not line:
            break
        lines.append(line)
    conn.close()
    body = b"".join(lines).decode()
    assert mine in body, body[-500:]
    assert old["alert"] not in body
    assert aigerim.request(f"/evidence/alert/{mine}").status == 200


def test_a_cookie_copied_before_logout_or_a_password_change_opens_nothing(hub, node,
                                                                         previous):
    mine, snap, _clip = raise_alert(hub, node, 1)
    pages = ("/exams/", "/proctor/room/main/a101", f"/evidence/alert/{mine}",
             f"/evidence/file/{snap}", "/live/main/a101/alerts.json")

    def opens(cookie: str) -> list[int]:
        out = []
        for path in pages:
            c = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=10)
            c.request("GET", path, headers={"Cookie": cookie})
            out.append(c.getresponse().status)
            c.close()
        return out

    tablet = browser(hub, "aigerim")
    copied = cookie_of(tablet)                    # saved before the logout
    assert opens(copied) == [200] * len(pages)
    assert tablet.request("/logout", {"csrf_token": tablet.csrf("/exams/")}).status == 302
    assert all(status in (302, 404) for status in opens(copied))
    assert opens(copied)[0] == 302                # to the login page

    laptop = browser(hub, "aigerim")
    copied = cookie_of(laptop)                    # saved before the password change
    new = "a brand new long password"
    r = laptop.request("/account/password", {"csrf_token": laptop.csrf("/exams/"),
                                             "current": PASSWORD, "new": new, "again": new})
    assert r.status == 302
    assert all(status in (302, 404) for status in opens(copied))
    assert opens(copied)[0] == 302
    assert laptop.request("/exams/").status == 200   # the browser that changed it


def audit_of(hub) -> list[tuple[str, str, str]]:
    return read(hub.services, lambda c: [tuple(r) for r in c.execute(
        "SELECT username, action, target FROM audit ORDER BY id")])


def test_evidence_and_protocol_over_http_are_not_kept_and_each_look_is_audited(hub, node):
    aid, snap, clip = raise_alert(hub, node, 1)
    aigerim = browser(hub, "aigerim")
    r = aigerim.request(f"/proctor/alerts/{aid}/confirm",
                        {"csrf_token": aigerim.csrf("/exams/")})
    assert r.status == 302
    pid = read(hub.services, protocols.for_alert, aid)["id"]
    looks = {f"/evidence/file/{snap}": ("evidence.file", snap),
             f"/evidence/file/{clip}": ("evidence.file", clip),
             f"/evidence/clip/{clip}/0.jpg": ("evidence.clip_frame", clip),
             f"/protocols/{pid}.pdf": ("protocol.pdf", str(pid))}
    for path, (action, target) in looks.items():
        before = audit_of(hub)
        r = aigerim.request(path)
        assert r.status == 200, path
        assert r.headers["Cache-Control"] == "no-store", path
        assert ("aigerim", action, target) in audit_of(hub)[len(before):], path
