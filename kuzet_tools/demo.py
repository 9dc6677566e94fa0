"""``kuzet demo``: the main job on embedded defaults, on real footage, in two rooms.

Starts a broker (mosquitto on a free port), the hub with a fresh SQLite database, demo users
and an exam session running now in two rooms, each with its own edge node:

- room A (``main/a101``), a real classroom: ``footage/classroom.gif`` (CC BY 4.0, Intel sample
  videos), four students seated, with its four-seat map and the node's DEFAULT rules, as a real
  exam has them. Nothing happens there, and nothing should be raised.
- room B (``main/a102``), a hallway: Debian opencv-doc's ``vtest.avi`` (people walking, a
  30-seat grid over the walkway) with shortened rule durations, so alerts come within a minute.

Prints the URLs, the demo logins and what to try. ``--smoke SECONDS`` runs the same headless
and exits 0 only if an alert went all the way in room B (node → broker → hub → the proctor's
live page, its SSE stream) while room A's node ran and raised none (on its live page and in
the hub's database).
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)
PASSWORD = "kuzet-demo"
LOGINS = {"proctor": "proctor", "dean": "dean", "tech": "technician", "admin": "admin"}
BUILDING = "main"
QUIET_WATCH_S = 20.0     # the smoke watches the quiet room at least this long before judging


@dataclass(frozen=True)
class DemoRoom:
    """One room of the demo: its node's footage and set-up, and what a visitor should see."""

    label: str                   # "A", "B": how the printed guide names it
    room: str
    title: str
    footage: str
    expect: str
    write_node: Callable[..., Path]       # a kuzet_tools.examples writer


def rooms() -> tuple[DemoRoom, DemoRoom]:
    """Room A, the quiet classroom, and room B, the busy hallway."""
    from kuzet_tools.examples import write_classroom_node, write_vtest_node

    def hallway(folder: Path, **kw) -> Path:
        return write_vtest_node(folder, loop=True, **kw)

    return (DemoRoom("A", "a101", "Room A101 (classroom)",
                     "a real classroom (classroom.gif, the default rules)",
                     "four students sit quietly: nothing should be raised",
                     write_classroom_node),
            DemoRoom("B", "a102", "Room A102 (hallway, vtest.avi)",
                     "a hallway video (vtest.avi, shortened rule durations)",
                     "people walk through the seats: alerts within a minute",
                     hallway))


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the demo: broker + hub + two rooms, an edge node "
                          "each, on real footage (a quiet classroom, a busy hallway; example: "
                          "kuzet demo, or kuzet demo --smoke 60)")
    demo.add_argument("--smoke", type=float, metavar="SECONDS", default=None,
                      help="headless check: exit 0 once an alert reached the hallway's live "
                      "page while the classroom raised none")
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


def seed(hub, seatmaps: dict[str, tuple[str, dict]], fresh: bool = True) -> None:
    """Demo users (one per role) and each room's seat map (``room: (title, map)``) in a fresh
    hub, and in each room an exam session running from now on, the proctor's (a demo run
    again in the same folder gets new sessions, unless the last run's still run: a room holds
    one exam at a time)."""
    from hub.store import rooms, sessions, users

    w = hub.services.writer
    if fresh:
        for username, role in LOGINS.items():
            w.call(users.add_user, username, PASSWORD, role, username.title())
        for room, (title, seatmap) in seatmaps.items():
            w.call(rooms.load_seatmap, BUILDING, room, seatmap, title)
        w.call(users.set_buildings, w.call(users.id_of, "dean"), [BUILDING])
    now = datetime.now(UTC)
    for room in seatmaps:
        try:
            w.call(sessions.add_session, BUILDING, room, "proctor",
                   now - timedelta(minutes=5) if fresh else now, now + timedelta(hours=3),
                   "Demo exam")
        except sessions.SessionRefused:      # one room, one exam: the last run's still runs
            pass


class LivePage:
    """A proctor's live page, as a browser holds it: logged in, the room's SSE stream open."""

    def __init__(self, base: str, username: str, password: str, room: str) -> None:
        self.base = base
        self.room = room
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
        url = f"{self.base}/live/{BUILDING}/{self.room}/stream"
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


def guide(base: str, work: Path, demo_rooms: tuple[DemoRoom, ...], seats: dict[str, int]
          ) -> str:
    """What the demo prints at start: where to go, who to log in as, what to try and expect."""
    lines = [f"Kuzet demo: open {base}/ and log in (password {PASSWORD!r}):"]
    lines += [f"  {role:10} {username}" for username, role in LOGINS.items()]
    lines.append(f"Two rooms of building {BUILDING!r}, an exam running in each, one node each:")
    for r in demo_rooms:
        lines += [f"  room {r.label} ({BUILDING}/{r.room}): {r.footage}, {seats[r.room]} seats;"
                  f" {r.expect}.",
                  f"      the proctor's page: {base}/proctor/room/{BUILDING}/{r.room}"]
    a, b = demo_rooms
    lines += [
        "What to try:",
        f"  - as proctor: open room {b.label}, watch alerts arrive on the seat map, tap a seat"
        " for its evidence, confirm an alert and print its protocol (PDF);",
        f"  - as proctor: open room {a.label}: it stays quiet (the default rules on a real"
        " classroom);",
        "  - as dean: both rooms on one page; as tech: both nodes' health.",
        f"Files in {work}. Ctrl-C stops.",
    ]
    return "\n".join(lines)


