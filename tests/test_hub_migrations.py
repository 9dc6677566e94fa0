"""Versioned migrations: from an empty database and from every earlier version, with data."""

from __future__ import annotations

import pytest
import sqlite_utils

from hub.store.db import connect
from hub.store.migrations import MIGRATIONS, current_version, latest_version, migrate

LATEST_TABLES = {"migrations", "users", "rooms", "sessions", "audit", "seen", "alerts",
                 "evidence", "nodes", "heartbeats", "rejected", "counters", "alert_notes",
                 "rounds", "session_proctors", "students", "session_seats", "commands",
                 "protocols", "retention_log", "user_buildings", "record_signers",
                 "signed_records", "web_logins", "seat_presence", "roster_photos",
                 "photo_retention_log", "face_matches", "photo_embeddings", "check_ins",
                 "check_in_crops"}


def db_at(tmp_path, version: int) -> sqlite_utils.Database:
    db = sqlite_utils.Database(connect(tmp_path / "hub.db"), execute_plugins=False)
    migrate(db, target=version)
    return db


def test_from_empty_to_latest(tmp_path):
    db = db_at(tmp_path, latest_version())
    assert set(db.table_names()) == LATEST_TABLES
    rows = [tuple(r) for r in db.execute("SELECT version, name FROM migrations ORDER BY version")]
    assert rows == [(m.version, m.name) for m in MIGRATIONS]
    assert migrate(db) == []                   # nothing left to do


@pytest.mark.parametrize("start", range(1, len(MIGRATIONS)))
def test_from_every_earlier_version_keeping_data(tmp_path, start):
    db = db_at(tmp_path, start)
    assert current_version(db) == start
    db.execute("INSERT INTO users (username, password_hash, role, created_at)"
               " VALUES ('u', 'h', 'proctor', '2026-01-01')")
    if start >= 2:
        db.execute("INSERT INTO alerts (alert_id, building, room, node, rule, advisory,"
                   " started_at, duration_s, score, status, last_event, last_sent_at,"
                   " received_at, updated_at) VALUES ('a1', 'b', 'r', 'n', 'device', 0,"
                   " '2026', 1, 0.5, 'open', 'open', '2026', 1, 1)")
        db.execute("INSERT INTO nodes (building, room, node) VALUES ('b', 'r', 'n')")
    applied = migrate(db)
    assert applied == [m.name for m in MIGRATIONS[start:]]
    assert current_version(db) == latest_version()
    assert set(db.table_names()) == LATEST_TABLES
    assert [tuple(r) for r in db.execute("SELECT username FROM users")] == [("u",)]
    if start >= 2:
        assert [tuple(r) for r in db.execute("SELECT decision FROM alerts")] == [("new",)]
        assert [tuple(r) for r in db.execute("SELECT liveness FROM nodes")] == [("offline",)]


def test_a_failing_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    from hub.store import migrations

    db = db_at(tmp_path, latest_version() - 1)

    def broken(db):
        db.execute("ALTER TABLE nodes ADD COLUMN half_done TEXT")
        raise RuntimeError("boom")

    last = MIGRATIONS[-1]
    monkeypatch.setattr(migrations, "MIGRATIONS", [
        *MIGRATIONS[:-1], migrations.Migration(last.version, last.name, broken)])
    with pytest.raises(RuntimeError):
        migrate(db)
    assert current_version(db) == latest_version() - 1
    assert "half_done" not in db["nodes"].columns_dict


def test_a_dean_from_before_building_scopes_keeps_the_buildings_known(tmp_path):
    from hub.store.users import buildings

    db = db_at(tmp_path, [m.name for m in MIGRATIONS].index("dean_buildings"))
    for name, role in (("d", "dean"), ("p", "proctor")):
        db.execute("INSERT INTO users (username, password_hash, role, created_at)"
                   " VALUES (?, 'h', ?, '2026-01-01')", (name, role))
    db.execute("INSERT INTO rooms (building, room, seatmap, updated_at)"
               " VALUES ('main', 'a101', NULL, '2026')")
    db.execute("INSERT INTO nodes (building, room, node) VALUES ('east', 'e1', 'n')")
    migrate(db)
    dean, proctor = (db.execute("SELECT id FROM users WHERE username=?", (n,)).fetchone()[0]
                     for n in ("d", "p"))
    assert buildings(db.conn, dean) == ["east", "main"]
    assert buildings(db.conn, proctor) == []
