"""The hub's schema, as versioned migrations (docs/data-model.md describes the tables), and
``open_database``, which applies them.

Each migration is a function decorated with ``@migration``; they run in the order written,
each in its own transaction, and each is recorded in the ``migrations`` table with its
version, name and time. Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from hub.store.db import connect, now_iso, transaction


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[sqlite_utils.Database], None]
    # it rebuilds a table other tables reference (SQLite cannot change a CHECK in place):
    # foreign keys are off meanwhile and checked before the commit (SQLite's ALTER TABLE
    # procedure)
    rebuilds: bool = False


MIGRATIONS: list[Migration] = []


def migration(fn: Callable[[sqlite_utils.Database], None] | None = None, *,
              rebuilds: bool = False) -> Callable:
    """Register ``fn`` as the next schema version (``@migration`` or
    ``@migration(rebuilds=True)``)."""
    def register(f: Callable[[sqlite_utils.Database], None]) -> Callable:
        MIGRATIONS.append(Migration(len(MIGRATIONS) + 1, f.__name__, f, rebuilds))
        return f
    return register if fn is None else register(fn)


def latest_version() -> int:
    return len(MIGRATIONS)


def current_version(db: sqlite_utils.Database) -> int:
    if "migrations" not in db.table_names():
        return 0
    return db.execute("SELECT COALESCE(MAX(version), 0) FROM migrations").fetchone()[0]


def migrate(db: sqlite_utils.Database, target: int | None = None) -> list[str]:
    """Apply every migration above the database's version up to ``target`` (default: all);
    returns the names applied."""
    target = latest_version() if target is None else target
    db.execute("CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY,"
               " name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    applied = []
    for m in MIGRATIONS:
        if m.version > target:
            break
        if m.rebuilds:
            db.execute("PRAGMA foreign_keys=OFF")   # outside the transaction, or it is ignored
        try:
            with transaction(db.conn):
                if current_version(db) >= m.version:    # another process got there first
                    continue
                m.apply(db)
                if m.rebuilds and db.execute("PRAGMA foreign_key_check").fetchall():
                    raise RuntimeError(f"migration {m.name} broke a foreign key")
                db.execute("INSERT INTO migrations VALUES (?, ?, ?)",
                           (m.version, m.name, now_iso()))
        finally:
            if m.rebuilds:
                db.execute("PRAGMA foreign_keys=ON")
        applied.append(m.name)
    return applied


def open_database(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the hub database in WAL mode, migrated to the latest
    version."""
    db = sqlite_utils.Database(connect(path), execute_plugins=False)
    db.enable_wal()
    migrate(db)
    return db


@migration
def people_rooms_sessions(db: sqlite_utils.Database) -> None:
    """Users and roles, rooms with their seat maps, exam sessions (minimal; ``exam_workflow``
    extends them), and the audit log."""
    db.execute("""CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('proctor', 'dean', 'technician', 'admin')),
        display_name TEXT NOT NULL DEFAULT '',
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL)""")
    db.execute("""CREATE TABLE rooms (
        building TEXT NOT NULL,
        room TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        seatmap TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (building, room))""")
    db.execute("""CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        building TEXT NOT NULL,
        room TEXT NOT NULL,
        proctor_id INTEGER NOT NULL REFERENCES users(id),
        title TEXT NOT NULL DEFAULT '',
        starts_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        created_by INTEGER REFERENCES users(id),
        created_at TEXT NOT NULL,
        CHECK (ends_at > starts_at))""")
    db.execute("CREATE INDEX sessions_proctor ON sessions (proctor_id, ends_at)")
    db.execute("""CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user_id INTEGER,
        username TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL DEFAULT '',
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        building TEXT,
        room TEXT,
        detail TEXT NOT NULL DEFAULT '{}',
        remote_addr TEXT NOT NULL DEFAULT '')""")
    db.execute("CREATE INDEX audit_at ON audit (at)")


