"""The picamera2 adapter against its double (tests/fakes/picamera2.py): both streams, the lores
YUV420 to BGR conversion, a missing or unplugged camera; picamera2 imported in one place."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture.picamera2_source import Picamera2Source
from kuzet.errors import SourceError
from tests.fakes.picamera2 import FakePicamera2, missing_camera


@pytest.mark.parametrize("stride", [None, 704])  # 704: picamera2 may pad lores rows
@pytest.mark.parametrize("bgr", [(0, 0, 255), (0, 255, 0), (255, 0, 0), (40, 160, 220)])
def test_picamera2_lores_yuv420_becomes_bgr(bgr, stride):
    scene = np.full((1080, 1920, 3), bgr, np.uint8)
    with Picamera2Source(camera_factory=lambda: FakePicamera2(scene, lores_stride=stride)) as cam:
        frame = cam.read()
    assert frame.image.shape == (360, 640, 3) and frame.image.flags.c_contiguous
    assert np.abs(frame.image.astype(int) - bgr).max() <= 2
    assert frame.main is not None and frame.main.shape == (1080, 1920, 3)
    assert frame.evidence is frame.main


def test_picamera2_configures_both_streams_and_shuts_down(photo):
    camera = FakePicamera2(photo)
    source = Picamera2Source((1280, 720), (320, 180), 5.0, camera_factory=lambda: camera)
    with source:
        frames = [source.read() for _ in range(3)]
    assert camera.config is not None
    assert camera.config["main"] == {"size": (1280, 720), "format": "RGB888"}
    assert camera.config["lores"] == {"size": (320, 180), "format": "YUV420"}
    assert camera.config["controls"] == {"FrameDurationLimits": (200_000, 200_000)}
    assert camera.calls == ["create_video_configuration", "configure", "start",
                            "capture", "capture", "capture", "stop", "close"]
    assert [f.seq for f in frames] == [1, 2, 3]
    expected = cv2.resize(photo, (320, 180), interpolation=cv2.INTER_AREA)
    assert np.abs(frames[0].image.astype(int) - expected).mean() < 3  # a real photo survives


def test_picamera2_missing_camera_is_a_source_error():
    with pytest.raises(SourceError, match=r"cannot start the Raspberry Pi camera.*IndexError"):
        Picamera2Source(camera_factory=missing_camera).open()


def test_picamera2_unplugged_mid_stream(photo):
    camera = FakePicamera2(photo, fail_after=2)
    with Picamera2Source(camera_factory=lambda: camera) as source:
        source.read(), source.read()
        with pytest.raises(SourceError, match=r"stopped delivering frames.*timed out"):
            source.read()
    assert camera.calls[-2:] == ["stop", "close"]


@pytest.mark.skipif(importlib.util.find_spec("picamera2") is not None,
                    reason="picamera2 is installed here")
def test_picamera2_not_installed_says_how_to_get_it():
    with pytest.raises(SourceError, match="apt install python3-picamera2"):
        Picamera2Source().open()


def test_picamera2_is_imported_in_one_place_only():
    root = Path(__file__).resolve().parents[1]
    importers = {p.relative_to(root).as_posix()
                 for folder in ("edge", "kuzet", "hub", "provisioning")
                 for p in (root / folder).rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+picamera2\b", p.read_text(), re.MULTILINE)}
    assert importers == {"edge/capture/picamera2_source.py"}

