"""The capture supervisor on a fake clock that never sleeps: back-off doubling to its cap,
reopening at a file's end, frozen and dark pictures, status and a clean stop."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
import pytest

from edge.capture.base import EndOfStream, Frame, FrameSource
from edge.capture.health import FrameHealth
from edge.capture.opencv_source import OpenCvSource
from edge.capture.supervisor import ResilientSource, SourceStatus
from kuzet.errors import SourceError
from tests.fakes.clock import FakeClock
from tests.support.capture_fixtures import CLIP_FRAMES


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