@migration
def ingest_tables(db: sqlite_utils.Database) -> None:
    """What the ingest worker writes: seen message ids, alerts, evidence, node status and
    heartbeats, rejected messages and counters."""
    db.execute("CREATE TABLE seen (msg_id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
               " received_at REAL NOT NULL) WITHOUT ROWID")
    db.execute("""CREATE TABLE alerts (
        alert_id TEXT PRIMARY KEY,
        building TEXT NOT NULL, room TEXT NOT NULL, node TEXT NOT NULL,
        seat TEXT, rule TEXT NOT NULL, advisory INTEGER NOT NULL,
        session_id TEXT, started_at TEXT NOT NULL, ended_at TEXT,
        duration_s REAL NOT NULL, score REAL NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}', evidence_refs TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        last_event TEXT NOT NULL, last_sent_at TEXT NOT NULL,
        received_at REAL NOT NULL, updated_at REAL NOT NULL,
        version INTEGER NOT NULL DEFAULT 1)""")
    db.execute("CREATE INDEX alerts_room ON alerts (building, room, received_at)")
    db.execute("""CREATE TABLE evidence (
        evidence_id TEXT PRIMARY KEY,
        alert_id TEXT NOT NULL,
        building TEXT NOT NULL, room TEXT NOT NULL, node TEXT NOT NULL,
        kind TEXT NOT NULL, content_type TEXT NOT NULL,
        sha256 TEXT NOT NULL, size INTEGER NOT NULL,
        captured_at TEXT NOT NULL, file TEXT NOT NULL, received_at REAL NOT NULL)""")
    db.execute("CREATE INDEX evidence_alert ON evidence (alert_id)")
    db.execute("""CREATE TABLE nodes (
        building TEXT NOT NULL, room TEXT NOT NULL, node TEXT NOT NULL,
        status_state TEXT, status_since TEXT, status_reasons TEXT NOT NULL DEFAULT '[]',
        status_source TEXT, status_session TEXT, status_version TEXT NOT NULL DEFAULT '',
        status_sent_at TEXT, status_received_at REAL,
        hb_sent_at TEXT, hb_received_at REAL, heartbeat TEXT,
        PRIMARY KEY (building, room, node))""")
    db.execute("""CREATE TABLE heartbeats (
        building TEXT NOT NULL, room TEXT NOT NULL, node TEXT NOT NULL,
        received_at REAL NOT NULL, fps REAL NOT NULL, disk_free_mb REAL NOT NULL,
        outbox_depth INTEGER NOT NULL, inference_ms REAL NOT NULL)""")
    db.execute("CREATE INDEX heartbeats_node ON heartbeats (building, room, node, received_at)")
    db.execute("CREATE TABLE rejected (id INTEGER PRIMARY KEY, at TEXT NOT NULL,"
               " topic TEXT NOT NULL, reason TEXT NOT NULL)")
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")


@migration
def proctor_decisions(db: sqlite_utils.Database) -> None:
    """The proctor's one-tap decisions on an alert, notes, and the dean's rounds."""
    alerts = db["alerts"]
    alerts.add_column("decision", str, not_null_default="new")
    alerts.add_column("ack_by", int)
    alerts.add_column("ack_at", str)
    alerts.add_column("decided_by", int)
    alerts.add_column("decided_at", str)
    alerts.add_column("dismiss_reason", str)
    db.execute("""CREATE TABLE alert_notes (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL REFERENCES alerts(alert_id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        text TEXT NOT NULL, at TEXT NOT NULL)""")
    db.execute("CREATE INDEX alert_notes_alert ON alert_notes (alert_id)")
    db.execute("""CREATE TABLE rounds (
        id INTEGER PRIMARY KEY,
        dean_id INTEGER NOT NULL REFERENCES users(id),
        building TEXT NOT NULL, room TEXT NOT NULL, at TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '')""")


@migration
def node_liveness(db: sqlite_utils.Database) -> None:
    """The hub's own verdict on each node (online / degraded / offline) and since when."""
    nodes = db["nodes"]
    nodes.add_column("liveness", str, not_null_default="offline")
    nodes.add_column("liveness_since", float)
    nodes.add_column("liveness_reasons", str, not_null_default="[]")


