"""Evidence of the sizes a node makes, made by the node's own evidence code on the classroom
footage (``kuzet_tools/footage/classroom.gif``): for the campus benchmark's alerts.

``EvidenceStore.snapshot`` (the full frame with the seat marked, and the seat's crop, JPEG at
the node's default quality and width) and ``EvidenceStore.clip`` (an MJPEG AVI of the
``FrameRing``'s frames, ``clip_before_s`` + ``clip_after_s`` at ``clip_fps``), all at
``edge.config.EvidenceSection``'s defaults. Not done: blurring the other faces (it needs the
face detector; it changes a JPEG's size by a few per cent at most).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FOOTAGE = Path(__file__).resolve().parent.parent / "footage"
GIF_FPS = 16.7                          # classroom.gif: 45 frames, 2.7 s (its README)


@dataclass(frozen=True)
class Evidence:
    """One alert's files: ``snapshot`` and ``crop`` (JPEG), ``clip`` (AVI)."""

    snapshot: bytes
    crop: bytes
    clip: bytes

    def sizes(self) -> dict[str, int]:
        return {"snapshot": len(self.snapshot), "crop": len(self.crop), "clip": len(self.clip)}


def _frames() -> list[np.ndarray]:
    from kuzet_tools.clips import read_clip

    try:
        return read_clip(FOOTAGE / "classroom.gif")[0]
    except FileNotFoundError as exc:
        raise RuntimeError("classroom.gif gave no frames (OpenCV without GIF reading?)") from exc


def footage_evidence(variants: int = 4) -> list[Evidence]:
    """``variants`` alerts' evidence, each at another seat and moment of the footage (so that
    no two files are the same bytes), made as the node makes them."""
    from edge.config import EvidenceSection
    from edge.evidence import EvidenceStore, FrameRing

    cfg = EvidenceSection()
    frames = _frames()
    seats = json.loads((FOOTAGE / "classroom-seats.json").read_text())["seats"]
    out = []
    with tempfile.TemporaryDirectory(prefix="kuzet-footage-evidence-") as tmp:
        store = EvidenceStore(Path(tmp), max_bytes=2**30, min_free_bytes=0,
                              quality=cfg.jpeg_quality, max_width=cfg.max_width, boot="bench")
        for v in range(variants):
            seat = seats[v % len(seats)]
            polygon = np.array(seat["polygon"], np.float32)
            x1, y1 = polygon.min(axis=0).astype(int)
            x2, y2 = polygon.max(axis=0).astype(int)
            ring = FrameRing(cfg.clip_before_s + cfg.clip_after_s + 2, cfg.clip_fps)
            start = v * 7                    # each variant begins at another frame
            n = int((cfg.clip_before_s + cfg.clip_after_s) * GIF_FPS) + 1
            for i in range(n):               # the footage looped, as the demo plays it
                ring.add(i / GIF_FPS, frames[(start + i) % len(frames)])
            moment = cfg.clip_before_s
            image = frames[(start + int(moment * GIF_FPS)) % len(frames)]
            alert_id = f"bench-{v}"
            snap, crop = store.snapshot(alert_id, image, polygon, (x1, y1, x2, y2), 0.0)
            clip = store.clip(alert_id, ring.between(moment - cfg.clip_before_s,
                                                     moment + cfg.clip_after_s),
                              cfg.clip_fps, 0.0)
            out.append(Evidence(snap.path.read_bytes(), crop.path.read_bytes(),
                                clip.path.read_bytes()))
        store._db.close()
    return out
