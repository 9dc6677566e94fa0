"""Password guessing is slowed per client and user name with growing delays, and a looser cap
per client; it never locks the real user out on another client. The client's address comes
from X-Forwarded-For only when the peer is one of ``[web] trusted_proxies``."""

from __future__ import annotations

import pytest

from hub.server import HubServer
from hub.store.db import connect
from hub.web.ratelimit import BackoffLimiter
from tests.support.http_session import HttpSession
from tests.support.hub_env import PASSWORD, csrf_from, make_config, seed

WRONG = "wrong password"


def attempt(client, username: str, password: str):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def test_delays_grow_after_the_free_failures_and_a_success_forgets_them():
    now = [0.0]
    lim = BackoffLimiter(free=3, base_s=10, max_s=60, forget_s=3600, clock=lambda: now[0])
    for _ in range(3):
        assert lim.retry_after("k") == 0
        lim.failed("k")
    assert lim.retry_after("k") == pytest.approx(10)
    now[0] = 10
    lim.failed("k")
    assert lim.retry_after("k") == pytest.approx(20)      # doubled
    now[0] = 30
    lim.failed("k")
    lim.failed("k")
    assert lim.retry_after("k") == pytest.approx(60)      # capped
    assert lim.retry_after("other") == 0
    lim.succeeded("k")
    assert lim.retry_after("k") == 0
    for _ in range(4):
        lim.failed("k")
    now[0] = 30 + 3601
    assert lim.retry_after("k") == 0                      # forgotten an hour later
    lim.failed("k")
    assert lim.retry_after("k") == 0                      # counting starts again


def test_an_attacker_on_one_client_does_not_lock_out_the_user_on_another(app, seeded):
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "10.1.0.66"
    for _ in range(20):
        assert attempt(attacker, "aigerim", WRONG).status_code in (401, 429)
    assert attempt(attacker, "aigerim", PASSWORD).status_code == 429   # the guesser waits
    for n in range(15):                                     # then sprays other names
        assert attempt(attacker, f"user{n}", WRONG).status_code == 401
    assert attempt(attacker, "bolat", PASSWORD).status_code == 429     # now on every name
    user = app.test_client()
    user.environ_base["REMOTE_ADDR"] = "10.1.0.7"
    assert attempt(user, "aigerim", PASSWORD).status_code == 302        # at once


def test_failures_for_one_name_do_not_slow_other_names_from_that_client(app, seeded):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = "10.1.0.8"
    for _ in range(6):
        attempt(c, "aigerim", WRONG)
    assert attempt(c, "aigerim", PASSWORD).status_code == 429
    assert attempt(c, "bolat", PASSWORD).status_code == 302            # below the client cap


def hub(tmp_path, trusted: list[str]) -> HubServer:
    server = HubServer(make_config(tmp_path, trusted_proxies=trusted), ingest=False).start()
    seed(server.services.writer)
    return server


def audited_addresses(server, action: str) -> list[str]:
    conn = connect(server.services.db_path, readonly=True)
    rows = conn.execute("SELECT remote_addr FROM audit WHERE action=? ORDER BY id",
                        (action,)).fetchall()
    conn.close()
    return [r[0] for r in rows]


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path):
    server = hub(tmp_path, ["192.0.2.10"])               # the proxy is elsewhere
    try:
        base = f"http://127.0.0.1:{server.port}"
        for n in range(25):          # a new forged address each time, to dodge the throttle
            HttpSession(base, {"X-Forwarded-For": f"10.9.0.{n}"}).login("aigerim", WRONG)
        r = HttpSession(base, {"X-Forwarded-For": "10.9.1.1"}).login("aigerim", PASSWORD)
        assert r.status == 429                            # it is still 127.0.0.1 asking
        assert set(audited_addresses(server, "login.failed")) == {"127.0.0.1"}
    finally:
        server.stop()


def test_behind_the_trusted_proxy_clients_are_told_apart(tmp_path):
    server = hub(tmp_path, ["127.0.0.1"])
    try:
        base = f"http://127.0.0.1:{server.port}"
        # the proxy appends the address it saw; what the client wrote before is not believed
        attacker = HttpSession(base, {"X-Forwarded-For": "6.6.6.6, 10.2.0.66"})
        for _ in range(20):
            attacker.login("aigerim", WRONG)
        assert attacker.login("aigerim", PASSWORD).status == 429
        user = HttpSession(base, {"X-Forwarded-For": "10.2.0.7"})
        assert user.login("aigerim", PASSWORD).status == 302
        assert set(audited_addresses(server, "login.failed")) == {"10.2.0.66"}
        assert audited_addresses(server, "login") == ["10.2.0.7"]
    finally:
        server.stop()


@pytest.mark.parametrize("peer, forwarded, client", [
    ("127.0.0.1", "10.2.0.7", "10.2.0.7"),
    ("127.0.0.1", "6.6.6.6, 10.2.0.7", "10.2.0.7"),      # the client wrote 6.6.6.6 itself
    ("127.0.0.1", "10.2.0.7, 10.0.0.2", "10.2.0.7"),     # through two trusted proxies
    ("127.0.0.1", "", "127.0.0.1"),
    ("127.0.0.1", "10.0.0.2", "10.0.0.2"),               # only trusted hops: the leftmost
    ("127.0.0.1", "10.2.0.7, garbage", "127.0.0.1"),     # nothing beyond a bad hop
    ("127.0.0.1", "2001:db8::7", "2001:db8::7"),
])
def test_the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy(peer, forwarded,
                                                                          client):
    from hub.web.proxies import TrustedProxies

    proxies = TrustedProxies(lambda *a: None, ["127.0.0.1", "10.0.0.0/24"])
    assert proxies.client(peer, forwarded) == client


def test_trusted_proxies_must_be_addresses_or_networks(tmp_path):
    from hub.config import load_config
    from kuzet.errors import ConfigError

    path = tmp_path / "hub.toml"
    path.write_text('[web]\ntrusted_proxies = ["127.0.0.1", "proxy.local"]\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "web.trusted_proxies" in str(exc.value) and "proxy.local" in str(exc.value)
