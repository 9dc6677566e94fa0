"""Frames from a folder of real photos: order, decoding, non-images skipped, looping at its fps
on a fake clock, a missing or empty folder named."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture.base import EndOfStream, Frame, FrameSource
from edge.capture.folder_source import FolderSource
from kuzet.errors import SourceError
from tests.support.footage import OPENCV_DATA


def read_all(source: FrameSource, limit: int = 10_000) -> list[Frame]:
    frames = []
    with pytest.raises(EndOfStream):
        for _ in range(limit):
            frames.append(source.read())
    return frames


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
