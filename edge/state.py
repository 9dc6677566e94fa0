"""What the node must remember across a restart: the exam session and the open alerts.

Written atomically (temp file, fsync, rename) on every change, so a power cut leaves either
the old state or the new one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class NodeState:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.session: dict | None = None
        self.open_alerts: dict[str, dict] = {}
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                self.session = data.get("session")
                self.open_alerts = dict(data.get("open_alerts", {}))
            except (OSError, ValueError):
                bad = self.path.with_suffix(".corrupt")
                self.path.replace(bad)        # keep it for a human; start clean

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump({"session": self.session, "open_alerts": self.open_alerts}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)
