"""Roster photos and privacy by design: a photo follows its student's exams' retention (the
retention job deletes row and file, logged, with real SQLite and real files, moving the clock);
photos and anything computed from them leave the hub in no export (the evidence bundle, the
retake CSV) nor in any command to a node; the students' public page says what is compared, by
whom and for how long, in kk/ru/en; and an exam without photos works as before."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from hub.retention_job import run
from hub.store import sessions as store
from kuzet import contract
from tests.support.hub_env import login, read
from tests.support.photos import put_student_with_photo, real_photo
from tests.test_hub_access import put_alert

DAY = 86400


def _session(services, room: str, ends_in_days: float) -> int:
    end = datetime.now(UTC) + timedelta(days=ends_in_days)
    return services.writer.call(store.add_session, "main", room, "aigerim",
                                end - timedelta(hours=3), end)


def _photos(services) -> set[str]:
    return read(services, lambda c: {r[0] for r in c.execute(
        "SELECT student_no FROM roster_photos")})


def test_a_photo_goes_a_retention_period_after_its_students_last_exam(
        services, seeded, hub_config):
    ended = _session(services, "x1", -1)             # an exam that ended yesterday
    coming = _session(services, "x2", 20)            # one in 20 days
    messi, astronaut = real_photo("messi"), real_photo("astronaut")
    file_a = put_student_with_photo(services, ended, "A", messi)
    put_student_with_photo(services, coming, "B", astronaut)
    put_student_with_photo(services, coming, "A2", messi)  # the same picture: the same file
    services.writer.call(lambda c: c.execute(          # C: imported, on no exam's roster
        "INSERT INTO students VALUES ('C', 'C', 'ЭЭ-22', NULL, '')"))
    file_c = put_student_with_photo(services, ended, "C", astronaut[:-1] + b"\0")
    services.writer.call(lambda c: c.execute("DELETE FROM session_seats WHERE student_no='C'"))
    for student in ("A", "B", "C"):
        _embed(services, student)
    folder = hub_config.hub.photos_path

    assert run(hub_config, now=time.time() + 10 * DAY).photos_deleted == 0
    report = run(hub_config, now=time.time() + 31 * DAY)
    assert report.photos_deleted == 2 and report.as_dict()["photos_deleted"] == 2
    assert _photos(services) == {"B", "A2"}
    log = read(services, lambda c: {r["student_no"]: (r["file_removed"], r["sha256"])
                                    for r in c.execute("SELECT * FROM photo_retention_log")})
    assert log == {"A": (0, hashlib.sha256(messi).hexdigest()),      # A2 still holds the file
                   "C": (1, file_c[3:67])}
    assert (folder / file_a).is_file() and not (folder / file_c).exists()
    # whatever a helper keys by a photo (embeddings: ON DELETE CASCADE) has gone with it
    assert sorted(read(services, _rows_referring_to_photos)) == ["B"]   # B's embedding

    assert run(hub_config, now=time.time() + 51 * DAY).photos_deleted == 2   # B's exam + 30
    assert _photos(services) == set()
    assert not [p for p in folder.rglob("*") if p.is_file()]


def _embed(services, student_no: str) -> bytes:
    """A face embedding of the student's photo as the face match stores it (512 bytes)."""
    vector = hashlib.sha512(student_no.encode()).digest() * 8
    services.writer.call(lambda c: c.execute(
        "INSERT INTO photo_embeddings (student_no, photo_sha256, model, vector) SELECT"
        " student_no, sha256, 'test', ? FROM roster_photos WHERE student_no = ?",
        (vector, student_no)))
    return vector


def _rows_referring_to_photos(conn) -> list[str]:
    """The student numbers of every row of any table with a foreign key to roster_photos."""
    out = []
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for fk in conn.execute(f"PRAGMA foreign_key_list({table})").fetchall():
            if fk["table"] == "roster_photos":
                out += [r[0] for r in conn.execute(f"SELECT {fk['from']} FROM {table}")]
    return out


