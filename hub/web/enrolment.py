"""Where a Pi fetches its enrolment bundle with a one-time code: ``POST /enrol/fetch``.

No session and no CSRF token (the Pi has neither): the code is the credential. It is single
use and expires (``provisioning.registry``); attempts are limited per address
(``provisioning.fetch_attempts`` per 10 minutes) and in total, so codes cannot be guessed.
In production the hub serves this over HTTPS only (the bundle holds the node's private key);
see docs/provisioning.md.

    curl --fail --cacert ca.crt -o bundle.tar.gz --data-urlencode code=1a2b3c-4d5e6f-7a8b9c \\
        https://hub.local/enrol/fetch
"""

from __future__ import annotations

import threading
import time
from collections import deque
from io import BytesIO

from flask import Blueprint, current_app, jsonify, request, send_file

from hub.web.security import writer
from kuzet.errors import KuzetError

bp = Blueprint("enrolment", __name__, url_prefix="/enrol")
WINDOW_S = 600.0
TOTAL_FACTOR = 10                    # all addresses together: ten times one address's limit


class RateLimit:
    """At most ``per_key`` attempts per key, and ``total`` overall, in a sliding window."""

    def __init__(self, per_key: int, total: int, window_s: float = WINDOW_S) -> None:
        self.per_key, self.total, self.window_s = per_key, total, window_s
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            for q in (self._all, *self._hits.values()):
                while q and q[0] <= now - self.window_s:
                    q.popleft()
            self._hits = {k: q for k, q in self._hits.items() if q}
            mine = self._hits.setdefault(key, deque())
            if len(mine) >= self.per_key or len(self._all) >= self.total:
                return False
            mine.append(now)
            self._all.append(now)
            return True


def _limiter() -> RateLimit:
    ext = current_app.extensions
    if "kuzet_enrol_limit" not in ext:
        n = current_app.config["KUZET_CONFIG"].provisioning.fetch_attempts
        ext["kuzet_enrol_limit"] = RateLimit(n, n * TOTAL_FACTOR)
    return ext["kuzet_enrol_limit"]


def _audit(action: str, target: str, **detail) -> None:
    from hub.store import audit

    writer().call(audit.record, None, action, target, None, None, detail,
                  request.remote_addr or "")


@bp.post("/fetch")
def fetch():
    bridge = current_app.extensions.get("kuzet_provisioning")
    if bridge is None:
        return jsonify({"error": "enrolment is not enabled on this hub"}), 404
    if not _limiter().allow(request.remote_addr or ""):
        _audit("node.fetch.limited", "")
        return jsonify({"error": "too many attempts; wait ten minutes"}), 429
    code = (request.form.get("code") or "").strip()
    if not code or len(code) > 64:
        return jsonify({"error": "no code"}), 400
    try:
        bundle = bridge.redeem(code)
    except KuzetError as exc:
        _audit("node.fetch.refused", "", why=str(exc)[:200])
        return jsonify({"error": str(exc)}), 403
    d = bundle.device
    _audit("node.fetch", d.node_id, serial=d.serial)
    resp = send_file(BytesIO(bundle.data), mimetype="application/gzip", as_attachment=True,
                     download_name=bundle.filename)
    resp.headers["Cache-Control"] = "no-store"
    return resp
