"""The evidence folder: files named by their validated evidence id, never by anything else.

``EvidenceFolder.relative_name(evidence_id, content_type)`` accepts only ids that match the
contract's id pattern (letters, digits, ``-``, ``_``), so no id can leave the folder; a stored
name read back (``resolve``) is resolved and checked to be inside it. A file is created once
(``O_EXCL``), after its bytes were checked against the message's size and sha256, and made
durable by one ``syncfs`` per writer batch before the batch's rows are committed; an existing
file is never overwritten unless no database row points to it (``replace``, after a crash).
"""

from __future__ import annotations

import array
import ctypes
import ctypes.util
import fcntl
import hashlib
import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)
ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
FS_IOC_GETFLAGS, FS_IOC_SETFLAGS = 0x80086601, 0x40086602   # linux/fs.h, 64-bit
FS_TOPDIR_FL = 0x00020000
SUFFIX = {"image/jpeg": ".jpg", "video/x-msvideo": ".avi"}


def _find_syncfs():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).syncfs
    except (OSError, AttributeError, TypeError):
        return None


_SYNCFS = _find_syncfs()


def spread_subfolders(folder: Path) -> bool:
    """Tell ext2/3/4 that ``folder``'s subfolders are unrelated (``chattr +T``): its Orlov
    allocator then puts each new fan-out folder in a roomy block group of its own instead
    of next to its parent. On an ext4 without a journal this keeps evidence files out of
    block groups where some other program just deleted many files, where each new file
    would cost several times more for minutes (docs/reliability.md, Load). Best effort:
    False where the filesystem has no such flag."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        if not flags[0] & FS_TOPDIR_FL:
            flags[0] |= FS_TOPDIR_FL
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags, True)
        return True
    except OSError as exc:                    # tmpfs, overlayfs, …: nothing to tell
        log.debug("evidence folder %s: no Orlov hint (%s)", folder, exc)
        return False
    finally:
        os.close(fd)


class EvidencePathError(ValueError):
    """An evidence id or stored file name that could point outside the evidence folder."""


class EvidenceFolder:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        spread_subfolders(self.root)
        self._made: set[str] = set()          # fan-out folders known to exist

    def relative_name(self, evidence_id: str, content_type: str) -> str:
        """``ab/abcdef….jpg``: two-character fan-out so no folder grows too large."""
        if not ID_RE.match(evidence_id):
            raise EvidencePathError(f"bad evidence id {evidence_id!r}")
        if content_type not in SUFFIX:
            raise EvidencePathError(f"unknown content type {content_type!r}")
        return f"{evidence_id[:2]}/{evidence_id}{SUFFIX[content_type]}"

    def resolve(self, relative: str) -> Path:
        """The absolute path of a stored name, refusing anything outside the folder."""
        path = (self.root / relative).resolve()
        if self.root not in path.parents:
            raise EvidencePathError(f"{relative!r} is outside the evidence folder")
        return path

    def create(self, evidence_id: str, content_type: str, data: bytes) -> tuple[str, bool]:
        """Write a new file unless one of that name exists: never overwrites. Returns its
        relative name and whether this call created it. Bytes must already be checked
        against the message's sha256 (``EvidenceMessage.decoded()``). The file is not yet
        durable: the writer calls ``sync()`` once per batch, before it commits the rows."""
        relative = self.relative_name(evidence_id, content_type)   # safe by construction
        fan_out = relative[:2]
        if fan_out not in self._made:
            (self.root / fan_out).mkdir(exist_ok=True)
            self._made.add(fan_out)
        path = os.path.join(self.root, relative)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except FileExistsError:
            return relative, False
        except FileNotFoundError:             # the fan-out folder was removed meanwhile
            self._made.discard(fan_out)
            raise
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return relative, True

    def sync(self) -> None:
        """Make every file written so far durable: one ``syncfs`` of the evidence
        filesystem per batch instead of an fdatasync per file (``os.sync`` where the C
        library has no syncfs)."""
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _SYNCFS is None or _SYNCFS(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def replace(self, relative: str, data: bytes) -> None:
        """Overwrite a file no database row points to (left by a crash), atomically."""
        path = self.resolve(relative)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def discard(self, relative: str) -> None:
        """Remove a file no database row points to (evidence refused after it was written)."""
        self.resolve(relative).unlink(missing_ok=True)

    def verify(self, relative: str, sha256: str) -> bool:
        """True if the stored file is still the one that arrived."""
        try:
            data = self.resolve(relative).read_bytes()
        except OSError:
            return False
        return hashlib.sha256(data).hexdigest() == sha256
