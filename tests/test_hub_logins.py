"""Logins the server can end: a cookie copied before a logout, a password change or a
deactivation opens nothing afterwards, on any device; an idle login expires (the app's clock
is injected: nothing sleeps)."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from hub.server import HubServer
from hub.store import logins
from hub.store.db import connect
from kuzet_tools.cli import main
from tests.support.http_session import HttpSession
from tests.support.hub_env import PASSWORD, csrf_from, login, make_config, seed

COOKIE = "kuzet_hub"
NEW_PASSWORD = "a new and long password"


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s cookie (a shared tablet, a stolen
    cookie)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def opens(client, path: str = "/exams/") -> bool:
    r = client.get(path)
    assert r.status_code in (200, 302), r.status_code
    return r.status_code == 200


def open_logins(services, user_id: int) -> int:
    conn = connect(services.db_path, readonly=True)
    try:
        return logins.open_count(conn, user_id)
    finally:
        conn.close()


def test_a_cookie_copied_before_the_logout_is_refused_after_it(app, client, seeded):
    token = login(client, "aigerim")
    thief = copy_of(app, client)
    assert opens(thief)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not opens(thief)
    assert not opens(thief, "/evidence/alert/x") and not opens(client)


def test_logging_out_on_one_device_leaves_the_others(app, client, seeded):
    token = login(client, "aigerim")
    laptop = app.test_client()
    login(laptop, "aigerim")
    client.post("/logout", data={"csrf_token": token})
    assert opens(laptop)


def test_a_password_change_ends_every_other_login(app, client, services, seeded):
    token = login(client, "aigerim")
    thief = copy_of(app, client)
    laptop = app.test_client()
    login(laptop, "aigerim")
    r = client.post("/account/password", data={"csrf_token": token, "current": "wrong one",
                                                "new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert r.status_code == 400 and opens(thief)             # nothing changed
    r = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                "new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert r.status_code == 302
    assert not opens(thief) and not opens(laptop)
    assert opens(client)                                      # this browser: a new login
    assert open_logins(services, seeded.ids["aigerim"]) == 1
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": "aigerim", "password": PASSWORD,
                                      "csrf_token": csrf_from(fresh.get("/login").text)}
                      ).status_code == 401
    login(fresh, "aigerim", NEW_PASSWORD)


def test_deactivating_a_user_ends_their_logins_and_refuses_new_ones(app, client, seeded):
    login(client, "aigerim")
    admin = app.test_client()
    token = login(admin, "admin")
    uid = seeded.ids["aigerim"]
    assert admin.post(f"/admin/users/{uid}/active", data={"csrf_token": token, "active": "0"}
                      ).status_code == 302
    assert not opens(client)
    again = app.test_client()
    r = again.post("/login", data={"username": "aigerim", "password": PASSWORD,
                                   "csrf_token": csrf_from(again.get("/login").text)})
    assert r.status_code == 401
    admin.post(f"/admin/users/{uid}/active", data={"csrf_token": token, "active": "1"})
    login(again, "aigerim")
    assert opens(again)


def test_an_admin_cannot_deactivate_themselves(app, client, seeded):
    token = login(client, "admin")
    client.post(f"/admin/users/{seeded.ids['admin']}/active",
                data={"csrf_token": token, "active": "0"})
    assert opens(client, "/admin/")


@pytest.fixture
def clock(app):
    now = [1_900_000_000.0]
    app.config["KUZET_CLOCK"] = lambda: now[0]
    return now


def test_an_idle_login_expires_and_a_busy_one_does_not(app, client, seeded, clock):
    login(client, "aigerim")
    for _ in range(4):                       # two hours of use, a request every 25 minutes
        clock[0] += 25 * 60
        assert opens(client)
    thief = copy_of(app, client)
    clock[0] += 30 * 60                      # web.idle_minutes = 30 without a request
    assert not opens(client) and not opens(thief)
    login(client, "aigerim")
    assert opens(client)


def last_seen(services, user_id: int) -> list[str]:
    conn = connect(services.db_path, readonly=True)
    try:
        return [r[0] for r in conn.execute("SELECT last_seen_at FROM web_logins WHERE"
                                           " user_id = ? AND ended_at IS NULL", (user_id,))]
    finally:
        conn.close()


def test_a_stale_copy_of_the_cookie_cannot_end_the_real_users_login(app, client, seeded,
                                                                    clock):
    login(client, "aigerim")
    stale = copy_of(app, client)             # copied at the start; not used since
    for _ in range(4):                       # the real user works on for two hours
        clock[0] += 25 * 60
        assert opens(client)
    clock[0] += 60
    stale.get("/exams/")                     # its cookie says two hours without a request
    assert opens(client)                     # the server saw the login a minute ago


def test_idleness_is_the_servers_not_the_cookies(app, client, services, seeded, clock):
    login(client, "aigerim")
    uid = seeded.ids["aigerim"]
    seen = last_seen(services, uid)
    for _ in range(5):                       # requests within a minute: no write
        clock[0] += 10
        assert opens(client)
    assert last_seen(services, uid) == seen
    clock[0] += 20
    assert opens(client)
    assert last_seen(services, uid) != seen  # a minute on: the server's last-seen moves
    replay = copy_of(app, client)
    clock[0] += 30 * 60                      # nobody used the login for the idle time
    assert not opens(replay) and not opens(client)
    conn = connect(services.db_path, readonly=True)
    assert conn.execute("SELECT ended_why FROM web_logins WHERE user_id = ?",
                        (uid,)).fetchone()[0] == "idle"
    conn.close()


def test_a_login_ends_after_session_hours_however_busy(app, client, seeded, clock):
    login(client, "aigerim")
    for _ in range(12 * 4 - 1):              # web.session_hours = 12
        clock[0] += 15 * 60
        assert opens(client)
    clock[0] += 15 * 60
    assert not opens(client)


def test_the_cli_sets_a_password_and_deactivates_ending_logins(app, client, services, seeded,
                                                               hub_config, tmp_path,
                                                               monkeypatch, capsys):
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndata_dir = "{hub_config.hub.data_dir}"\n')
    monkeypatch.setenv("KUZET_HUB_SECRET_KEY", "k" * 40)
    login(client, "aigerim")
    monkeypatch.setenv("KUZET_HUB_PASSWORD", NEW_PASSWORD)
    assert main(["hub", "user", "passwd", "--config", str(config), "aigerim"]) == 0
    assert json.loads(capsys.readouterr().out)["logins_ended"] == 1
    assert not opens(client)
    login(client, "aigerim", NEW_PASSWORD)
    assert main(["hub", "user", "deactivate", "--config", str(config), "aigerim"]) == 0
    assert not opens(client)
    assert main(["hub", "user", "activate", "--config", str(config), "aigerim"]) == 0
    login(client, "aigerim", NEW_PASSWORD)
    assert opens(client)


def test_a_live_stream_ends_when_its_login_is_ended(tmp_path):
    """The proctor's live page on a real hub (waitress): a logout on the tablet ends the
    stream another copy of the cookie holds open."""
    server = HubServer(make_config(tmp_path, sse_keepalive_s=0.2), ingest=False).start()
    seed(server.services.writer)
    try:
        tablet = HttpSession(f"http://127.0.0.1:{server.port}")
        assert tablet.login("aigerim", PASSWORD).status == 302
        cookie = "; ".join(f"{c.name}={c.value}" for c in tablet.cookies)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/live/main/a101/stream", headers={"Cookie": cookie})
        stream = conn.getresponse()
        assert stream.status == 200 and stream.readline().startswith(b"retry:")
        assert tablet.request("/logout", {"csrf_token": tablet.csrf("/exams/")}).status == 302
        deadline, lines = time.monotonic() + 5, []
        while time.monotonic() < deadline and b"event: denied\n" not in lines:
            line = stream.readline()
            if not line:
                break
            lines.append(line)
        assert b"event: denied\n" in lines
        conn.close()
    finally:
        server.stop()
