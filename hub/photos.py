"""Roster photos from an upload: a zip (or a folder, for the CLI) of JPEG/PNG files named by
student number (``S12345.jpg``), or named in the roster's ``photo`` column. No SQL, no Flask.

Every file is checked, and the errors are listed by file name; the caller imports nothing if
there is any (``PhotosRefused``), as the CSV import does:

- the zip itself: a real zip, at most ``MAX_FILES`` files that unpack to at most
  ``MAX_TOTAL_BYTES`` together (a zip bomb is refused before anything is unpacked); no name
  with ``..``, a leading ``/``, a drive or a backslash (nothing is ever unpacked to disk by
  its name anyway: photos are stored under their sha256);
- each file: at most ``MAX_PHOTO_BYTES``; a JPEG or PNG by its content (the extension is
  not trusted), its pixel size read from its header before decoding (``MIN_SIDE`` to
  ``MAX_SIDE`` each way), decodable; named for a known student, one file per student;
- exactly one face (``hub.faces``, BlazeFace).

What is stored is not the upload: the decoded picture, turned upright, at most
``STORED_SIDE`` pixels, re-encoded as JPEG without metadata (no EXIF, GPS or camera serial).
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import struct
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hub.evidence import EvidenceFolder, EvidencePathError
from hub.store.photos import StoredPhoto

MAX_PHOTO_BYTES = 5 * 2**20        # one photo as uploaded
MIN_SIDE = 160                     # pixels, each way: a face needs some
MAX_SIDE = 8000                    # pixels, each way: 48-Mpixel phone photos pass
MAX_PIXELS = 50_000_000
MAX_FILES = 2000                   # in one zip or folder
MAX_TOTAL_BYTES = 200 * 2**20      # what one zip may unpack to
STORED_SIDE = 1024                 # the stored photo's longer side at most
JPEG_QUALITY = 92
PHOTO_COLUMN = "photo"             # the roster's optional column naming a file of the zip
IGNORED = re.compile(r"(^|/)(__MACOSX/|\.[^/]*$|Thumbs\.db$|desktop\.ini$)", re.IGNORECASE)


@dataclass(frozen=True)
class PhotoError:
    """One problem with one file of the upload (``name`` as in the zip or folder)."""

    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


class PhotosRefused(ValueError):
    """The photos have errors; nothing was imported."""

    def __init__(self, errors: list[PhotoError]) -> None:
        super().__init__("; ".join(str(e) for e in errors[:20]))
        self.errors = errors


@dataclass(frozen=True)
class Entry:
    """One file of the upload, read."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Photo:
    """A checked photo, ready to store: ``jpeg`` re-encoded, its sha256, where it came from."""

    student_no: str
    source_name: str
    source_sha256: str
    jpeg: bytes
    sha256: str
    width: int
    height: int


# -- reading the upload --------------------------------------------------------------------

def _unsafe_name(name: str) -> str | None:
    if "\\" in name or "\x00" in name:
        return "a backslash or NUL in the name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in name.split("/"):
        return "'..' in the path (path traversal)"
    return None


