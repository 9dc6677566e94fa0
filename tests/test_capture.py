"""Frame capture: real footage through OpenCV, a real photo folder, picamera2 against its
double, and the supervisor (back-off, frozen, dark) on a fake clock that never sleeps."""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from edge.capture.base import EndOfStream, Frame, FrameSource, Pacer
from edge.capture.config import FolderConfig, OpenCvConfig, Picamera2Config, SourceConfig
from edge.capture.factory import open_source
from edge.capture.folder_source import FolderSource
from edge.capture.health import FrameHealth
from edge.capture.opencv_source import OpenCvSource
from edge.capture.picamera2_source import Picamera2Source
from edge.capture.supervisor import ResilientSource, SourceStatus
from kuzet.errors import SourceError
from tests.conftest import OPENCV_DATA
from tests.fakes.picamera2 import FakePicamera2, missing_camera

VTEST_FRAMES = 795
CLIP_FRAMES = 12


class FakeClock:
    """Monotonic seconds that only move when something sleeps or waits; records the waits."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.now += seconds

    def wait(self, seconds: float) -> bool:
        self.sleep(seconds)
        return False


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return cv2.imread(str(OPENCV_DATA / "messi5.jpg"))


@pytest.fixture(scope="session")
def clip(tmp_path_factory, vtest_avi) -> Path:
    """The first frames of vtest.avi, re-encoded as a short 10 fps MJPEG clip."""
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    cap = cv2.VideoCapture(str(vtest_avi))
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for _ in range(CLIP_FRAMES):
        out.write(cap.read()[1])
    out.release()
    cap.release()
    return path


def read_all(source: FrameSource, limit: int = 10_000) -> list[Frame]:
    frames = []
    with pytest.raises(EndOfStream):
        for _ in range(limit):
            frames.append(source.read())
    return frames


# --- OpenCV: files, devices, streams -------------------------------------------------------

def test_vtest_avi_every_frame_in_order(vtest_avi):
    seen = []  # (seq, t_mono, shape, dtype): holding 795 full frames would take a gigabyte
    with (OpenCvSource(str(vtest_avi), fps=None) as source,
          pytest.raises(EndOfStream, match=re.escape(f"{vtest_avi} after 795 frames"))):
        while True:
            f = source.read()
            seen.append((f.seq, f.t_mono, f.image.shape, f.image.dtype, f.main))
    seqs, times, shapes, dtypes, mains = zip(*seen, strict=True)
    assert list(seqs) == list(range(1, VTEST_FRAMES + 1))
    assert list(times) == sorted(times)
    assert set(shapes) == {(576, 768, 3)} and set(dtypes) == {np.dtype(np.uint8)}
    assert set(mains) == {None}
    assert f.evidence is f.image


def test_file_loop_keeps_going_with_increasing_seq(clip):
    with OpenCvSource(str(clip), fps=None, loop=True) as source:
        frames = [source.read() for _ in range(CLIP_FRAMES * 2 + 5)]
    assert [f.seq for f in frames] == list(range(1, CLIP_FRAMES * 2 + 6))
    assert np.array_equal(frames[0].image, frames[CLIP_FRAMES].image)  # back to the start


@pytest.mark.parametrize(("fps", "waits"), [
    ("native", [0.1, 0.1, 0.1, 0.1]),  # the clip's own 10 fps
    (4.0, [0.25, 0.25, 0.25, 0.25]),
    (None, []),                        # as fast as possible
])
def test_file_is_paced(clip, clock, fps, waits):
    with OpenCvSource(str(clip), fps=fps, clock=clock, sleep=clock.sleep) as source:
        frames = [source.read() for _ in range(5)]
    assert clock.waits == waits
    assert [f.t_mono - frames[0].t_mono for f in frames] == pytest.approx(
        [sum(waits[:i]) for i in range(5)])


def test_pacer_take_drops_surplus_live_frames(clock):
    pacer = Pacer(10.0, clock=clock)
    kept = []
    for i in range(30):  # a 30 fps camera capped at 10 fps keeps every third frame
        clock.now = 1000.0 + i / 30
        kept.append(pacer.take())
    assert [i for i, k in enumerate(kept) if k] == list(range(0, 30, 3))


@pytest.mark.parametrize(("uri", "message"), [
    ("/nonexistent/exam.avi", "video file /nonexistent/exam.avi not found"),
    ("/dev/video99", "camera /dev/video99 not found (unplugged?)"),
    (99, "cannot open camera 99"),
    ("99", "cannot open camera 99"),
    ("http://127.0.0.1:9/cam.mjpg", "cannot open stream http://127.0.0.1:9/cam.mjpg"),
    ("rtsp://admin:hunter2@127.0.0.1:9/live", "cannot open stream rtsp://admin:***@127.0.0.1:9"),
])
def test_missing_source_is_named(uri, message):
    source = OpenCvSource(uri, timeout_s=2.0)
    with pytest.raises(SourceError, match=re.escape(message)) as err:
        source.open()
    assert "hunter2" not in str(err.value) + source.name
    source.close()


def test_a_file_that_is_not_a_video(tmp_path):
    bad = tmp_path / "notes.avi"
    bad.write_text("not a video")
    with pytest.raises(SourceError, match=f"cannot open video file {re.escape(str(bad))}"):
        OpenCvSource(str(bad)).open()


@pytest.fixture
def http_clip(clip):
    """The clip served over a real local HTTP server (the path OpenCV takes for IP cameras)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(clip.parent))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{clip.name}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_stream_that_stops_is_a_failure_not_an_end(http_clip):
    with OpenCvSource(http_clip, timeout_s=5.0) as source:
        frames = []
        with pytest.raises(SourceError, match="stopped delivering frames") as err:
            for _ in range(CLIP_FRAMES + 5):
                frames.append(source.read())
    assert not isinstance(err.value, EndOfStream)
    assert len(frames) == CLIP_FRAMES
    assert frames[0].image.shape == (576, 768, 3)