@migration
def exam_workflow(db: sqlite_utils.Database) -> None:
    """Exam details and rosters, several proctors, seats, commands sent to nodes,
    the Appendix A protocols and the evidence they hold, the retention log."""
    sessions = db["sessions"]
    sessions.add_column("exam_code", str)
    sessions.add_column("discipline", str, not_null_default="")
    sessions.add_column("groups", str, not_null_default="[]")
    sessions.add_column("allowed_aids", str, not_null_default="[]")
    sessions.add_column("examiner", str, not_null_default="")
    sessions.add_column("head_of_department", str, not_null_default="")
    sessions.add_column("seating", str, not_null_default="assigned")
    sessions.add_column("started_at", str)
    sessions.add_column("stopped_at", str)
    db.execute("CREATE UNIQUE INDEX sessions_exam_code ON sessions (exam_code)"
               " WHERE exam_code IS NOT NULL")
    db.execute("""CREATE TABLE session_proctors (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        PRIMARY KEY (session_id, user_id))""")
    db.execute("INSERT INTO session_proctors SELECT id, proctor_id FROM sessions")
    db.execute("""CREATE TABLE students (
        student_no TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        group_name TEXT NOT NULL,
        seat TEXT,
        updated_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX students_group ON students (group_name)")
    db.execute("""CREATE TABLE session_seats (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        student_no TEXT NOT NULL REFERENCES students(student_no),
        seat TEXT,
        seated_by INTEGER REFERENCES users(id),
        seated_at TEXT,
        PRIMARY KEY (session_id, student_no))""")
    db.execute("CREATE UNIQUE INDEX session_seats_seat ON session_seats (session_id, seat)"
               " WHERE seat IS NOT NULL")
    db.execute("""CREATE TABLE commands (
        id INTEGER PRIMARY KEY,
        msg_id TEXT NOT NULL UNIQUE,
        at TEXT NOT NULL,
        building TEXT NOT NULL, room TEXT NOT NULL, node TEXT NOT NULL,
        action TEXT NOT NULL, session_id INTEGER, payload TEXT NOT NULL,
        published INTEGER NOT NULL DEFAULT 0)""")
    db.execute("""CREATE TABLE protocols (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL UNIQUE REFERENCES alerts(alert_id),
        session_id INTEGER REFERENCES sessions(id),
        status TEXT NOT NULL DEFAULT 'draft'
            CHECK (status IN ('draft', 'issued', 'signed', 'retake_scheduled')),
        lang TEXT NOT NULL DEFAULT 'kk',
        group_name TEXT NOT NULL DEFAULT '', student TEXT NOT NULL DEFAULT '',
        student_no TEXT NOT NULL DEFAULT '', discipline TEXT NOT NULL DEFAULT '',
        attestation_date TEXT NOT NULL DEFAULT '', violation TEXT NOT NULL DEFAULT '',
        proctor_note TEXT NOT NULL DEFAULT '', examiner TEXT NOT NULL DEFAULT '',
        head_of_department TEXT NOT NULL DEFAULT '',
        building TEXT NOT NULL, room TEXT NOT NULL, seat TEXT,
        created_by INTEGER REFERENCES users(id), created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, issued_at TEXT, signed_at TEXT, retake_on TEXT,
        pdf_file TEXT, pdf_sha256 TEXT, signed_file TEXT, signed_sha256 TEXT)""")
    db.execute("CREATE INDEX protocols_discipline ON protocols (discipline, status)")
    db.execute("""CREATE TABLE retention_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        evidence_id TEXT NOT NULL, alert_id TEXT NOT NULL,
        building TEXT NOT NULL, room TEXT NOT NULL, kind TEXT NOT NULL,
        sha256 TEXT NOT NULL, captured_at TEXT NOT NULL, expired_at TEXT NOT NULL,
        file_removed INTEGER NOT NULL)""")


@migration
def signed_records(db: sqlite_utils.Database) -> None:
    """The nodes' signed records (``hub.signatures``): each alert or evidence message's signed
    body, signature and chain link, kept for the protocol and the evidence bundle; the signers
    (a node certificate or a node's own key) once each."""
    db.execute("""CREATE TABLE record_signers (
        fingerprint TEXT PRIMARY KEY,
        der TEXT NOT NULL,
        is_cert INTEGER NOT NULL,
        trust TEXT NOT NULL CHECK (trust IN ('ca', 'self')))""")
    db.execute("""CREATE TABLE signed_records (
        msg_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('alert', 'evidence')),
        building TEXT NOT NULL, room TEXT NOT NULL, node TEXT NOT NULL,
        alert_id TEXT NOT NULL, evidence_id TEXT,
        chain_id TEXT NOT NULL, seq INTEGER NOT NULL, prev TEXT, hash TEXT NOT NULL,
        body TEXT NOT NULL, alg TEXT NOT NULL, sig TEXT NOT NULL,
        signer TEXT NOT NULL REFERENCES record_signers(fingerprint),
        trust TEXT NOT NULL,
        received_at REAL NOT NULL,
        gap_before INTEGER NOT NULL DEFAULT 0)""")
    db.execute("CREATE UNIQUE INDEX signed_records_chain ON signed_records"
               " (building, room, node, chain_id, seq, hash)")
    db.execute("CREATE INDEX signed_records_alert ON signed_records (alert_id)")


@migration
def dean_buildings(db: sqlite_utils.Database) -> None:
    """The buildings a dean oversees (admin-managed). The deans already there keep what
    they saw: every building the hub knows."""
    db.execute("""CREATE TABLE user_buildings (
        user_id INTEGER NOT NULL REFERENCES users(id),
        building TEXT NOT NULL,
        PRIMARY KEY (user_id, building))""")
    db.execute("INSERT INTO user_buildings SELECT u.id, b.building FROM users u,"
               " (SELECT building FROM rooms UNION SELECT building FROM nodes"
               " UNION SELECT building FROM sessions) b WHERE u.role = 'dean'")


@migration
def web_logins(db: sqlite_utils.Database) -> None:
    """Who is signed in (``hub.store.logins``): one row per login, the sha256 of the cookie's
    token, ended by a logout, a password change or a deactivation."""
    db.execute("""CREATE TABLE web_logins (
        id INTEGER PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id),
        started_at TEXT NOT NULL,
        ended_at TEXT,
        ended_why TEXT)""")
    db.execute("CREATE INDEX web_logins_user ON web_logins (user_id) WHERE ended_at IS NULL")


@migration
def trusted_times(db: sqlite_utils.Database) -> None:
    """Node clocks are not trusted (``hub.clocks``): how far off each node's clock was at its
    last heartbeat, and beside the node's own times the ones the hub believes. The rows
    already there keep the node's times."""
    db.execute("ALTER TABLE nodes ADD COLUMN clock_skew_s REAL")
    db.execute("ALTER TABLE alerts ADD COLUMN trusted_started_at TEXT")
    db.execute("UPDATE alerts SET trusted_started_at = started_at")
    db.execute("ALTER TABLE evidence ADD COLUMN trusted_captured_at TEXT")
    db.execute("UPDATE evidence SET trusted_captured_at = captured_at")


@migration
def login_last_seen(db: sqlite_utils.Database) -> None:
    """When the server last saw each login used (``hub.store.logins``): idleness is the
    server's, not the cookie's. The logins already open count as seen when they began."""
    db.execute("ALTER TABLE web_logins ADD COLUMN last_seen_at TEXT")
    db.execute("UPDATE web_logins SET last_seen_at = started_at")


@migration
def seat_presence(db: sqlite_utils.Database) -> None:
    """A proctor's "I am at this seat" (``hub.store.presence``): the seat's outside-help rules
    are quiet until ``until`` (UTC ISO); the node is told by a ``proctor_present`` command."""
    db.execute("""CREATE TABLE seat_presence (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        building TEXT NOT NULL, room TEXT NOT NULL, seat TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id),
        at TEXT NOT NULL,
        until TEXT NOT NULL)""")
    db.execute("CREATE INDEX seat_presence_seat ON seat_presence (building, room, seat, until)")


@migration
def heartbeat_temperature(db: sqlite_utils.Database) -> None:
    """Each heartbeat's CPU temperature in the history (``heartbeats.cpu_temp_c``, null when
    the node cannot read it), for the technician's per-node pictures. Older rows have none."""
    db.execute("ALTER TABLE heartbeats ADD COLUMN cpu_temp_c REAL")


@migration
def roster_photos(db: sqlite_utils.Database) -> None:
    """Roster photos (``hub.store.photos``): one per student, the re-encoded JPEG kept in the
    hub's photos folder under its sha256 (never web-served but through the proctor's audited
    route); purged with the exam's retention, each deletion logged."""
    db.execute("""CREATE TABLE roster_photos (
        student_no TEXT PRIMARY KEY REFERENCES students(student_no),
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        source_sha256 TEXT NOT NULL,
        source_name TEXT NOT NULL,
        width INTEGER NOT NULL, height INTEGER NOT NULL, size INTEGER NOT NULL,
        imported_at TEXT NOT NULL,
        imported_by INTEGER REFERENCES users(id))""")
    db.execute("""CREATE TABLE photo_retention_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        student_no TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        kept_until TEXT NOT NULL,
        file_removed INTEGER NOT NULL)""")


@migration
def face_match(db: sqlite_utils.Database) -> None:
    """The automatic 1:1 face match, opt-in per exam (``hub.store.face_matches``): the
    session's flag; each check-in crop's advice (likely / unlikely / no face, the similarity
    and the threshold it was judged by), kept with the exam; and the roster photo's embedding,
    computed once on the hub, never sent, gone with the photo (ON DELETE CASCADE)."""
    db.execute("ALTER TABLE sessions ADD COLUMN face_match INTEGER NOT NULL DEFAULT 0")
    db.execute("""CREATE TABLE face_matches (
        evidence_id TEXT PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        seat TEXT NOT NULL,
        student_no TEXT NOT NULL,
        result TEXT NOT NULL
            CHECK (result IN ('likely', 'unlikely', 'no_face', 'no_photo_face', 'failed')),
        similarity REAL,
        threshold REAL NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        ms REAL NOT NULL DEFAULT 0,
        at TEXT NOT NULL)""")
    db.execute("CREATE INDEX face_matches_seat ON face_matches (session_id, seat, at)")
    db.execute("""CREATE TABLE photo_embeddings (
        student_no TEXT PRIMARY KEY
            REFERENCES roster_photos(student_no) ON DELETE CASCADE,
        photo_sha256 TEXT NOT NULL,
        model TEXT NOT NULL,
        vector BLOB NOT NULL)""")


@migration
def check_ins(db: sqlite_utils.Database) -> None:
    """The proctor's check-in at the start of an exam (``hub.store.check_ins``): each result
    (who checked which student, at which seat, when; a move names the seat moved to) and the
    seat crops asked from the node for it, with what the node saw seated; purged with the
    exam's retention."""
    db.execute("""CREATE TABLE check_in_crops (
        command_id TEXT PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        seat TEXT NOT NULL,
        asked_by INTEGER REFERENCES users(id),
        asked_at TEXT NOT NULL,
        evidence_id TEXT,
        seat_taken INTEGER,
        taken INTEGER,
        looked INTEGER,
        received_at TEXT)""")
    db.execute("CREATE INDEX check_in_crops_session ON check_in_crops (session_id, seat)")
    db.execute("""CREATE TABLE check_ins (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        student_no TEXT NOT NULL REFERENCES students(student_no),
        seat TEXT,
        result TEXT NOT NULL
            CHECK (result IN ('identified', 'absent', 'someone_else', 'moved')),
        moved_to TEXT,
        command_id TEXT,
        by_user INTEGER NOT NULL REFERENCES users(id),
        at TEXT NOT NULL)""")
    db.execute("CREATE INDEX check_ins_student ON check_ins (session_id, student_no, id)")


@migration(rebuilds=True)
def office_role(db: sqlite_utils.Database) -> None:
    """The academic office's role, ``office``: every building, read only (the campus hub's
    pages, docs/campus.md). The users table is rebuilt with the wider CHECK, rows and ids
    kept."""
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='users'"
                     ).fetchone()[0]
    wider = sql.replace("'technician', 'admin'))", "'technician', 'admin', 'office'))")
    if wider == sql:
        raise RuntimeError("users: the role CHECK is not the one this migration widens")
    db.execute(wider.replace("CREATE TABLE users", "CREATE TABLE users_new", 1))
    db.execute("INSERT INTO users_new SELECT * FROM users")
    db.execute("DROP TABLE users")
    db.execute("ALTER TABLE users_new RENAME TO users")
