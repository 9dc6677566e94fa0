"""Roster photos for the hub's tests: real photos from the eval set the models already use
(``kuzet_tools.models.evalset``: scikit-image's astronaut, one face; the ultralytics sample
``zidane.jpg``, two faces; ``messi.jpg`` from Debian's opencv-doc, one face; ``chelsea.png``,
a cat: no face), zips built from them, and a student with a photo put straight into a hub."""

from __future__ import annotations

import hashlib
import io
import zipfile
from functools import cache

import pytest

from hub.evidence import EvidenceFolder
from hub.store import photos as photo_store

REAL = {"astronaut": "astronaut.png", "zidane": "zidane.jpg", "messi": "messi.jpg",
        "chelsea": "chelsea.png"}


@cache
def real_photo(image_id: str) -> bytes:
    """The file's bytes of one eval image (fetched into var/eval-images if not there)."""
    from kuzet_tools.models.evalset import EvalSetError, load_eval_set

    try:
        images = {i.id: i for i in load_eval_set()}
    except EvalSetError as exc:
        pytest.fail(f"eval images could not be obtained: {exc}")
    return images[image_id].path.read_bytes()


def zip_of(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


def put_student_with_photo(services, session_id: int, student_no: str,
                           data: bytes | None = None, group: str = "ЭЭ-21") -> str:
    """A student on the session's roster with ``data`` (a JPEG, default: Messi's
    photo as is) as their stored photo, bypassing the import's checks. Returns its file."""
    data = data or real_photo("messi")
    sha = hashlib.sha256(data).hexdigest()
    folder = EvidenceFolder(services.config.hub.photos_path)
    relative, _ = folder.create(sha, "image/jpeg", data)

    def write(conn):
        conn.execute("INSERT OR IGNORE INTO students VALUES (?, ?, ?, NULL, '')",
                     (student_no, f"Student {student_no}", group))
        conn.execute("INSERT OR IGNORE INTO session_seats (session_id, student_no)"
                     " VALUES (?, ?)", (session_id, student_no))
        photo_store.replace(conn, [photo_store.StoredPhoto(
            student_no, relative, sha, sha, f"{student_no}.jpg", 512, 512, len(data))], None)
    services.writer.call(write)
    return relative
