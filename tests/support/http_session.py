"""A browser's HTTP session in a few lines (urllib): cookies kept, redirects not followed,
extra headers on every request, for attack tests against a real HubServer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookiejar import CookieJar
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str


class HttpSession:
    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.headers = dict(headers or {})
        self.cookies = CookieJar()
        self._opener = build_opener(HTTPCookieProcessor(self.cookies), _NoRedirect)

    def request(self, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        data = urlencode(form).encode() if form is not None else None
        req = Request(self.base + path, data=data, headers={**self.headers, **(headers or {})})
        try:
            with self._opener.open(req, timeout=30) as r:
                return Reply(r.status, dict(r.headers), r.read().decode("utf-8", "replace"))
        except HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")
            return Reply(exc.code, dict(exc.headers), body)

    def csrf(self, path: str = "/login") -> str:
        m = re.search(r'name="csrf_token" value="([^"]+)"', self.request(path).text)
        assert m, f"no CSRF token on {path}"
        return m.group(1)

    def login(self, username: str, password: str,
              headers: dict[str, str] | None = None) -> Reply:
        """One attempt through the login form (a fresh CSRF token first)."""
        token = self.csrf()
        return self.request("/login", {"username": username, "password": password,
                                       "csrf_token": token}, headers)