def _demo(args) -> int:
    from edge.config import load_config
    from edge.node import EdgeNode
    from edge.seats import load_seat_map
    from kuzet.errors import KuzetError
    from kuzet_tools.broker import MosquittoBroker
    from kuzet_tools.examples import CLASSROOM, VTEST

    if not VTEST.exists():
        raise KuzetError(f"{VTEST} is missing: install Debian's opencv-doc (./demo does)")
    if not CLASSROOM.exists():
        raise KuzetError(f"{CLASSROOM} is missing: it ships in the repository (git checkout)")
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        raise KuzetError("mosquitto is missing: install Debian's mosquitto (./demo does)")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="kuzet-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    _stop_on_signals()
    demo_rooms = rooms()
    quiet, busy = demo_rooms
    with MosquittoBroker(work / "broker") as broker:
        # both nodes are "cam1" of their room; their MQTT client ids differ by default
        # (edge.publisher.default_client_id: building, room and node)
        configs = {r.room: r.write_node(work / _node_dir(r), broker_port=broker.port,
                                        room=r.room, building=BUILDING)
                   for r in demo_rooms}
        fresh = not (work / "hub").exists()
        hub = start_hub(work / "hub", broker.port, _free(args.port))
        nodes: list[tuple[EdgeNode, threading.Thread]] = []
        try:
            maps = {r.room: load_seat_map(configs[r.room].parent / "seats.json")
                    .model_dump(mode="json") for r in demo_rooms}
            seed(hub, {r.room: (r.title, maps[r.room]) for r in demo_rooms}, fresh)
            for r in demo_rooms:
                node = EdgeNode(load_config(configs[r.room]))
                runner = threading.Thread(target=node.run, name=f"edge-node-{r.room}",
                                          daemon=True)
                runner.start()
                nodes.append((node, runner))
            started = time.monotonic()
            base = f"http://127.0.0.1:{hub.port}"
            print(guide(base, work, demo_rooms,
                        {r: len(m["seats"]) for r, m in maps.items()}), flush=True)
            if args.smoke is not None:
                result = smoke(hub, base, quiet.room, busy.room, args.smoke, started)
                print(json.dumps(result))
                return 0 if result["ok"] else 1
            while all(runner.is_alive() for _, runner in nodes):
                time.sleep(0.5)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            for node, _ in nodes:
                node.stop_event.set()
            for _, runner in nodes:
                runner.join(15)
            hub.stop()


def _node_dir(r: DemoRoom) -> str:
    """Room B keeps the folder ``node`` (the single room's, before room A came)."""
    return "node" if r.label == "B" else f"node-{r.room}"


def smoke(hub, base: str, quiet_room: str, busy_room: str, seconds: float,
          started: float) -> dict:
    """Wait up to ``seconds`` for an alert on the busy room's live page, watching the quiet
    room for at least :data:`QUIET_WATCH_S`; then count what the quiet room raised: alerts on
    its live page and in the hub's database (both must be 0), and whether its node was heard
    (a quiet room whose node never ran proves nothing)."""
    from hub.store import alerts, nodes

    busy = LivePage(base, "proctor", PASSWORD, busy_room)
    quiet = LivePage(base, "proctor", PASSWORD, quiet_room)
    deadline = started + seconds
    try:
        got = busy.first_alert.wait(max(0.0, deadline - time.monotonic()))
        watch_until = min(deadline, started + QUIET_WATCH_S)
        while time.monotonic() < watch_until:
            time.sleep(0.2)
    finally:
        busy.close()
        quiet.close()
    w = hub.services.writer
    stored = w.call(alerts.room_alerts, BUILDING, quiet_room)
    heard = [n for n in w.call(nodes.room_nodes, BUILDING, quiet_room) if n["fps"]]
    quiet_alerts = len(quiet.alerts) + len(stored)
    reasons = []
    if not got:
        reasons.append(f"no alert reached room {busy_room}'s live page within {seconds} s")
    if quiet_alerts:
        reasons.append(f"the quiet room {quiet_room} raised {len(stored)} alerts: "
                       + ", ".join(sorted({a["rule"] for a in stored})))
    if not heard:
        reasons.append(f"the quiet room {quiet_room}'s node was never heard with frames")
    return {"ok": not reasons, "alerts_on_page": len(busy.alerts),
            "quiet_room": {"room": quiet_room, "alerts": len(stored),
                           "alerts_on_page": len(quiet.alerts),
                           "watched_s": round(time.monotonic() - started, 1),
                           "fps": heard[0]["fps"] if heard else None},
            "reason": "; ".join(reasons)}