# --- Folder of stills ----------------------------------------------------------------------

@pytest.fixture
def photo_folder(tmp_path) -> Path:
    folder = tmp_path / "stills"
    folder.mkdir()
    for name, dest in [("messi5.jpg", "frame1.jpg"), ("left01.jpg", "frame2_grey.JPG"),
                       ("fruits.jpg", "frame9.jpeg"), ("gradient.png", "frame10_rgba.png")]:
        shutil.copy(OPENCV_DATA / name, folder / dest)
    (folder / "frame3_broken.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    (folder / "README.txt").write_text("camera notes")
    (folder / "sub").mkdir()
    return folder


def test_folder_of_photos(photo_folder, caplog):
    with (caplog.at_level(logging.WARNING, logger="edge.capture.folder_source"),
          FolderSource(photo_folder, fps=None) as source):
        frames = read_all(source)
    assert [f.image.shape for f in frames] == [(342, 548, 3), (480, 640, 3), (480, 512, 3),
                                              (300, 300, 3)]
    assert [f.seq for f in frames] == [1, 2, 3, 4]
    assert np.array_equal(frames[0].image, cv2.imread(str(OPENCV_DATA / "messi5.jpg")))
    assert "ignoring 1 non-image file(s): README.txt" in caplog.text
    assert "cannot decode frame3_broken.jpg" in caplog.text


def test_folder_loops_at_its_fps(photo_folder, clock):
    with FolderSource(photo_folder, fps=2.0, loop=True, clock=clock,
                      sleep=clock.sleep) as source:
        frames = [source.read() for _ in range(9)]
    assert np.array_equal(frames[0].image, frames[4].image)
    assert clock.waits == [0.5] * 8


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p / "missing", "image folder {p}/missing not found"),
    (lambda p: p, "image folder {p} has no images"),
])
def test_folder_without_images(tmp_path, make, message):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match=re.escape(message.format(p=tmp_path))):
        FolderSource(make(tmp_path)).open()


# --- Config ----------------------------------------------------------------------------------

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


# --- picamera2 adapter against its double ----------------------------------------------------

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


# --- Supervisor ------------------------------------------------------------------------------