def read_zip(data: bytes) -> list[Entry]:
    """The files of a zip, checked for safety before anything is unpacked; PhotosRefused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise PhotosRefused([PhotoError("(zip)", f"not a readable zip file: {exc}")]) from None
    if len(infos) > MAX_FILES:
        raise PhotosRefused([PhotoError("(zip)", f"{len(infos)} files; at most {MAX_FILES}")])
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise PhotosRefused([PhotoError(
            "(zip)", f"would unpack to {total // 2**20} MB, more than "
                     f"{MAX_TOTAL_BYTES // 2**20} MB (a zip bomb?): nothing was unpacked")])
    errors: list[PhotoError] = []
    entries: list[Entry] = []
    for info in infos:
        name = info.filename
        why = _unsafe_name(name)
        if why:
            errors.append(PhotoError(name, why))
            continue
        if IGNORED.search(name):
            continue
        if info.file_size > MAX_PHOTO_BYTES:
            errors.append(PhotoError(name, _too_big(info.file_size)))
            continue
        if info.flag_bits & 0x1:
            errors.append(PhotoError(name, "encrypted"))
            continue
        try:
            with archive.open(info) as f:
                body = f.read(MAX_PHOTO_BYTES + 1)    # the header's size is not trusted
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
            errors.append(PhotoError(name, f"cannot be unpacked: {exc}"))
            continue
        if len(body) > MAX_PHOTO_BYTES:
            errors.append(PhotoError(name, _too_big(len(body))))
            continue
        entries.append(Entry(name, body))
    if errors:
        raise PhotosRefused(errors)
    return entries


def read_folder(folder: Path) -> list[Entry]:
    """The files directly in ``folder`` (hidden ones skipped; no symlinks followed)."""
    paths = sorted(p for p in folder.iterdir() if not IGNORED.search(p.name))
    if len(paths) > MAX_FILES:
        raise PhotosRefused([PhotoError(str(folder), f"{len(paths)} files; at most "
                                                     f"{MAX_FILES}")])
    errors: list[PhotoError] = []
    entries: list[Entry] = []
    for p in paths:
        if p.is_symlink() or not p.is_file():
            errors.append(PhotoError(p.name, "not a regular file"))
        elif p.stat().st_size > MAX_PHOTO_BYTES:
            errors.append(PhotoError(p.name, _too_big(p.stat().st_size)))
        else:
            entries.append(Entry(p.name, p.read_bytes()))
    if errors:
        raise PhotosRefused(errors)
    return entries


def read_path(path: Path) -> list[Entry]:
    """A folder or a zip file (the CLI's ``kuzet hub import-photos PATH``)."""
    if path.is_dir():
        return read_folder(path)
    if path.stat().st_size > MAX_TOTAL_BYTES:
        raise PhotosRefused([PhotoError(path.name, "larger than "
                                                   f"{MAX_TOTAL_BYTES // 2**20} MB")])
    return read_zip(path.read_bytes())


def _too_big(size: int) -> str:
    return f"{size / 2**20:.1f} MB, larger than {MAX_PHOTO_BYTES // 2**20} MB"


# -- which student each file is ------------------------------------------------------------

def student_of(name: str) -> str:
    """The student number a file name gives: its name without the folder and extension."""
    return posixpath.splitext(posixpath.basename(name))[0].strip()


def assign(entries: list[Entry], known: set[str],
           by_column: dict[str, str] | None = None) -> tuple[list[tuple[str, Entry]],
                                                           list[PhotoError]]:
    """Each file's student: the one whose roster row names it (``by_column``: student number
    -> file name in the zip, matched by its path or its base name), else the student number
    its name gives, which must be ``known``. A student gets one file; a roster row naming a
    missing file is an error."""
    by_column = by_column or {}
    named: dict[str, str] = {}
    errors: list[PhotoError] = []
    for student, wanted in by_column.items():
        if wanted in named:
            errors.append(PhotoError(wanted, f"named in the roster for both {named[wanted]}"
                                             f" and {student}"))
        named.setdefault(wanted, student)
    out: list[tuple[str, Entry]] = []
    taken: dict[str, str] = {}
    used: set[str] = set()
    for e in entries:
        key = e.name if e.name in named else posixpath.basename(e.name)
        student = named.get(key)
        if student is not None:
            used.add(key)
        else:
            student = student_of(e.name)
            if student not in known:
                errors.append(PhotoError(e.name, f"{student!r} is not a known student number"
                                                 " (name the file by it, or in the roster's"
                                                 f" {PHOTO_COLUMN!r} column)"))
                continue
        if student in taken:
            errors.append(PhotoError(e.name, f"a second photo of {student} (also "
                                             f"{taken[student]})"))
            continue
        taken[student] = e.name
        out.append((student, e))
    for wanted, student in named.items():
        if wanted not in used:
            errors.append(PhotoError(wanted, f"named in the roster for {student} but not in "
                                             "the zip"))
    return out, errors


# -- each photo ----------------------------------------------------------------------------

def image_kind(data: bytes) -> str | None:
    """``"jpeg"`` or ``"png"`` by the file's first bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return None


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's frame header, without decoding."""
    if kind == "png":
        if data[12:16] != b"IHDR":
            return None
        return struct.unpack(">II", data[16:24])
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:                    # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker == 0xDA:                    # the image data before any frame header
            return None
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in _SOF and i + 9 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    return None


FaceFinder = Callable[[np.ndarray], list]


def _find_faces() -> FaceFinder:
    from hub.faces import find_faces

    return find_faces


def check(student_no: str, entry: Entry, find_faces: FaceFinder) -> Photo | PhotoError:
    """One file checked and re-encoded, or why not."""
    data, name = entry.data, entry.name
    if not data:
        return PhotoError(name, "empty file")
    if len(data) > MAX_PHOTO_BYTES:
        return PhotoError(name, _too_big(len(data)))
    kind = image_kind(data)
    if kind is None:
        return PhotoError(name, "not a JPEG or PNG image (by its content)")
    size = header_size(data, kind)
    if size is None:
        return PhotoError(name, f"a damaged {kind.upper()}: no image size in its header")
    w, h = size
    if min(w, h) < MIN_SIDE:
        return PhotoError(name, f"{w}×{h} pixels, smaller than {MIN_SIDE}×{MIN_SIDE}")
    if max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
        return PhotoError(name, f"{w}×{h} pixels, larger than {MAX_SIDE} a side or "
                                f"{MAX_PIXELS // 1_000_000} Mpixels")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # turned upright
    if image is None:
        return PhotoError(name, f"a damaged {kind.upper()}: it cannot be decoded")
    scale = STORED_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
    faces = find_faces(image)
    if len(faces) != 1:
        return PhotoError(name, "no face found" if not faces else
                          f"{len(faces)} faces found; a roster photo shows exactly one")
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        return PhotoError(name, "could not be re-encoded")
    jpeg = jpeg.tobytes()
    return Photo(student_no, name, hashlib.sha256(data).hexdigest(), jpeg,
                 hashlib.sha256(jpeg).hexdigest(), image.shape[1], image.shape[0])


def prepare(entries: Iterable[Entry], known: set[str], by_column: dict[str, str] | None = None,
            find_faces: FaceFinder | None = None) -> list[Photo]:
    """Every photo checked and re-encoded, or PhotosRefused listing every bad file."""
    entries = list(entries)
    pairs, errors = assign(entries, known, by_column)
    finder = find_faces or _find_faces()
    photos: list[Photo] = []
    for student, entry in pairs:
        result = check(student, entry, finder)
        if isinstance(result, PhotoError):
            errors.append(result)
        else:
            photos.append(result)
    if not entries and not by_column:
        errors.append(PhotoError("(upload)", "no photos in it"))
    if errors:
        raise PhotosRefused(sorted(errors, key=lambda e: e.name))
    return photos


# -- the photos folder ---------------------------------------------------------------------

def write_files(folder: EvidenceFolder, photos: list[Photo]) -> tuple[list[StoredPhoto],
                                                                     list[str]]:
    """Each photo's file (named by its sha256: the name says nothing of the student), made
    durable before the rows that name them are committed. Returns the rows to store and the
    files this call created (to remove if the import is rolled back)."""
    stored, created = [], []
    for p in photos:
        relative, new = folder.create(p.sha256, "image/jpeg", p.jpeg)
        if new:
            created.append(relative)
        stored.append(StoredPhoto(p.student_no, relative, p.sha256, p.source_sha256,
                                  p.source_name[-200:], p.width, p.height, len(p.jpeg)))
    folder.sync()
    return stored, created


def remove_files(folder: EvidenceFolder, relatives: Iterable[str]) -> int:
    """Delete stored photo files (replaced, rolled back or expired); how many were there."""
    removed = 0
    for relative in relatives:
        try:
            folder.resolve(relative).unlink()
            removed += 1
        except (FileNotFoundError, EvidencePathError):
            pass
    return removed


def store_all(folder: EvidenceFolder, photos: list[Photo],
              commit: Callable[[list[StoredPhoto]], list[str]]) -> None:
    """Write the files, then ``commit(rows)`` (one transaction: it stores the rows and
    returns the files no row names any more, the replaced photos', deleted after it); if it
    fails, the files this import created go and the error goes on."""
    stored, created = write_files(folder, photos)
    try:
        gone = commit(stored)
    except BaseException:
        remove_files(folder, created)
        raise
    remove_files(folder, gone)
