"""Frames through OpenCV: real footage from a file (every frame, looping, paced on a fake
clock), missing or broken sources named, and a stream over a real local HTTP server."""

from __future__ import annotations

import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from edge.capture.base import EndOfStream, Pacer
from edge.capture.opencv_source import OpenCvSource
from kuzet.errors import SourceError
from tests.support.capture_fixtures import CLIP_FRAMES

VTEST_FRAMES = 795


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
