"""The client's address behind a reverse proxy, believed only from a trusted proxy.

``X-Forwarded-For`` is what the client and each proxy on the way wrote: anyone can send one.
:class:`TrustedProxies` (WSGI middleware) reads it only when the peer of the TCP connection is
one of ``[web] trusted_proxies``, and then takes the rightmost address that is not a trusted
proxy (each proxy appends the address it saw; what stands left of that was written by the
client). From any other peer the forwarding headers are removed and the peer is the client.
``X-Forwarded-Proto`` from a trusted proxy sets the URL scheme.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                      "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_BY", "HTTP_FORWARDED")
PEER_KEY = "kuzet.peer_addr"           # the TCP peer, kept in the environ for the logs


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, app: Callable[..., Any], trusted: Iterable[str]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(self, address: str) -> bool:
        addr = _address(address)
        return addr is not None and any(addr in net for net in self.networks)

    def client(self, peer: str, forwarded_for: str) -> str:
        """The client's address given a trusted ``peer`` and its ``X-Forwarded-For``."""
        client = peer
        for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
            addr = _address(hop)
            if addr is None:                  # not an address: believe nothing beyond it
                break
            client = str(addr)
            if not self.is_trusted(client):
                break
        return client

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        peer = environ.get("REMOTE_ADDR", "")
        environ[PEER_KEY] = peer
        if self.is_trusted(peer):
            environ["REMOTE_ADDR"] = self.client(peer, environ.get("HTTP_X_FORWARDED_FOR", ""))
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        else:
            for name in FORWARDING_HEADERS:
                environ.pop(name, None)
        return self.app(environ, start_response)
