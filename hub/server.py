"""One hub process: the ingest worker, the writer and the web app, served by waitress.

Why one process: live pages need the writer's events within a second; in one process they
travel through an in-memory bus (``hub.bus``) with no extra broker or database polling, and a
Pi 5 has one writer either way. Waitress is a pure-Python threaded WSGI server (it runs on a
Pi and flushes each SSE chunk at once, ``send_bytes=1``); every open live page holds one of
its ``web.threads`` threads, so keep that above the number of tablets plus a margin.
"""

from __future__ import annotations

import logging
import threading

from waitress import create_server
from waitress.wasyncore import close_all

from hub.config import HubConfig
from hub.services import HubServices
from hub.web.app import create_app

log = logging.getLogger(__name__)


class HubServer:
    """``start()`` serves in a background thread; ``port`` is the bound port (``web.port = 0``
    picks a free one); ``stop()`` ends live streams, the web server and the services."""

    def __init__(self, config: HubConfig, *, ingest: bool | None = None) -> None:
        self.config = config
        self.services = HubServices(config)
        self._ingest = ingest
        self.app = None
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> HubServer:
        self.services.start(ingest=self._ingest)
        self.app = create_app(self.config, self.services)
        w = self.config.web
        self._sockets: dict = {}               # waitress's socket map, ours to close at stop
        self._server = create_server(self.app, map=self._sockets, host=w.host, port=w.port,
                                     threads=w.threads,
                                     connection_limit=w.connection_limit, ident="kuzet-hub",
                                     channel_timeout=120,
                                     # without trusted proxies waitress drops X-Forwarded-*;
                                     # with them hub.web.proxies decides whom to believe
                                     clear_untrusted_proxy_headers=not w.trusted_proxies)
        self._thread = threading.Thread(target=self._server.run, name="hub-web", daemon=True)
        self._thread.start()
        log.info("hub serving on http://%s:%s", w.host, self.port)
        return self

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    def wait(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=1)

    def stop(self) -> None:
        self.services.bus.close_all()          # live streams end, their threads free up
        if self._server is not None and self._thread is not None:
            server = self._server
            # Let the worker threads finish first (a live stream's last write wakes the loop
            # through its trigger, which must still be open), then close every socket
            # inside waitress's own loop thread (closing them from here races with the
            # loop); an empty socket map ends the loop.
            server.task_dispatcher.shutdown(timeout=5)
            try:
                server.trigger.pull_trigger(lambda: close_all(self._sockets))
            except OSError:                   # the loop already closed its trigger
                close_all(self._sockets)
            self._thread.join(timeout=5)
        self.services.stop()
