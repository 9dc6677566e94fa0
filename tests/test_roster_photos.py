"""Roster photos: each file of the upload checked (format by content, size, pixel size, a
known student, exactly one face with the real BlazeFace on real photos), errors by file name
and nothing imported if any is bad; the zip unpacked safely (traversal, a zip bomb, too many
files); what is stored is a re-encoded JPEG without metadata, under its sha256, outside the
web's folders; only the proctor of a session running now with the student sees it, each view
audited; a re-import replaces the photo; the CLI imports a folder or a zip."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import time
import zipfile
import zlib

import cv2
import numpy as np
import pytest

from hub import photos
from hub.roster import parse_roster
from hub.store import photos as photo_store
from kuzet_tools.cli import main
from tests.support.hub_env import login, read
from tests.support.photos import real_photo, zip_of

KNOWN = {f"S{i}" for i in range(1, 10)}
ROSTER = "group,student_no,name\nЭЭ-21,S1,Әлия\nЭЭ-21,S2,Бауыржан\nЭЭ-21,S3,Дана\n"


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def _errors(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {e.name: e.message for e in exc.value.errors}


def test_every_bad_file_is_named_with_its_reason_and_nothing_is_kept():
    astronaut = cv2.imdecode(np.frombuffer(real_photo("astronaut"), np.uint8), cv2.IMREAD_COLOR)
    entries = photos.read_zip(zip_of({
        "S1.jpg": real_photo("messi"),                      # good
        "S2.jpg": real_photo("zidane"),                     # a group photo: two faces
        "S3.png": real_photo("chelsea"),                    # a cat: no face
        "S4.jpg": b"GIF89a not a photo at all",
        "S5.png": _png(cv2.resize(astronaut, (120, 120))),  # too small
        "S6.jpg": b"\xff\xd8\xff\xda\x00\x02",               # a JPEG with no frame header
        "X9.jpg": real_photo("messi"),                      # nobody's student number
        "S1.png": real_photo("astronaut"),                  # S1 twice
        "__MACOSX/._S1.jpg": b"resource fork",              # macOS litter: skipped
    }))
    with pytest.raises(photos.PhotosRefused) as exc:
        photos.prepare(entries, KNOWN)
    errors = _errors(exc)
    assert set(errors) == {"S2.jpg", "S3.png", "S4.jpg", "S5.png", "S6.jpg", "X9.jpg",
                           "S1.png"}
    assert errors["S2.jpg"] == "2 faces found; a roster photo shows exactly one"
    assert errors["S3.png"] == "no face found"
    assert errors["S4.jpg"] == "not a JPEG or PNG image (by its content)"
    assert errors["S5.png"] == "120×120 pixels, smaller than 160×160"
    assert "no image size" in errors["S6.jpg"]
    assert "'X9' is not a known student number" in errors["X9.jpg"]
    assert errors["S1.png"] == "a second photo of S1 (also S1.jpg)"


def test_content_decides_not_the_extension_and_the_stored_copy_has_no_metadata():
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "SecretCam"                            # Make
    exif[0x8825] = {2: (43.0, 15.0, 0.0)}                 # GPS latitude
    tagged = io.BytesIO()
    Image.open(io.BytesIO(real_photo("messi"))).save(tagged, "JPEG", exif=exif)
    assert b"SecretCam" in tagged.getvalue()
    entries = [photos.Entry("S1.jpg", real_photo("astronaut")),   # a PNG named .jpg
               photos.Entry("S2.jpeg", tagged.getvalue())]
    p1, p2 = photos.prepare(entries, KNOWN)
    assert (p1.student_no, p1.width, p1.height) == ("S1", 512, 512)
    for p in (p1, p2):
        assert p.jpeg.startswith(b"\xff\xd8\xff") and b"Exif" not in p.jpeg
        assert p.sha256 == hashlib.sha256(p.jpeg).hexdigest()
    assert b"SecretCam" not in p2.jpeg
    assert p2.source_sha256 == hashlib.sha256(tagged.getvalue()).hexdigest()


def test_pixel_size_is_read_from_the_header_before_anything_is_decoded():
    ihdr = struct.pack(">II", 9000, 9000) + b"\x08\x02\x00\x00\x00"
    png = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
           + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))     # no pixel data at all
    with pytest.raises(photos.PhotosRefused) as exc:
        photos.prepare([photos.Entry("S1.png", png)], KNOWN)
    assert _errors(exc) == {"S1.png": "9000×9000 pixels, larger than 8000 a side or 50 "
                                      "Mpixels"}
    messi = real_photo("messi")
    assert photos.header_size(messi, "jpeg") == (548, 342)


def test_unsafe_zips_are_refused_before_unpacking():
    with pytest.raises(photos.PhotosRefused) as exc:
        photos.read_zip(zip_of({"../S1.jpg": b"x", "/etc/S2.jpg": b"x", "a\\S3.jpg": b"x"}))
    assert set(_errors(exc)) == {"../S1.jpg", "/etc/S2.jpg", "a\\S3.jpg"}
    assert "path traversal" in _errors(exc)["../S1.jpg"]

    zeros = b"\0" * (41 * 2**20)                          # 5 × 41 MB of zeros, 200 kB zipped
    bomb = zip_of({f"S{i}.jpg": zeros for i in range(5)})
    assert len(bomb) < 2**20
    t0 = time.perf_counter()
    with pytest.raises(photos.PhotosRefused) as exc:
        photos.read_zip(bomb)
    assert time.perf_counter() - t0 < 0.1                 # refused from the directory alone
    assert "more than 200 MB (a zip bomb?)" in _errors(exc)["(zip)"]

    with pytest.raises(photos.PhotosRefused) as exc:
        photos.read_zip(zip_of({"S1.jpg": b"\0" * (6 * 2**20)}))
    assert _errors(exc) == {"S1.jpg": "6.0 MB, larger than 5 MB"}
    with pytest.raises(photos.PhotosRefused) as exc:
        photos.read_zip(zip_of({f"S{i}.jpg": b"x" for i in range(photos.MAX_FILES + 1)}))
    assert _errors(exc)["(zip)"] == f"{photos.MAX_FILES + 1} files; at most {photos.MAX_FILES}"
    with pytest.raises(photos.PhotosRefused) as exc:
        photos.read_zip(b"PK\x03\x04 but not really a zip")
    assert "not a readable zip file" in _errors(exc)["(zip)"]


def test_a_zip_whose_header_understates_a_file_is_not_read_past_it():
    """A lying local header: the declared size is all that is read, and the CRC fails."""
    data = zip_of({"S1.jpg": real_photo("messi")})
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    forged = bytearray(data)
    central = data.rindex(b"PK\x01\x02")
    forged[central + 24:central + 28] = struct.pack("<I", 100)   # uncompressed size: 100
    assert info.file_size > 100
    with pytest.raises(photos.PhotosRefused) as exc:
        photos.read_zip(bytes(forged))
    assert "cannot be unpacked" in _errors(exc)["S1.jpg"]


def test_the_roster_photo_column_names_files_of_the_zip():
    students = parse_roster("group,student_no,name,photo\nЭЭ-21,210001,Әлия,pics/aliya.jpg\n"
                            "ЭЭ-21,210002,Бауыржан,\nЭЭ-21,210003,Дана,dana.png\n")
    by_column = {s.student_no: s.photo for s in students if s.photo}
    entries = [photos.Entry("pics/aliya.jpg", real_photo("messi")),
               photos.Entry("210002.png", real_photo("astronaut"))]   # by its name
    with pytest.raises(photos.PhotosRefused) as exc:
        photos.prepare(entries, {"210001", "210002", "210003"}, by_column)
    assert _errors(exc) == {"dana.png": "named in the roster for 210003 but not in the zip"}
    got = photos.prepare(entries, {"210001", "210002", "210003"},
                         {"210001": "pics/aliya.jpg"})
    assert [(p.student_no, p.source_name) for p in got] == [("210001", "pics/aliya.jpg"),
                                                           ("210002", "210002.png")]


# -- the admin's import, the proctor's view ------------------------------------------------

def _big_jpeg() -> bytes:
    """Messi upscaled with noise: a real one-face photo larger than the 2 MB form limit."""
    image = cv2.imdecode(np.frombuffer(real_photo("messi"), np.uint8), cv2.IMREAD_COLOR)
    image = cv2.resize(image, (2740, 1710), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(1).integers(-12, 12, image.shape)
    data = cv2.imencode(".jpg", np.clip(image + noise, 0, 255).astype(np.uint8),
                        [cv2.IMWRITE_JPEG_QUALITY, 97])[1].tobytes()
    assert 2 * 2**20 < len(data) < photos.MAX_PHOTO_BYTES
    return data


def _admin(app):
    """The admin's client, reading the pages in English, and its CSRF token."""
    client = app.test_client()
    token = login(client, "admin")
    client.post("/language", data={"lang": "en", "csrf_token": token})
    return client, token


