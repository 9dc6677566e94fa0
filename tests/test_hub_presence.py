""""I am at this seat" through HTTP (Flask's test client, a real SQLite): only the proctor of
the exam running in the room, only for a seat of its map; recorded with its end, logged,
and a proctor_present command queued for each node of the room."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hub.store import presence
from hub.store import sessions as store
from hub.store.db import connect
from tests.support.hub_env import login

NOW = datetime(2026, 11, 30, 2, 13, 20, tzinfo=UTC).timestamp()   # the app's clock here
URL = "/proctor/room/main/a101/seat/r2s3/present"
FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def hub(app, services, seeded):
    app.config["KUZET_CLOCK"] = lambda: NOW
    services.writer.call(lambda c: c.execute(
        "INSERT INTO nodes (building, room, node) VALUES ('main', 'a101', 'cam1')"))
    return app, services


def rows(services, sql: str, *args) -> list:
    conn = connect(services.db_path, readonly=True)
    try:
        return [dict(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def started(client, token) -> None:
    assert client.post("/exams/1/start", data={"csrf_token": token}).status_code == 302


def test_the_proctor_is_marked_at_the_seat_and_the_node_is_told(hub, client):
    app, services = hub
    token = login(client, "aigerim")
    started(client, token)
    r = client.post(URL, data={"csrf_token": token}, headers=FETCH)
    assert r.status_code == 200, r.text
    assert r.json == {"seat": "r2s3", "until": "2026-11-30T02:16:20.000Z", "nodes": 1,
                      "sent": 0}                    # no broker here: recorded, not sent
    [mark] = rows(services, "SELECT * FROM seat_presence")
    assert (mark["seat"], mark["session_id"], mark["at"], mark["until"]) == (
        "r2s3", 1, "2026-11-30T02:13:20.000Z", "2026-11-30T02:16:20.000Z")
    [cmd] = rows(services, "SELECT * FROM commands WHERE action = 'proctor_present'")
    payload = json.loads(cmd["payload"])
    assert (cmd["node"], payload["seat"], payload["quiet_s"], payload["session_id"]) == (
        "cam1", "r2s3", 180.0, "1")
    [logged] = rows(services, "SELECT * FROM audit WHERE action = 'seat.presence'")
    detail = json.loads(logged["detail"])
    assert (detail["seat"], detail["until"], detail["quiet_s"]) == (
        "r2s3", "2026-11-30T02:16:20.000Z", 180)
    conn = connect(services.db_path, readonly=True)
    assert presence.until(conn, "main", "a101", "r2s3", datetime.fromtimestamp(NOW + 60, UTC)
                          ) == "2026-11-30T02:16:20.000Z"
    assert presence.until(conn, "main", "a101", "r2s3", datetime.fromtimestamp(NOW + 181, UTC)
                          ) is None
    conn.close()


def test_the_form_redirects_back_and_says_until_when(hub, client):
    token = login(client, "aigerim")
    started(client, token)
    r = client.post(URL, data={"csrf_token": token})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).text
    assert "Камера түйіні оны қазір алмады" in page    # no broker in this test (kk: the default)


def test_before_the_exam_is_started_it_is_refused_and_says_so(hub, client):
    _, services = hub
    token = login(client, "aigerim")
    r = client.post(URL, data={"csrf_token": token}, headers=FETCH)
    assert r.status_code == 409 and r.json["error"].startswith("Алдымен емтиханды бастаңыз")
    assert rows(services, "SELECT * FROM seat_presence") == []
    [logged] = rows(services, "SELECT * FROM audit WHERE action = 'seat.presence'")
    assert "refused" in json.loads(logged["detail"])


@pytest.mark.parametrize("user, url", [
    ("aigerim", "/proctor/room/main/a101/seat/r9s9/present"),     # not in the seat map
    ("bolat", URL),                                               # another proctor's room
    ("dana", URL),                                                # yesterday's proctor
])
def test_a_seat_off_the_map_or_another_proctor_is_not_found(hub, client, app, user, url):
    _, services = hub
    aigerim = app.test_client()
    started(aigerim, login(aigerim, "aigerim"))
    token = login(client, user)
    assert client.post(url, data={"csrf_token": token}).status_code == 404
    assert rows(services, "SELECT * FROM seat_presence") == []


def test_without_the_csrf_token_nothing_is_marked(hub, client):
    _, services = hub
    token = login(client, "aigerim")
    started(client, token)
    assert client.post(URL, data={}).status_code == 400
    assert rows(services, "SELECT * FROM seat_presence") == []


def test_the_store_refuses_a_session_that_is_not_running(services, seeded):
    with pytest.raises(presence.PresenceRefused, match="no exam of yours"):
        services.writer.call(presence.mark, "main", "a101", "r1s1", seeded.ids["aigerim"],
                             60, datetime.now(UTC))
    services.writer.call(store.set_running, 1, True, [])
    with pytest.raises(presence.PresenceRefused, match="not in the room's seat map"):
        services.writer.call(presence.mark, "main", "a101", "zz", seeded.ids["aigerim"],
                             60, datetime.now(UTC))


def test_the_seat_page_offers_the_button_and_says_until_when_the_proctor_is_marked(hub, client):
    token = login(client, "aigerim")
    started(client, token)
    page = client.get("/proctor/room/main/a101/seat/r2s3").text
    assert 'action="/proctor/room/main/a101/seat/r2s3/present"' in page
    assert "You are marked here" not in page
    client.post(URL, data={"csrf_token": token})
    page = client.get("/proctor/room/main/a101/seat/r2s3").text
    assert 'class="presence-until" data-until="2026-11-30T02:16:20.000Z"' in page
