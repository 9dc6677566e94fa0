"""What the node must remember across a restart: the exam session and the open alerts.

Written atomically (temp file, fsync, rename) on every change, so a power cut leaves either
the old state or the new one. A file that cannot be read is kept aside (``.corrupt``) for a
human, and the node starts clean.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class OpenAlert:
    """An alert the hub has seen opened and not yet closed, as saved.

    ``boot`` and ``started_mono`` date it on the monotonic clock of the boot it opened in;
    ``duration_s`` is the last duration measured. State written by older versions may lack
    them (``None``)."""

    rule: str
    seat: str | None
    session_id: str | None
    started_at: datetime          # the wall time it opened with (kept for every message)
    score: float = 0.0
    boot: str | None = None
    started_mono: float | None = None
    duration_s: float | None = None

    def as_json(self) -> dict:
        out: dict = {"rule": self.rule, "seat": self.seat, "session_id": self.session_id,
                     "started_at": self.started_at.isoformat(), "score": self.score}
        for key in ("boot", "started_mono", "duration_s"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_json(cls, data: dict) -> OpenAlert:
        return cls(rule=data["rule"], seat=data.get("seat"), session_id=data.get("session_id"),
                   started_at=datetime.fromisoformat(data["started_at"]),
                   score=float(data.get("score", 0.0)), boot=data.get("boot"),
                   started_mono=data.get("started_mono"), duration_s=data.get("duration_s"))


class NodeState:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.session: dict | None = None
        self.open_alerts: dict[str, OpenAlert] = {}
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                self.session = data.get("session")
                self.open_alerts = {alert_id: OpenAlert.from_json(info)
                                    for alert_id, info in data.get("open_alerts", {}).items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                bad = self.path.with_suffix(".corrupt")
                self.path.replace(bad)        # keep it for a human; start clean
                self.session, self.open_alerts = None, {}

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump({"session": self.session,
                       "open_alerts": {a: info.as_json() for a, info in self.open_alerts.items()}},
                      fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)

    def try_save(self, warn: Callable[[str], None]) -> bool:
        """Save; if the disk refuses, say so and keep the state in memory (it is saved again
        on the next change)."""
        try:
            self.save()
            return True
        except OSError as exc:
            warn(f"state not saved: {exc.strerror}")
            return False