def _import(client, token, roster: str | None, entries: dict[str, bytes]):
    data = {"csrf_token": token, "photos": (io.BytesIO(zip_of(entries)), "photos.zip")}
    if roster:
        data["roster"] = (io.BytesIO(roster.encode()), "roster.csv")
    return client.post("/exams/import", data=data, follow_redirects=True)


def _on_roster(services, session_id: int, student_no: str) -> None:
    services.writer.call(lambda c: c.execute(
        "INSERT INTO session_seats (session_id, student_no) VALUES (?, ?)",
        (session_id, student_no)))


def _rows(services):
    return read(services, lambda c: {r["student_no"]: dict(r) for r in c.execute(
        "SELECT * FROM roster_photos")})


def test_admin_imports_photos_and_only_the_sessions_proctor_sees_one_audited(
        app, services, hub_config):
    admin, token = _admin(app)
    r = _import(admin, token, ROSTER, {"S1.jpg": real_photo("messi"),
                                                       "S2.jpg": _big_jpeg()})
    assert "Roster photos imported: 2." in r.text
    rows = _rows(services)
    assert set(rows) == {"S1", "S2"} and rows["S2"]["width"] == photos.STORED_SIDE
    folder = hub_config.hub.photos_path
    for row in rows.values():
        stored = (folder / row["file"]).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == row["sha256"] == row["file"][3:67]
    assert "S1" not in " ".join(p.name for p in folder.rglob("*"))   # names tell nothing
    assert not list((hub_config.hub.data_dir / "evidence").rglob("*.jpg"))

    _on_roster(services, 1, "S1")                         # aigerim's session in a101, now
    proctor = app.test_client()
    login(proctor, "aigerim")
    r = proctor.get("/exams/1/students/S1/photo")
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    assert r.headers["Cache-Control"] == "no-store"
    assert hashlib.sha256(r.data).hexdigest() == rows["S1"]["sha256"]
    assert proctor.get("/exams/1/students/S2/photo").status_code == 404   # not on the roster
    assert proctor.get("/exams/3/students/S1/photo").status_code == 404   # dana's, yesterday
    other = app.test_client()
    login(other, "bolat")
    assert other.get("/exams/1/students/S1/photo").status_code == 404
    assert admin.get("/exams/1/students/S1/photo").status_code == 403     # imports, never sees
    audit = read(services, lambda c: [dict(r) for r in c.execute(
        "SELECT username, action, target, building, room, detail, at FROM audit"
        " WHERE action = 'photo.view'")])
    assert len(audit) == 1
    assert (audit[0]["username"], audit[0]["target"], audit[0]["room"]) == ("aigerim", "S1",
                                                                            "a101")
    assert json.loads(audit[0]["detail"])["session"] == 1 and audit[0]["at"]


