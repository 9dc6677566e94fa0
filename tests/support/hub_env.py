"""Helpers for the hub's tests: a config in a temp folder, seeded users, rooms and sessions,
logging in with the Flask test client, and reading the hub's database. Fixtures live in
tests/support/hub_fixtures.py (loaded by tests/conftest.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from werkzeug.security import generate_password_hash

from hub.config import HubConfig, parse_config
from hub.store import rooms, sessions, users
from hub.store.db import connect

PASSWORD = "correct horse battery"
SECRET = "test-secret-key-0123456789abcdef-0123456789"

USERS = {  # username -> role
    "aigerim": "proctor",     # proctor of main/a101 (running now)
    "bolat": "proctor",       # proctor of main/b202 (running now)
    "dana": "proctor",        # proctor of main/a101, but her session ended yesterday
    "dean": "dean",
    "tech": "technician",
    "admin": "admin",
}


def make_config(tmp: Path, broker_port: int = 1883, **web) -> HubConfig:
    return parse_config({
        "hub": {"data_dir": str(tmp / "hub"), "timezone": "Asia/Almaty"},
        "web": {"host": "127.0.0.1", "port": 0, "secret_key": SECRET, "cookie_secure": False,
                "threads": 24, **web},
        "broker": {"host": "127.0.0.1", "port": broker_port,
                   "client_id": f"hub-test-{tmp.name[-20:]}"},
    }, "test-hub.toml")


def seatmap(room: str = "a101", rows: int = 3, cols: int = 5) -> dict:
    """A rows × cols seat map on an 800×600 frame; seat r2s3 belongs to a named student."""
    seats = []
    w, h = 800 / cols, 600 / rows
    for r in range(rows):
        for c in range(cols):
            x, y = c * w + 10, r * h + 10
            sid = f"r{r + 1}s{c + 1}"
            seat = {"id": sid, "polygon": [[x, y], [x + w - 20, y], [x + w - 20, y + h - 20],
                                           [x, y + h - 20]]}
            if sid == "r2s3":
                seat["student"] = "Әлия Нұрланқызы"
            seats.append(seat)
    return {"room": room, "frame_size": [800, 600], "seats": seats}


@lru_cache(maxsize=1)
def _hash() -> str:
    return generate_password_hash(PASSWORD)


@dataclass
class Seeded:
    ids: dict[str, int]


def seed(writer, *, a101_now: bool = True) -> Seeded:
    """Users of every role (the dean oversees building ``main``), two rooms with seat maps,
    and the proctors' sessions; without ``a101_now``, no session in a101 now (a test that
    schedules its own: one room holds one exam at a time)."""
    ids = {}
    for name, role in USERS.items():
        ids[name] = writer.call(users.add_user, name, PASSWORD, role, name.title(),
                                password_hash=_hash())
    writer.call(users.set_buildings, ids["dean"], ["main"])
    for room in ("a101", "b202"):
        writer.call(rooms.load_seatmap, "main", room, seatmap(room), f"Room {room.upper()}")
    now = datetime.now(UTC)
    if a101_now:
        writer.call(sessions.add_session, "main", "a101", "aigerim", now - timedelta(hours=1),
                    now + timedelta(hours=2))
    writer.call(sessions.add_session, "main", "b202", "bolat", now - timedelta(hours=1),
                now + timedelta(hours=2))
    writer.call(sessions.add_session, "main", "a101", "dana", now - timedelta(days=1, hours=3),
                now - timedelta(days=1))
    return Seeded(ids)


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log the test client in; returns the CSRF token of the new session."""
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf_token": token})
    assert r.status_code == 302, r.text[:500]
    return csrf_from(client.get("/login").text)


def read(services, fn, *args):
    """``fn(conn, *args)`` on a read-only connection to the hub's database."""
    conn = connect(services.db_path, readonly=True)
    try:
        return fn(conn, *args)
    finally:
        conn.close()
