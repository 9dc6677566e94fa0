"""Evidence on the node: a ring of recent frames, snapshots and clips, with a bounded disk.

Files live under ``<dir>/<alert_id>/`` and are listed in a small SQLite index with their
SHA-256, the id of the message that carries them, and whether their alert is closed. When the
folder outgrows its budget, or the disk's free space falls under its floor, the oldest
evidence of closed alerts whose message has been delivered goes first. A file that a message
still waiting in the outbox has to send is never deleted.

Age for retention is measured on the monotonic clock while the machine has not rebooted (a Pi
has no real-time clock: NTP may move the wall clock by a year, and that must not make today's
evidence "old"); the wall clock only ages files written before the last reboot.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.system import boot_id
from kuzet.contract import new_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvidenceFile:
    evidence_id: str
    alert_id: str
    kind: str                 # snapshot | crop | clip | check-in
    path: Path
    sha256: str
    size: int
    content_type: str
    captured_wall: float


class FrameRing:
    """The last ``seconds`` of frames as JPEGs, ``fps`` per second at most, for clips."""

    def __init__(self, seconds: float, fps: float, max_width: int = 640, quality: int = 75):
        self.interval = 1.0 / fps
        self.frames: deque[tuple[float, bytes]] = deque(maxlen=max(2, int(seconds * fps) + 2))
        self.max_width = max_width
        self.quality = quality
        self._last = float("-inf")
        self._lock = threading.Lock()

    def add(self, t: float, image: np.ndarray) -> None:
        if t - self._last < self.interval:
            return
        self._last = t
        h, w = image.shape[:2]
        if w > self.max_width:
            image = cv2.resize(image, (self.max_width, round(h * self.max_width / w)),
                               interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if ok:
            with self._lock:
                self.frames.append((t, buf.tobytes()))

    def between(self, t1: float, t2: float) -> list[bytes]:
        with self._lock:
            return [jpg for t, jpg in self.frames if t1 <= t <= t2]

    @property
    def newest(self) -> float:
        with self._lock:
            return self.frames[-1][0] if self.frames else float("-inf")


def mark_seat(image: np.ndarray, polygon: np.ndarray | None) -> np.ndarray:
    out = image.copy()
    if polygon is not None:
        pts = polygon.astype(np.int32).reshape(-1, 1, 2)
        thick = max(2, image.shape[1] // 400)
        cv2.polylines(out, [pts], True, (0, 0, 255), thick, cv2.LINE_AA)
    return out


class Ballast:
    """A reserve file kept on the node's disk. When the disk is full, releasing it gives the
    outbox room to store alerts and to delete what the broker acknowledged; it is refilled
    once there is room again."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = Path(path)
        self.size = size
        self.refill(0)

    def release(self) -> bool:
        """Delete the reserve; True if there was one to give up."""
        if self.size and self.path.exists():
            self.path.unlink()
            log.warning("disk full: released the %d kB reserve", self.size // 1024)
            return True
        return False

    def refill(self, keep_free: int) -> None:
        if not self.size or self.path.exists():
            return
        try:
            if shutil.disk_usage(self.path.parent).free < self.size + keep_free:
                return
            with open(self.path, "wb") as fh:
                fh.write(b"\0" * self.size)
                fh.flush()
        except OSError:
            self.path.unlink(missing_ok=True)


class EvidenceStore:
    def __init__(self, folder: str | Path, *, max_bytes: int, min_free_bytes: int,
                 quality: int = 85, max_width: int = 1280,
                 disk_free: Callable[[Path], int] | None = None,
                 delivered: Callable[[str], bool] = lambda msg_id: True,
                 in_use: Callable[[], set[str]] = set,
                 wall_clock: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic, boot: str | None = None) -> None:
        """``delivered(msg_id)``: has the hub got that message? ``in_use()``: paths that
        messages not yet sent still need. ``clock`` is monotonic; ``boot`` names the boot its
        readings belong to (default: the kernel's boot id)."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self.quality = quality
        self.max_width = max_width
        self._disk_free = disk_free or (lambda p: shutil.disk_usage(p).free)
        self._delivered = delivered
        self._in_use = in_use
        self._wall = wall_clock
        self._clock = clock
        self.boot = boot if boot is not None else boot_id()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.folder / "index.db", check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS evidence (evidence_id TEXT PRIMARY KEY,"
            " alert_id TEXT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL,"
            " sha256 TEXT NOT NULL, size INTEGER NOT NULL, msg_id TEXT,"
            " closed INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL)")
        cols = {r[1] for r in self._db.execute("PRAGMA table_info(evidence)")}
        if "boot" not in cols:       # files written before this column age by the wall clock
            self._db.execute("ALTER TABLE evidence ADD COLUMN boot TEXT")
            self._db.execute("ALTER TABLE evidence ADD COLUMN created_mono REAL")
        self.warnings: list[str] = []

    # -- writing ---------------------------------------------------------------------------
    def _write(self, alert_id: str, kind: str, ext: str, data: bytes, content_type: str,
               captured_wall: float) -> EvidenceFile:
        evidence_id = new_id()
        folder = self.folder / alert_id
        folder.mkdir(exist_ok=True)
        path = folder / f"{evidence_id}.{ext}"
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
        tmp.replace(path)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._db.execute(
                "INSERT INTO evidence (evidence_id, alert_id, kind, path, sha256, size, msg_id,"
                " closed, created, boot, created_mono) VALUES (?,?,?,?,?,?,NULL,0,?,?,?)",
                (evidence_id, alert_id, kind, str(path), digest, len(data), self._wall(),
                 self.boot, self._clock()))
        return EvidenceFile(evidence_id, alert_id, kind, path, digest, len(data), content_type,
                            captured_wall)

    def _jpeg(self, image: np.ndarray) -> bytes:
        h, w = image.shape[:2]
        if w > self.max_width:
            image = cv2.resize(image, (self.max_width, round(h * self.max_width / w)),
                               interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        return buf.tobytes()

    def snapshot(self, alert_id: str, image: np.ndarray, polygon: np.ndarray | None,
                 crop: tuple[int, int, int, int] | None, captured_wall: float
                 ) -> list[EvidenceFile]:
        """The full frame with the seat marked, and the seat's crop (when there is a seat).
        ``polygon`` and ``crop`` are in ``image``'s pixels."""
        files = [self._write(alert_id, "snapshot", "jpg", self._jpeg(mark_seat(image, polygon)),
                             "image/jpeg", captured_wall)]
        if crop is not None:
            x1, y1, x2, y2 = crop
            files.append(self._write(alert_id, "crop", "jpg", self._jpeg(image[y1:y2, x1:x2]),
                                     "image/jpeg", captured_wall))
        return files

    def still(self, alert_id: str, kind: str, image: np.ndarray,
              captured_wall: float) -> EvidenceFile:
        """One picture as it is (a check-in crop: ``kind`` ``check-in``)."""
        return self._write(alert_id, kind, "jpg", self._jpeg(image), "image/jpeg",
                           captured_wall)

    def clip(self, alert_id: str, jpegs: list[bytes], fps: float, captured_wall: float,
             mask: Callable[[np.ndarray], None] | None = None) -> EvidenceFile | None:
        """An MJPEG AVI of the ring's frames (seconds before and after the moment);
        ``mask`` edits each frame in place first (blurring faces)."""
        frames = [f for f in (cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR)
                              for j in jpegs) if f is not None]
        if mask is not None:
            for f in frames:
                mask(f)
        if not frames:
            return None
        h, w = frames[0].shape[:2]
        tmp = self.folder / f".clip-{new_id()}.avi"
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
        try:
            for f in frames:
                writer.write(f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h)))
        finally:
            writer.release()
        data = tmp.read_bytes()
        tmp.unlink()
        return self._write(alert_id, "clip", "avi", data, "video/x-msvideo", captured_wall)

    # -- book-keeping -------------------------------------------------------------------------
    def set_message(self, evidence_id: str, msg_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE evidence SET msg_id=? WHERE evidence_id=?",
                             (msg_id, evidence_id))

    def close_alert(self, alert_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE evidence SET closed=1 WHERE alert_id=?", (alert_id,))

    def space_ok(self, need: int = 0) -> bool:
        """Is there room for ``need`` more bytes of evidence, keeping the disk's free space
        above its floor?"""
        try:
            return self._disk_free(self.folder) - need >= self.min_free_bytes
        except OSError:
            return False

    def used_bytes(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COALESCE(SUM(size),0) FROM evidence").fetchone()[0]

    def _deletable(self, path: str, msg_id: str | None, in_use: set[str]) -> bool:
        """Only what the hub already has: delivered, and needed by no message still queued."""
        return path not in in_use and (msg_id is None or self._delivered(msg_id))

    def expire(self, max_age_s: float) -> int:
        """Retention (clause 4.3): delete evidence older than ``max_age_s`` whose alert is
        closed and whose message was delivered (the hub keeps its own copy, and its own
        retention, protocols included). Returns how many files went; each is logged.

        A file written in this boot is aged by the monotonic clock, so a wall clock that jumps
        (NTP correcting a Pi without a real-time clock) deletes nothing early; files from
        earlier boots can only be aged by the wall clock."""
        with self._lock:
            rows = self._db.execute(
                "SELECT evidence_id, path, msg_id FROM evidence WHERE closed=1 AND CASE"
                " WHEN boot = ? AND created_mono IS NOT NULL THEN created_mono < ?"
                " ELSE created < ? END ORDER BY rowid",
                (self.boot, self._clock() - max_age_s, self._wall() - max_age_s)).fetchall()
        in_use = self._in_use() if rows else set()
        gone = 0
        for evidence_id, path, msg_id in rows:
            if not self._deletable(path, msg_id, in_use):
                continue
            Path(path).unlink(missing_ok=True)
            with self._lock:
                self._db.execute("DELETE FROM evidence WHERE evidence_id=?", (evidence_id,))
            log.info("retention: deleted evidence %s (%s)", evidence_id, path)
            gone += 1
        return gone

    def enforce_budget(self) -> list[str]:
        """Delete the oldest evidence of closed, delivered alerts while over budget. Returns
        (and keeps in ``warnings``) what the status should tell."""
        warnings: list[str] = []
        free = self._disk_free(self.folder)
        used = self.used_bytes()
        if used <= self.max_bytes and free >= self.min_free_bytes:
            self.warnings = []
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT evidence_id, path, size, msg_id FROM evidence WHERE closed=1"
                " ORDER BY rowid").fetchall()          # written order: no clock to trust
        in_use = self._in_use() if rows else set()
        deleted = 0
        for evidence_id, path, size, msg_id in rows:
            if used <= self.max_bytes and free >= self.min_free_bytes:
                break
            if not self._deletable(path, msg_id, in_use):
                continue
            Path(path).unlink(missing_ok=True)
            with self._lock:
                self._db.execute("DELETE FROM evidence WHERE evidence_id=?", (evidence_id,))
            used -= size
            free += size
            deleted += 1
        if deleted:
            warnings.append(f"evidence space low: deleted the {deleted} oldest delivered files")
            log.warning(warnings[-1])
        if used > self.max_bytes or free < self.min_free_bytes:
            warnings.append(f"evidence space low: {used // 2**20} MB used, "
                            f"{free // 2**20} MB free, nothing more may be deleted")
        self.warnings = warnings
        return warnings
