"""The retention job (clause 4.3): evidence is deleted ``retention.evidence_days`` (30) days after
its exam ended, on the hub, by ``kuzet hub retention`` (nightly: systemd/kuzet-retention.timer).
Evidence whose alert has a protocol is kept as long as the protocol. Every deletion is logged
in ``retention_log``. Roster photos follow their exams: a photo goes the same number of days
after the later of its import and the end of the student's last exam (``hub.store.photos``),
logged in ``photo_retention_log``. The clock is passed in (``now``) so tests can move it.
The proctors' check-in records go with their exam, but a student's while a protocol of that
exam holds it (``hub.store.check_ins.expire``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.config import HubConfig
from hub.evidence import EvidenceFolder, EvidencePathError
from hub.store import check_ins, expiry
from hub.store import photos as photo_store
from hub.store.db import iso_seconds, transaction
from hub.store.migrations import open_database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionReport:
    deleted: int
    kept: int
    missing_files: int
    cutoff: str
    photos_deleted: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"deleted": self.deleted, "kept": self.kept,
                "missing_files": self.missing_files, "cutoff": self.cutoff,
                "photos_deleted": self.photos_deleted}


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def purge(db_path: str | Path, folder: EvidenceFolder, days: float,
          now: float | None = None, photos: EvidenceFolder | None = None) -> RetentionReport:
    """Delete every evidence file (and row) whose exam ended more than ``days`` before
    ``now`` (epoch seconds) and that no protocol holds, and (given the ``photos`` folder)
    every roster photo past its retention; log each one."""
    now_dt = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    cutoff = now_dt - timedelta(days=days)
    db = open_database(db_path)
    deleted = kept = missing = 0
    try:
        with transaction(db.conn) as conn:
            for row in expiry.candidates(conn):
                end = _parse(row["exam_end"])
                if end >= cutoff:
                    kept += 1
                    continue
                removed = _remove(folder, row["file"])
                missing += not removed
                expiry.forget(conn, row, (end + timedelta(days=days)).isoformat(), removed)
                deleted += 1
            results = check_ins.expire(conn, iso_seconds(cutoff))   # the exams' check-ins
            log.info("retention: %d check-in results deleted", results)
            photos_deleted = _purge_photos(conn, photos, days, now_dt) if photos else 0
    finally:
        db.close()
    report = RetentionReport(deleted, kept, missing, cutoff.isoformat(timespec="seconds"),
                             photos_deleted)
    log.info("retention: %s", report.as_dict())
    return report


def _purge_photos(conn, folder: EvidenceFolder, days: float, now: datetime) -> int:
    """Roster photos past their retention: the row (and what refers to it), then the file
    unless another student's row names the same file."""
    gone = photo_store.expired(conn, days, now)
    for row, until in gone:
        shared = photo_store.shared_file(conn, row)
        photo_store.forget(conn, row, until, not shared and _remove(folder, row["file"]))
    return len(gone)


def _remove(folder: EvidenceFolder, relative: str) -> bool:
    """Unlink one stored file; False if it was already gone."""
    try:
        folder.resolve(relative).unlink()
    except FileNotFoundError:
        return False
    except EvidencePathError:
        log.error("retention: refusing to delete %r (outside the evidence folder)", relative)
        return False
    return True


def run(config: HubConfig, now: float | None = None) -> RetentionReport:
    """``kuzet hub retention --config FILE``: purge with the configured period."""
    return purge(config.hub.db_path, EvidenceFolder(config.hub.evidence_path),
                 config.retention.evidence_days, now, EvidenceFolder(config.hub.photos_path))
