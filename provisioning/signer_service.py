"""The signer as its own service: ``kuzet provision signer`` listens on a unix socket and is the
only process that reads ``ca.key`` (systemd/kuzet-signer.service, user ``kuzet-signer``); the
hub's enrolment asks it through ``SignerClient``.

One JSON object per line each way, at most ``MAX_REQUEST`` bytes. The requests, and nothing
else:

* ``{"op": "issue", "node": "<building>/<room>/<name>"}``: a client certificate for a node
  in the registry that is not revoked (its earlier certificates are revoked first);
  answers ``{"ok": true, "serial", "cert_pem", "key_pem"}``;
* ``{"op": "revoke", "node": …}``: every certificate issued to that node on the CRL;
* ``{"op": "ca"}``: the CA's certificate (public).

Anything else, an unknown key, or a node id the registry does not hold is refused with
``{"ok": false, "error": …}``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
from pathlib import Path

from provisioning.ca import Issued
from provisioning.registry import RegistryError, parse_node_id
from provisioning.signer import Signer, SignerError

MAX_REQUEST = 4096
log = logging.getLogger(__name__)
FIELDS = {"issue": {"op", "node"}, "revoke": {"op", "node"}, "ca": {"op"}}


def answer(signer: Signer, line: bytes) -> dict:
    """The reply to one request line (never raises for a bad request)."""
    try:
        request = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return {"ok": False, "error": "not a JSON request"}
    if not isinstance(request, dict) or request.get("op") not in FIELDS:
        return {"ok": False, "error": "refused: the signer only issues, revokes and shows "
                                      "the CA for registered node ids"}
    op = request["op"]
    if set(request) != FIELDS[op] or (op != "ca" and not isinstance(request["node"], str)):
        return {"ok": False, "error": f"refused: {op} takes exactly {sorted(FIELDS[op])}"}
    try:
        if op == "ca":
            return {"ok": True, "ca_pem": signer.ca_pem.decode()}
        if op == "revoke":
            signer.revoke(request["node"])
            return {"ok": True}
        issued = signer.issue(request["node"])
    except (SignerError, RegistryError) as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "serial": str(issued.serial), "cert_pem": issued.cert_pem.decode(),
            "key_pem": issued.key_pem.decode()}


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST + 1)
        if len(line) > MAX_REQUEST:
            reply = {"ok": False, "error": "request too long"}
        else:
            with self.server.lock:                      # type: ignore[attr-defined]
                reply = answer(self.server.signer, line)  # type: ignore[attr-defined]
        if not reply["ok"]:
            log.warning("signer refused a request: %s", reply["error"])
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class SignerService(socketserver.ThreadingUnixStreamServer):
    """``serve_forever()`` answers requests on ``socket_path`` (mode 0660: the hub reaches it
    through the socket's group)."""

    daemon_threads = True

    def __init__(self, signer: Signer, socket_path: str | Path) -> None:
        self.signer = signer
        self.lock = threading.Lock()
        self.socket_path = Path(socket_path)
        self.socket_path.unlink(missing_ok=True)
        super().__init__(str(self.socket_path), _Handler)
        os.chmod(self.socket_path, 0o660)

    def server_close(self) -> None:
        super().server_close()
        self.socket_path.unlink(missing_ok=True)


class SignerClient:
    """The hub's side: a ``NodeSigner`` that asks the signer service and never sees the key."""

    def __init__(self, socket_path: str | Path, timeout_s: float = 30.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout_s = timeout_s
        self._ca_pem: bytes | None = None

    def ask(self, request: dict) -> dict:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout_s)
                s.connect(str(self.socket_path))
                s.sendall(json.dumps(request).encode() + b"\n")
                with s.makefile("rb") as fh:
                    reply = json.loads(fh.readline() or b"{}")
        except (OSError, ValueError) as exc:
            raise SignerError(f"the signer at {self.socket_path} did not answer: {exc}") \
                from None
        if not reply.get("ok"):
            raise SignerError(reply.get("error") or "the signer refused")
        return reply

    def issue(self, node_id: str) -> Issued:
        b, r, n = parse_node_id(node_id)
        reply = self.ask({"op": "issue", "node": node_id})
        return Issued(f"node.{b}.{r}.{n}", int(reply["serial"]), reply["cert_pem"].encode(),
                      reply["key_pem"].encode())

    def revoke(self, node_id: str) -> None:
        self.ask({"op": "revoke", "node": node_id})

    @property
    def ca_pem(self) -> bytes:
        if self._ca_pem is None:
            self._ca_pem = self.ask({"op": "ca"})["ca_pem"].encode()
        return self._ca_pem