class ScriptedSource(FrameSource):
    """Plays a script of images and exceptions; each read takes ``step`` seconds of the clock."""

    def __init__(self, script: Iterable[np.ndarray | Exception], clock: FakeClock, *,
                 step: float = 0.1, open_error: SourceError | None = None,
                 name: str = "scripted") -> None:
        self.script = iter(script)
        self.clock = clock
        self.step = step
        self.open_error = open_error
        self.name = name
        self.seq = 0
        self.closed = False

    def open(self) -> None:
        if self.open_error is not None:
            raise self.open_error

    def read(self) -> Frame:
        self.clock.now += self.step
        item = next(self.script, None)
        if item is None:
            raise EndOfStream(f"end of {self.name}")
        if isinstance(item, Exception):
            raise item
        self.seq += 1
        return Frame(item, self.seq, self.clock.now, 0.0)

    def close(self) -> None:
        self.closed = True


def supervise(factory, clock: FakeClock, **kwargs) -> tuple[ResilientSource, list[SourceStatus]]:
    statuses: list[SourceStatus] = []
    return ResilientSource(factory, clock=clock, wall_clock=clock, wait=clock.wait,
                           on_status=statuses.append, **kwargs), statuses


def take(source: ResilientSource, n: int) -> list[Frame]:
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == n:
            source.stop()
    return frames


def test_backoff_doubles_to_the_cap_then_resets(photo, clock):
    attempts: list[ScriptedSource] = []

    def factory() -> ScriptedSource:
        n = len(attempts) + 1
        if n <= 6:
            source = ScriptedSource([], clock, open_error=SourceError(f"camera gone ({n})"))
        elif n == 7:  # works for three frames, then the stream drops
            source = ScriptedSource([photo] * 3 + [SourceError("stream dropped")], clock)
        else:
            source = ScriptedSource([photo] * 100, clock)
        attempts.append(source)
        return source

    source, statuses = supervise(factory, clock, backoff_initial=1.0, backoff_max=8.0)
    frames = take(source, 5)
    assert clock.waits == [1, 2, 4, 8, 8, 8, 1]
    assert [f.seq for f in frames] == [1, 2, 3, 4, 5]
    assert [s.state for s in statuses] == ["opening", "failed"] * 6 + [
        "opening", "ok", "failed", "opening", "ok"]
    assert statuses[1].detail == "camera gone (1); retrying in 1 s"
    assert statuses[-3].detail == "stream dropped; retrying in 1 s"
    assert source.status.reconnects == 7
    assert all(s.closed for s in attempts)


def test_unexpected_errors_are_reported_and_retried(photo, clock):
    scripts = iter([[ValueError("decoder bug")], [photo] * 10])
    source, statuses = supervise(lambda: ScriptedSource(next(scripts), clock), clock)
    assert len(take(source, 2)) == 2
    assert statuses[1].state == "failed"
    assert "unexpected error: ValueError('decoder bug')" in statuses[1].detail


def test_file_end_reopens_or_stops(clip, clock):
    source, statuses = supervise(lambda: OpenCvSource(str(clip), fps=None), clock)
    frames = take(source, CLIP_FRAMES * 2 + 1)
    assert [f.seq for f in frames] == list(range(1, CLIP_FRAMES * 2 + 2))
    assert clock.waits == [1.0, 1.0]
    assert "ended" in [s.state for s in statuses]

    once, statuses = supervise(lambda: OpenCvSource(str(clip), fps=None), clock,
                               stop_at_end=True)
    assert len(list(once.frames())) == CLIP_FRAMES
    assert once.status.state == "ended"
    assert statuses[-1].detail == f"end of video file {clip} after {CLIP_FRAMES} frames"


