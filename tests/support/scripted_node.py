"""A whole ``EdgeNode`` without models, footage or a broker, for tests of what is not
perception: scripted detectors (``tests/fakes/detector.py``), a folder of synthetic stills
(the real folder source) and a fake publisher (``tests/fakes/publisher.py``).

The stills show a room of two seats side by side (``r1s1`` on the left, ``r1s2`` on the
right) on a textured background; ``phone=True`` puts a red blob at ``r1s1``, which the default
detector reports as a ``cell phone`` while ``phone_visible`` is set.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np

from edge.config import NodeConfig, parse_config
from edge.models.base import Detection
from edge.node import EdgeNode
from edge.seats import grid_seat_map
from tests.fakes.detector import ScriptedDetector, ScriptedFaceDetector, coloured
from tests.fakes.publisher import FakePublisher

W, H = 320, 240
RED = (0, 0, 255)
PHONE_BOX = (50, 100, 80, 140)                 # inside r1s1
FAST_RULES = {"device": {"min_duration_s": 0.3, "clear_after_s": 0.5, "cooldown_s": 60.0,
                         "update_every_s": 0.5}}


def write_stills(folder: Path, *, phone: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(7).integers(40, 200, (H, W, 3), dtype=np.uint8)
    if phone:
        x1, y1, x2, y2 = PHONE_BOX
        image[y1:y2, x1:x2] = RED
    cv2.imwrite(str(folder / "0001.png"), image)
    return folder


def scripted_config(tmp_path: Path, *, exam: bool = True, phone: bool = True,
                    extra: dict | None = None) -> NodeConfig:
    seats = tmp_path / "seats.json"
    seats.write_text(json.dumps(grid_seat_map(2, 1, W, H, room="a101").model_dump(mode="json")))
    data: dict = {
        "node": {"building": "main", "room": "a101", "name": "cam1",
                 "data_dir": str(tmp_path / "data")},
        "source": {"type": "folder", "path": str(write_stills(tmp_path / "stills", phone=phone)),
                   "fps": 20, "loop": True},
        "seat_map": str(seats),
        "rules": FAST_RULES,
        "evidence": {"clip_before_s": 0.5, "clip_after_s": 0.5, "clip_fps": 4},
        "heartbeat_s": 0.5,
    }
    if exam:
        data["exam"] = {"session_id": "exam-1", "allowed_aids": ["calculator"]}
    for key, value in (extra or {}).items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_config(data, "scripted node")


class PhoneDetector(ScriptedDetector):
    """Reports the red blob as a phone while ``phone_visible`` is set."""

    def __init__(self) -> None:
        self.phone_visible = threading.Event()
        self.phone_visible.set()
        see = coloured("cell phone", RED)
        super().__init__(lambda call, image: see(call, image) if self.phone_visible.is_set()
                         else [], infer_s=0.01)


def scripted_node(cfg: NodeConfig, detector: ScriptedDetector | None = None,
                  faces: list | None = None, **kwargs) -> EdgeNode:
    """The node of ``cfg`` with scripted detectors and a ``FakePublisher``."""
    return EdgeNode(cfg, detector=detector or PhoneDetector(),
                    face_detector=ScriptedFaceDetector(faces and (lambda call, image: faces)),
                    blur_detector=ScriptedFaceDetector(), publisher_factory=FakePublisher,
                    **kwargs)


def nothing_seen() -> ScriptedDetector:
    return ScriptedDetector(infer_s=0.01)


def person(box: tuple[float, float, float, float]) -> Detection:
    return Detection("person", 0.9, box)