def _blobs_from_photos(conn) -> list[bytes]:
    """Every BLOB of a column named like an embedding (the face match's, if stored)."""
    out = []
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for col in conn.execute(f"PRAGMA table_info({table})").fetchall():
            if "embedding" in col["name"] or "vector" in col["name"]:
                out += [r[0] for r in conn.execute(f"SELECT {col['name']} FROM {table}")
                        if isinstance(r[0], bytes) and len(r[0]) >= 64]
    return out


def test_photos_and_embeddings_leave_the_hub_in_no_export_nor_command(app, services,
                                                                      hub_config):
    put_student_with_photo(services, 1, "S1")
    services.writer.call(lambda c: c.execute(
        "UPDATE session_seats SET seat = 'r1s1' WHERE student_no = 'S1'"))
    embedding = _embed(services, "S1")
    row = read(services, lambda c: dict(c.execute("SELECT * FROM roster_photos").fetchone()))
    stored = (hub_config.hub.photos_path / row["file"]).read_bytes()
    secrets = [row["sha256"].encode(), row["source_sha256"].encode(), stored[200:264],
               *(b[:64] for b in read(services, _blobs_from_photos))]
    assert embedding[:64] in secrets

    aid, _ = put_alert(services, "a101")              # at S1's seat r1s1
    proctor = app.test_client()
    token = login(proctor, "aigerim")
    assert proctor.post(f"/proctor/alerts/{aid}/confirm",
                        data={"csrf_token": token}).status_code == 302
    pid = read(services, lambda c: c.execute("SELECT id FROM protocols").fetchone()[0])
    bundle = proctor.get(f"/protocols/{pid}/bundle.zip")
    assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as z:
        members = {name: z.read(name) for name in z.namelist()}
    assert members and not any("photo" in name for name in members)
    dean = app.test_client()
    login(dean, "dean")
    csv = dean.get("/protocols/retakes?format=csv")
    assert csv.status_code == 200
    commands = services.writer.call(store.set_running, 1, True, ["cam1"])
    assert commands
    for blob in [*members.values(), csv.data, *(payload for _, payload, _ in commands)]:
        for secret in secrets:
            assert secret not in blob
    for _, payload, _ in commands:
        assert b"photo" not in payload and b"embedding" not in payload

    def fields(model: type[BaseModel]) -> set[str]:
        return set(model.model_fields)
    wire = set().union(*(fields(m) for m in vars(contract).values()
                         if isinstance(m, type) and issubclass(m, BaseModel)))
    assert not {f for f in wire if "embedding" in f or "photo" in f or "vector" in f}


@pytest.mark.parametrize("lang, decides", [
    ("en", "The proctor decides, never the software."),
    ("ru", "Решает проктор, а не программа."),
    ("kk", "Шешімді бағдарлама емес, проктор қабылдайды."),
])
def test_the_public_page_says_what_is_compared_by_whom_and_how_long(client, lang, decides):
    r = client.get(f"/public/main/a101?lang={lang}")
    assert r.status_code == 200
    section = r.text.split('id="identity"')[1].split("</section>")[0]
    assert decides in section
    assert "30" in section.split('id="identity-retention"')[1]


def test_an_exam_without_photos_runs_as_before(app, services):
    client = app.test_client()
    token = login(client, "admin")
    client.post("/language", data={"lang": "en", "csrf_token": token})
    r = client.post("/exams/import", data={"csrf_token": token, "roster": (io.BytesIO(
        "group,student_no,name,seat\nЭЭ-21,1,Әлия,r2s3\n".encode()), "r.csv")},
        follow_redirects=True)
    assert "Imported: 1 students" in r.text and "Nothing was imported" not in r.text
    services.writer.call(lambda c: c.execute(
        "INSERT INTO session_seats (session_id, student_no, seat) VALUES (1, '1', 'r2s3')"))
    proctor = app.test_client()
    login(proctor, "aigerim")
    page = proctor.get("/exams/1")
    assert page.status_code == 200 and "Әлия" in page.text
    assert proctor.get("/exams/1/students/1/photo").status_code == 404
    assert services.writer.call(store.set_running, 1, True, ["cam1"])
    assert read(services, lambda c: c.execute("SELECT COUNT(*) FROM roster_photos")
                .fetchone()[0]) == 0