def test_frozen_picture_is_reported_then_reopened(photo, clock):
    script = [photo] * 12 + [cv2.flip(photo, 1)] + [photo] * 400
    scripts = iter([script, [cv2.flip(photo, 0)] * 10])
    source, statuses = supervise(lambda: ScriptedSource(next(scripts), clock, step=1.0), clock,
                                 freeze_after_s=10.0, reopen_frozen_after_s=30.0)
    frames = take(source, 50)
    states = [(s.state, s.detail) for s in statuses]
    assert states[:4] == [
        ("opening", "opening scripted"),
        ("ok", "scripted: delivering frames"),
        ("frozen", "scripted: picture unchanged for 10 s: camera or stream stuck?"),
        ("ok", "scripted: delivering frames")]
    assert states[4] == ("frozen", "scripted: picture unchanged for 10 s: camera or stream stuck?")
    assert states[5][0] == "failed" and "unchanged for 30 s, reopening" in states[5][1]
    assert source.status.reconnects == 1 and len(frames) == 50


@pytest.mark.parametrize(("scale", "noise", "expected"), [
    (0.0, 0, "dark"),    # black: a covered lens (also unchanging, but dark wins)
    (0.05, 0, "dark"),   # a very dim room
    (0.3, 0, "frozen"),  # dim but visible, and unchanging
    (1.0, 2, "ok"),      # a still scene with sensor noise is not frozen
])
def test_dark_and_frozen_need_time(photo, clock, scale, noise, expected):
    rng = np.random.default_rng(7)

    def picture() -> np.ndarray:
        jitter = rng.integers(-noise, noise + 1, photo.shape) if noise else 0
        return np.clip(photo * scale + jitter, 0, 255).astype(np.uint8)

    source, statuses = supervise(
        lambda: ScriptedSource((picture() for _ in range(25)), clock, step=1.0), clock,
        freeze_after_s=10.0, dark_after_s=10.0, stop_at_end=True)
    health_log = [(round(clock.now - 1000.0), source.status.state) for _ in source.frames()]
    assert health_log[-1][1] == expected
    assert health_log[8][1] == "ok"  # 9 s in: not yet
    if expected != "ok":
        assert next(t for t, s in health_log if s == expected) == 11  # first frame at 1 s
    assert [s.state for s in statuses][-1] == "ended"


def test_dark_recovers_with_light(photo, clock):
    black = np.zeros_like(photo)
    source, statuses = supervise(
        lambda: ScriptedSource([black] * 15 + [photo, cv2.flip(photo, 1)] * 3, clock, step=1.0),
        clock, stop_at_end=True)
    list(source.frames())
    assert [s.state for s in statuses] == ["opening", "ok", "dark", "ok", "ended"]
    assert "picture dark (brightness 0 < 12)" in statuses[2].detail


def test_status_reports_fps_and_stops_cleanly(photo, clock):
    made: list[ScriptedSource] = []

    def factory() -> ScriptedSource:
        made.append(ScriptedSource([photo, cv2.flip(photo, 1)] * 50, clock, step=0.1))
        return made[-1]

    source, _ = supervise(factory, clock)
    frames = source.frames()
    for _ in range(30):
        next(frames)
    assert source.status.state == "ok"
    assert source.status.fps == pytest.approx(10.0)
    assert source.status.as_dict()["fps"] == 10.0
    frames.close()  # the consumer walks away: the source is closed
    assert made[0].closed


def test_a_broken_status_listener_does_not_stop_capture(photo, clock):
    def listener(status: SourceStatus) -> None:
        raise RuntimeError("mqtt down")

    source = ResilientSource(lambda: ScriptedSource([photo] * 5, clock), clock=clock,
                             wait=clock.wait, on_status=listener, stop_at_end=True)
    assert len(list(source.frames())) == 5


def test_default_wait_returns_at_once_on_stop(clock):
    def stop_when_failed(status: SourceStatus) -> None:
        if status.state == "failed":
            source.stop()

    source = ResilientSource(lambda: ScriptedSource([], clock, open_error=SourceError("gone")),
                             clock=clock, backoff_initial=3600.0, on_status=stop_when_failed)
    assert list(source.frames()) == []  # the hour-long back-off ends as soon as stop is called
    assert source.status.state == "failed"


def test_health_check_is_cheap_on_a_full_hd_frame():
    frame = np.zeros((1080, 1920, 3), np.uint8)
    health = FrameHealth()
    health.check(frame, 0.0)
    assert health.brightness == 0.0
