"""The ``[source]`` config: each type builds its source unopened, fps spellings, refusals; and
reading a node's config loads no OpenCV."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from edge.capture.config import FolderConfig, OpenCvConfig, Picamera2Config, SourceConfig
from edge.capture.factory import open_source
from edge.capture.folder_source import FolderSource
from edge.capture.opencv_source import OpenCvSource
from edge.capture.picamera2_source import Picamera2Source
from tests.fakes.picamera2 import FakePicamera2

CONFIG = TypeAdapter(SourceConfig)


@pytest.mark.parametrize(("raw", "kind", "source_type"), [
    ({"type": "picamera2", "main_size": [1920, 1080], "lores_size": [640, 360], "fps": 10},
     Picamera2Config, Picamera2Source),
    ({"type": "opencv", "uri": "/dev/video0"}, OpenCvConfig, OpenCvSource),
    ({"type": "opencv", "uri": 0, "fps": 15}, OpenCvConfig, OpenCvSource),
    ({"type": "opencv", "uri": "rtsp://cam.local/stream", "fps": None}, OpenCvConfig,
     OpenCvSource),
    ({"type": "opencv", "uri": "/srv/demo.avi", "loop": True}, OpenCvConfig, OpenCvSource),
    ({"type": "folder", "path": "/srv/stills", "fps": 2.0, "loop": True}, FolderConfig,
     FolderSource),
])
def test_config_builds_unopened_source(raw, kind, source_type):
    cfg = CONFIG.validate_python(raw)
    assert type(cfg) is kind
    assert type(open_source(cfg)) is source_type  # nothing opened: these paths do not exist


@pytest.mark.parametrize(("raw", "fps"), [
    ({"type": "opencv", "uri": "a.avi"}, "native"),
    ({"type": "opencv", "uri": "a.avi", "fps": None}, None),
    ({"type": "opencv", "uri": "a.avi", "fps": "max"}, None),  # TOML has no null
    ({"type": "folder", "path": "x", "fps": "max"}, None),
    ({"type": "folder", "path": "x"}, 2.0),
])
def test_config_fps_spellings(raw, fps):
    assert CONFIG.validate_python(raw).fps == fps


@pytest.mark.parametrize(("raw", "error"), [
    ({"type": "opencv", "uri": "a.avi", "colour": "red"}, "Extra inputs are not permitted"),
    ({"type": "opencv", "uri": 0, "loop": True}, "loop applies to video files only"),
    ({"type": "opencv", "uri": "a.avi", "fps": 0}, "greater than 0"),
    ({"type": "picamera2", "main_size": [1920, 1081]}, "must be positive and even"),
    ({"type": "picamera2", "lores_size": [2560, 1440]}, "must not exceed main_size"),
    ({"type": "folder"}, "Field required"),
    ({"type": "webcam", "uri": 0}, "does not match any of the expected tags"),
])
def test_config_rejects(raw, error):
    with pytest.raises(ValidationError, match=error):
        CONFIG.validate_python(raw)


def test_reading_a_node_config_loads_no_opencv():
    code = "import sys, edge.config; print(sorted({'cv2', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


def test_open_source_passes_the_camera_factory(photo):
    cfg = CONFIG.validate_python({"type": "picamera2", "main_size": [640, 480],
                                  "lores_size": [320, 240]})
    with open_source(cfg, camera_factory=lambda: FakePicamera2(photo)) as source:
        assert source.read().image.shape == (240, 320, 3)
