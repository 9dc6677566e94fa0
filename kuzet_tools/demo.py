"""``kuzet demo``: the main job on embedded defaults, on real footage.

Starts a broker (mosquitto on a free port), the hub with a fresh SQLite database, demo users
and an exam session running now in room ``main/a101``, and an edge node reading Debian
opencv-doc's ``vtest.avi`` (a real video of people walking, with a 30-seat map over the
walkway). Prints the URL and the demo logins: open it, log in as the proctor, and watch the
alerts arrive live. ``--smoke SECONDS`` runs the same headless and exits 0 only if an alert
went all the way: node → broker → hub → a live page (the proctor's SSE stream).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import logging
import re
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)
PASSWORD = "kuzet-demo"
LOGINS = {"proctor": "proctor", "dean": "dean", "tech": "technician", "admin": "admin"}
BUILDING, ROOM = "main", "a101"


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the demo: broker + hub + edge node on real footage "
                          "(example: kuzet demo, or kuzet demo --smoke 60)")
    demo.add_argument("--smoke", type=float, metavar="SECONDS", default=None,
                      help="headless check: exit 0 once an alert reached a live page")
    demo.add_argument("--port", type=int, default=8080, help="the hub's web port (8080; "
                      "a free one if taken)")
    demo.add_argument("--workdir", default=None, help="keep the demo's files here")
    demo.set_defaults(func=_demo)


def _free(port: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            return 0


def start_hub(folder: Path, broker_port: int, web_port: int):
    from hub.config import parse_config
    from hub.server import HubServer

    cfg = parse_config({
        "hub": {"data_dir": str(folder), "timezone": "Asia/Almaty"},
        "web": {"host": "127.0.0.1", "port": web_port, "secret_key": secrets.token_hex(32),
                "cookie_secure": False},
        "broker": {"host": "127.0.0.1", "port": broker_port, "client_id": "kuzet-demo-hub"},
    }, "demo hub config")
    return HubServer(cfg).start()


def seed(hub, seatmap: dict, fresh: bool = True) -> None:
    """Demo users (one per role) and the room's seat map in a fresh hub, and an exam session
    running from now on (a demo run again in the same folder gets a new session, unless the
    last run's is still running: a room holds one exam at a time)."""
    from hub.store import rooms, sessions, users

    w = hub.services.writer
    if fresh:
        for username, role in LOGINS.items():
            w.call(users.add_user, username, PASSWORD, role, username.title())
        w.call(rooms.load_seatmap, BUILDING, ROOM, seatmap, "Room A101 (vtest.avi)")
        w.call(users.set_buildings, w.call(users.id_of, "dean"), [BUILDING])
    now = datetime.now(UTC)
    try:
        w.call(sessions.add_session, BUILDING, ROOM, "proctor",
               now - timedelta(minutes=5) if fresh else now, now + timedelta(hours=3),
               "Demo exam")
    except sessions.SessionRefused:      # one room, one exam: the last run's still runs
        pass


class LivePage:
    """A proctor's live page, as a browser holds it: logged in, the room's SSE stream open."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        html = self.opener.open(f"{base}/login", timeout=10).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        if token is None:
            raise RuntimeError("no CSRF token on the login page")
        form = urllib.parse.urlencode({"csrf_token": token.group(1), "username": username,
                                       "password": password}).encode()
        self.opener.open(f"{base}/login", data=form, timeout=10).read()
        self.alerts: list[dict] = []
        self.first_alert = threading.Event()
        self._closed = threading.Event()
        self._stream = None
        self._thread = threading.Thread(target=self._listen, name="demo-live-page", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Leave the page (before the hub stops, so that it has no stream to break)."""
        self._closed.set()
        if self._stream is not None:
            self._stream.close()
        self._thread.join(5)

    def _listen(self) -> None:
        url = f"{self.base}/live/{BUILDING}/{ROOM}/stream"
        while not self._closed.is_set():
            try:
                with self.opener.open(url, timeout=60) as stream:
                    self._stream = stream
                    event = None
                    for raw in stream:
                        line = raw.decode().rstrip("\n")
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:") and event == "alert":
                            self.alerts.append(json.loads(line[5:]))
                            self.first_alert.set()
            except (OSError, ValueError, AttributeError):
                # a dropped stream reconnects; closing it under the reader (``close``) ends
                # the read with ValueError or AttributeError, inside http.client
                self._closed.wait(1)


def _stop_on_signals() -> None:
    """systemd stops a service with SIGTERM and a closing terminal sends SIGHUP: either one
    stops the demo as Ctrl-C does, so the node, the hub and the broker are all shut down."""
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, stop)


def _demo(args) -> int:
    from edge.config import load_config
    from edge.node import EdgeNode
    from edge.seats import load_seat_map
    from kuzet.errors import KuzetError
    from kuzet_tools.broker import MosquittoBroker
    from kuzet_tools.examples import VTEST, write_vtest_node

    if not VTEST.exists():
        raise KuzetError(f"{VTEST} is missing: install Debian's opencv-doc (./demo does)")
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        raise KuzetError("mosquitto is missing: install Debian's mosquitto (./demo does)")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="kuzet-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    _stop_on_signals()
    with MosquittoBroker(work / "broker") as broker:
        node_cfg = write_vtest_node(work / "node", broker_port=broker.port, loop=True)
        fresh = not (work / "hub").exists()
        hub = start_hub(work / "hub", broker.port, _free(args.port))
        runner = None
        try:
            seed(hub, load_seat_map(work / "node" / "seats.json").model_dump(mode="json"),
                 fresh)
            node = EdgeNode(load_config(node_cfg))
            runner = threading.Thread(target=node.run, name="edge-node", daemon=True)
            runner.start()
            base = f"http://127.0.0.1:{hub.port}"
            print(f"Kuzet demo: open {base}/ and log in (password {PASSWORD!r}):", flush=True)
            for username, role in LOGINS.items():
                print(f"  {role:10} {username}", flush=True)
            print(f"The node reads {VTEST.name} with {len(node.seat_spec.seats)} seats in room "
                  f"{BUILDING}/{ROOM}; the proctor's page is {base}/proctor/room/{BUILDING}/"
                  f"{ROOM}. Files in {work}. Ctrl-C stops.", flush=True)
            if args.smoke is not None:
                page = LivePage(base, "proctor", PASSWORD)
                ok = page.first_alert.wait(args.smoke)
                page.close()
                print(json.dumps({"ok": ok, "alerts_on_page": len(page.alerts),
                                  "reason": "" if ok else
                                  f"no alert reached the live page within {args.smoke} s"}))
                return 0 if ok else 1
            while runner.is_alive():
                time.sleep(0.5)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            if runner is not None:
                node.stop_event.set()
                runner.join(15)
            hub.stop()
