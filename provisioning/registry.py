"""The hub's device registry: which nodes exist, where, their certificate, enrolled or revoked.

SQLite (``devices.db`` in the provisioning folder). Enrolment codes are stored only as
SHA-256 hashes, used once, and expire.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from kuzet.contract import NAME_RE
from kuzet.errors import KuzetError


class RegistryError(KuzetError):
    pass


@dataclass(frozen=True)
class Device:
    building: str
    room: str
    name: str
    serial: str | None
    status: str          # "new" (no certificate yet) | "enrolled" | "revoked"
    created: float

    @property
    def node_id(self) -> str:
        return f"{self.building}/{self.room}/{self.name}"

    @property
    def common_name(self) -> str:
        """The certificate's CN, which the broker uses as MQTT username and client id."""
        return f"node.{self.building}.{self.room}.{self.name}"


def parse_node_id(node_id: str) -> tuple[str, str, str]:
    parts = node_id.split("/")
    if len(parts) != 3 or not all(NAME_RE.match(p) for p in parts):
        raise RegistryError(f"node id {node_id!r} is not building/room/name "
                            "(letters, digits, - and _)")
    return parts[0], parts[1], parts[2]


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class DeviceRegistry:
    """``readonly``: the signer's view (it reads the hub's registry, never writes it). The
    file uses a rollback journal, not WAL, so that a reader of another user needs only read
    access to it (a WAL reader must write the ``-shm`` file); it is made 0640."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10,
                                       isolation_level=None, check_same_thread=False)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=10)
        self._db.execute("PRAGMA journal_mode=DELETE")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS devices (building TEXT, room TEXT, name TEXT,"
            " serial TEXT, status TEXT NOT NULL, created REAL NOT NULL, revoked_at REAL,"
            " code_hash TEXT, code_expires REAL, PRIMARY KEY (building, room, name))")
        if self.path.stat().st_uid == os.getuid():
            os.chmod(self.path, 0o640)

    def _row(self, r) -> Device:
        return Device(r[0], r[1], r[2], r[3], r[4], r[5])

    def add(self, node_id: str) -> Device:
        b, r, n = parse_node_id(node_id)
        try:
            self._db.execute("INSERT INTO devices (building, room, name, status, created)"
                             " VALUES (?, ?, ?, 'new', ?)", (b, r, n, time.time()))
        except sqlite3.IntegrityError:
            raise RegistryError(f"node {node_id} exists already") from None
        return self.get(node_id)

    def get(self, node_id: str) -> Device:
        b, r, n = parse_node_id(node_id)
        row = self._db.execute("SELECT building, room, name, serial, status, created FROM"
                               " devices WHERE building=? AND room=? AND name=?",
                               (b, r, n)).fetchone()
        if row is None:
            raise RegistryError(f"no node {node_id} in the registry")
        return self._row(row)

    def all(self) -> list[Device]:
        return [self._row(r) for r in self._db.execute(
            "SELECT building, room, name, serial, status, created FROM devices"
            " ORDER BY building, room, name")]

    def enrolled(self) -> list[Device]:
        return [d for d in self.all() if d.status == "enrolled"]

    def set_certificate(self, node_id: str, serial: int) -> None:
        b, r, n = parse_node_id(node_id)
        self._db.execute("UPDATE devices SET serial=?, status='enrolled', revoked_at=NULL"
                         " WHERE building=? AND room=? AND name=?", (str(serial), b, r, n))

    def revoke(self, node_id: str) -> Device:
        device = self.get(node_id)
        b, r, n = parse_node_id(node_id)
        self._db.execute("UPDATE devices SET status='revoked', revoked_at=?, code_hash=NULL"
                         " WHERE building=? AND room=? AND name=?", (time.time(), b, r, n))
        return device

    def new_code(self, node_id: str, ttl_s: float = 3600) -> str:
        """A one-time enrolment code (shown once to the technician)."""
        self.get(node_id)
        code = "-".join(secrets.token_hex(3) for _ in range(3))
        b, r, n = parse_node_id(node_id)
        self._db.execute("UPDATE devices SET code_hash=?, code_expires=? WHERE building=? AND"
                         " room=? AND name=?", (_hash(code), time.time() + ttl_s, b, r, n))
        return code

    def redeem_code(self, code: str) -> Device:
        """The device the code was made for; the code is spent whatever happens next."""
        row = self._db.execute("SELECT building, room, name, serial, status, created,"
                               " code_expires FROM devices WHERE code_hash=?",
                               (_hash(code.strip()),)).fetchone()
        if row is None:
            raise RegistryError("unknown or already used enrolment code")
        self._db.execute("UPDATE devices SET code_hash=NULL WHERE code_hash=?",
                         (_hash(code.strip()),))
        if row[6] is not None and row[6] < time.time():
            raise RegistryError("the enrolment code has expired")
        if row[4] == "revoked":
            raise RegistryError("the node is revoked")
        return self._row(row)

    def close(self) -> None:
        self._db.close()
