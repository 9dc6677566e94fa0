"""The proctor's seat page: the seat's incidents to decide with their actions (which come back
to the page; a confirm goes on to the draft protocol), its decided incidents, the latest
picture; only the proctor of an exam running in that room, only a seat of its map."""

from __future__ import annotations

from hub.store import audit as audit_store
from hub.store import nodes
from hub.store.alerts import apply_alert, apply_evidence
from kuzet import contract
from kuzet_tools.bench.sim import alert_for, evidence_for
from tests.support.hub_env import login, read

JPEG = b"\xff\xd8\xff\xe0 a seat picture \xff\xd9"
SEAT = "/proctor/room/main/a101/seat/r2s3"


def put_alert(services, seat: str = "r2s3", rule: str = "device", room: str = "a101",
              picture: bool = True) -> str:
    o = contract.Origin(building="main", room=room, node="cam1")
    aid = contract.new_id()
    ev = [evidence_for(o, aid, JPEG)] if picture else []
    stored = [services.evidence.create(e.evidence_id, e.content_type, JPEG)[0] for e in ev]

    def write(c):
        apply_alert(c, alert_for(o, seat, rule, alert_id=aid, evidence=ev), 1.0)
        for e, rel in zip(ev, stored, strict=True):
            apply_evidence(c, e, rel, 1.0)
    services.writer.call(write)
    return aid


def test_the_seat_page_shows_the_seat_its_incident_and_picture(client, services):
    aid = put_alert(services)
    login(client, "aigerim")
    page = client.get(SEAT)
    assert page.status_code == 200
    html = page.text
    assert "Әлия Нұрланқызы" in html and f'data-alert="{aid}"' in html
    assert 'name="reason" value="detection_error"' in html and "<textarea" in html
    assert f'name="back" value="{SEAT}"' in html
    assert 'viewBox="' in html and "/evidence/file/" in html       # the alert's snapshot
    assert '<p class="clause">4.1 ' in html                        # which clause 4.1 item
    actions = read(services, lambda c: [r["action"] for r in audit_store.entries(c, 20)])
    assert "seat.view" in actions


def test_a_seat_not_on_the_map_and_another_rooms_proctor_get_404(client, services):
    put_alert(services)
    login(client, "aigerim")
    assert client.get("/proctor/room/main/a101/seat/r9s9").status_code == 404
    assert client.get("/proctor/room/main/b202/seat/r2s3").status_code == 404   # bolat's
    other = client.application.test_client()
    login(other, "bolat")
    assert other.get(SEAT).status_code == 404
    assert "data-alert" not in other.get("/proctor/room/main/b202/seat/r2s3").text


def test_a_dismissal_from_the_seat_page_comes_back_with_its_reason(client, services):
    aid = put_alert(services)
    token = login(client, "aigerim")
    r = client.post(f"/proctor/alerts/{aid}/dismiss",
                    data={"csrf_token": token, "reason": "proctor_nearby", "back": SEAT})
    assert r.status_code == 302 and r.headers["Location"] == SEAT
    reason = read(services, lambda c: c.execute(
        "SELECT dismiss_reason FROM alerts WHERE alert_id=?", (aid,)).fetchone()[0])
    assert reason == "proctor_nearby"
    html = client.get(SEAT).text
    assert "Nothing to decide" in html or 'id="seat-quiet"' in html


def test_a_back_elsewhere_is_ignored_no_open_redirect(client, services):
    aid = put_alert(services)
    token = login(client, "aigerim")
    for back in ("https://evil.example/", "//evil.example/x", "/proctor/room/main/a101/seat/r1s1",
                 "/admin/"):
        r = client.post(f"/proctor/alerts/{aid}/note",
                        data={"csrf_token": token, "text": "seen", "back": back})
        assert r.headers["Location"] == "/proctor/room/main/a101", back


def test_confirm_from_the_seat_page_opens_the_draft_protocol(client, services):
    aid = put_alert(services)
    token = login(client, "aigerim")
    r = client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token, "back": SEAT})
    pid = read(services, lambda c: c.execute(
        "SELECT id FROM protocols WHERE alert_id=?", (aid,)).fetchone()[0])
    assert r.status_code == 302 and r.headers["Location"] == f"/protocols/{pid}"
    html = client.get(SEAT).text
    assert f'data-alert="{aid}" data-decision="confirmed"' in html      # in the history now


def test_the_evidence_page_acts_and_comes_back_for_the_proctor_only(client, services):
    aid = put_alert(services)
    token = login(client, "aigerim")
    page = f"/evidence/alert/{aid}"
    assert 'name="reason" value="wrong_seat"' in client.get(page).text
    r = client.post(f"/proctor/alerts/{aid}/acknowledge", data={"csrf_token": token,
                                                                "back": page})
    assert r.headers["Location"] == page
    dean = client.application.test_client()
    login(dean, "dean")
    html = dean.get(page).text
    assert "Alert" in html or aid[:4] in html
    assert 'name="reason"' not in html and "/proctor/alerts/" not in html


def test_a_fresh_picture_is_asked_once_per_seat_in_five_seconds_and_seen_by_its_session(
        app, client, services, hub_config):
    """No node known: refused. A node, but no broker (this hub has no ingest): the command
    is recorded unsent (503); again at once: 429. What comes back under the command's id is
    shown to the session's proctor only."""
    now = [1_000_000.0]
    app.config["KUZET_CLOCK"] = lambda: now[0]
    token = login(client, "aigerim")
    url = f"{SEAT}/picture"
    fetch = {"X-Requested-With": "fetch"}
    assert client.post(url, data={"csrf_token": token}, headers=fetch).status_code == 409
    o = contract.Origin(building="main", room="a101", node="cam1")
    services.writer.call(nodes.apply_status, contract.StatusMessage(
        origin=o, state="online", since=contract.utcnow()), 1.0, hub_config.liveness)
    now[0] += 10
    r = client.post(url, data={"csrf_token": token}, headers=fetch)
    assert r.status_code == 503 and "error" in r.get_json()
    [asked] = read(services, lambda c: c.execute(
        "SELECT msg_id, node, session_id, published FROM commands WHERE action='snapshot'"
    ).fetchall())
    assert (asked["node"], asked["published"]) == ("cam1", 0) and asked["session_id"]
    now[0] += 2
    assert client.post(url, data={"csrf_token": token}, headers=fetch).status_code == 429
    status = f"/proctor/pictures/{asked['msg_id']}.json"
    assert client.get(status).get_json()["ready"] is False
    ev = evidence_for(o, asked["msg_id"], JPEG)
    rel = services.evidence.create(ev.evidence_id, ev.content_type, JPEG)[0]
    services.writer.call(apply_evidence, ev, rel, 1.0)
    body = client.get(status).get_json()
    assert body["ready"]
    with client.get(body["image"]) as image:
        assert image.data == JPEG and image.headers["Cache-Control"] == "no-store"
    assert f'href="{body["image"]}"' in client.get(SEAT).text          # the newest picture
    other = app.test_client()
    login(other, "bolat")
    assert other.get(status).status_code == 404 and other.get(body["image"]).status_code == 404
