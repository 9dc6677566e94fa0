"""Web security beyond the access matrix: login throttling (more in
test_hub_login_throttle.py), and security headers on every page the hub serves."""

from __future__ import annotations

import pytest

from tests.support.hub_env import PASSWORD, csrf_from


def login(client, username: str, password: str):
    """One login attempt; the response as it is."""
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def test_five_wrong_passwords_make_that_client_wait_for_that_name(client, seeded):
    for _ in range(5):
        assert login(client, "aigerim", "wrong password").status_code == 401
    blocked = login(client, "aigerim", PASSWORD)        # even the right password now waits
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "15"
    assert "Сәтсіз әрекеттер тым көп. 1 мин" in blocked.get_data(as_text=True)   # Kazakh
    assert login(client, "bolat", PASSWORD).status_code in (200, 302)   # others are not locked


PUBLIC_PAGES = ["/login", "/public/main/a101"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_security_headers_on_pages(client, seeded, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"


def test_every_get_route_sends_the_headers(app, client, seeded):
    """Every route the app has, whatever it answers (a login redirect, a 404 …)."""
    paths = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = rule.rule
        for arg in rule.arguments:
            for pattern, value in ((f"<{arg}>", "x"), (f"<int:{arg}>", "1"),
                                   (f"<path:{arg}>", "x")):
                path = path.replace(pattern, value)
        paths.add(path)
    assert len(paths) > 20
    for path in sorted(paths):
        r = client.get(path)
        assert r.status_code < 500, path
        assert r.headers.get("X-Frame-Options") == "DENY", path
        assert "Content-Security-Policy" in r.headers, path