def test_one_bad_photo_imports_nothing_not_even_the_roster(app, services, hub_config):
    client, token = _admin(app)
    r = _import(client, token, ROSTER, {"S1.jpg": real_photo("messi"),
                                                         "S2.jpg": real_photo("zidane")})
    assert "S2.jpg" in r.text and "2 faces found" in r.text
    assert "Nothing was imported." in r.text
    assert _rows(services) == {}
    assert read(services, lambda c: c.execute("SELECT COUNT(*) FROM students").fetchone()[0]) == 0
    assert not [p for p in hub_config.hub.photos_path.rglob("*") if p.is_file()]


def test_a_new_photo_replaces_the_old_one_and_its_file(app, services, hub_config):
    client, token = _admin(app)
    _import(client, token, ROSTER, {"S1.jpg": real_photo("messi")})
    old = _rows(services)["S1"]
    r = _import(client, token, None, {"S1.png": real_photo("astronaut")})
    assert "Roster photos imported: 1." in r.text
    new = _rows(services)["S1"]
    assert new["sha256"] != old["sha256"] and new["source_name"] == "S1.png"
    files = [p for p in hub_config.hub.photos_path.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [new["file"].split("/")[1]]


def test_a_photo_column_without_its_zip_is_refused(app, services):
    client, token = _admin(app)
    r = client.post("/exams/import", data={"csrf_token": token, "roster": (io.BytesIO(
        "group,student_no,name,photo\nЭЭ-21,S1,Әлия,a.jpg\n".encode()), "r.csv")},
        follow_redirects=True)
    assert "upload their zip with it" in r.text and "Nothing was imported." in r.text


def test_the_cli_imports_a_folder_or_a_zip_all_or_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KUZET_HUB_SECRET_KEY", "k" * 40)
    config = tmp_path / "hub.toml"
    config.write_text('[hub]\ndata_dir = "data"\n')
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "S1.jpg").write_bytes(real_photo("messi"))
    (folder / ".DS_Store").write_bytes(b"junk")
    assert main(["hub", "import", "--config", str(config), "--roster", str(roster),
                 "--photos", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out) == {"students": 3, "photos": 1}

    bad = tmp_path / "bad.zip"
    bad.write_bytes(zip_of({"S2.jpg": real_photo("astronaut"), "S3.jpg": real_photo("zidane")}))
    assert main(["hub", "import-photos", "--config", str(config), str(bad)]) != 0
    err = capsys.readouterr().err
    assert "nothing imported" in err and "S3.jpg: 2 faces found" in err
    good = tmp_path / "good.zip"
    good.write_bytes(zip_of({"S2.jpg": real_photo("astronaut")}))
    assert main(["hub", "import-photos", "--config", str(config), str(good)]) == 0
    assert json.loads(capsys.readouterr().out) == {"photos": 1}
    from hub.store.db import connect

    conn = connect(tmp_path / "data" / "hub.db", readonly=True)
    assert sorted(photo_store.known_students(conn)) == ["S1", "S2", "S3"]
    assert [r[0] for r in conn.execute("SELECT student_no FROM roster_photos ORDER BY 1")] == \
        ["S1", "S2"]
    conn.close()


def test_a_bad_timetable_beside_the_roster_and_photos_imports_nothing(tmp_path, monkeypatch,
                                                                       capsys):
    """`kuzet hub import --roster --photos --timetable`: every file is checked first; a bad
    timetable leaves the roster and the photos out too."""
    monkeypatch.setenv("KUZET_HUB_SECRET_KEY", "k" * 40)
    config = tmp_path / "hub.toml"
    config.write_text('[hub]\ndata_dir = "data"\n')
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "S1.jpg").write_bytes(real_photo("messi"))
    timetable = tmp_path / "timetable.csv"
    timetable.write_text("building,room\nmain\n", encoding="utf-8")
    assert main(["hub", "import", "--config", str(config), "--roster", str(roster),
                 "--photos", str(folder), "--timetable", str(timetable)]) != 0
    assert "nothing imported" in capsys.readouterr().err
    from hub.store.db import connect

    db_file = tmp_path / "data" / "hub.db"
    if db_file.exists():
        conn = connect(db_file, readonly=True)
        assert photo_store.known_students(conn) == set()
        assert conn.execute("SELECT COUNT(*) FROM roster_photos").fetchone()[0] == 0
        conn.close()
