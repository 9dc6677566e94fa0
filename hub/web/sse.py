"""The live pages' Server-Sent Events loop, one for every stream: an opening ``retry``, each
batch of bus events as the stream renders it (or an idle line, so that a silent drop shows),
access re-checked every ``sse_keepalive_s`` (``denied`` and the end when it is gone), and the
end after ``sse_max_age_s`` (the browser reconnects by itself)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Response

DENIED = b"event: denied\ndata: {}\n\n"


def event_stream(sub, web, render: Callable[[list, bool], bytes | None],
                 still_allowed: Callable[[], bool], *, retry_ms: int, idle: bytes) -> Response:
    """``render(batch, overflowed)`` gives the bytes to send for a batch (None: nothing);
    ``still_allowed()`` re-reads the user's access (and may update what ``render`` shows)."""
    def events():
        try:
            yield f"retry: {retry_ms}\n: open\n\n".encode()
            started = last_check = time.monotonic()
            while True:
                batch = sub.get(timeout=web.sse_keepalive_s)
                yield render(batch, sub.take_overflow()) or idle
                now = time.monotonic()
                if now - last_check >= web.sse_keepalive_s:
                    last_check = now
                    if not still_allowed():
                        yield DENIED
                        return
                if now - started >= web.sse_max_age_s or sub.closed:
                    return
        finally:
            sub.close()

    return Response(events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
