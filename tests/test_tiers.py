"""The test tiers (tests/support/tiers.py): what counts as starting mosquitto, Chromium or a
node on real footage, and that a test outside the integration tier which starts one fails,
even when the error is swallowed on a thread, while a marked one runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kuzet_tools.examples import write_vtest_node
from tests.support.footage import OPENCV_DATA, VTEST_AVI
from tests.support.tiers import is_real_footage, refusal

ROOT = Path(__file__).resolve().parents[1]
DRIVER = "/srv/venv/lib/python3.11/site-packages/playwright/driver"
KUZET = [sys.executable, "-m", "kuzet_tools.cli"]


@pytest.mark.parametrize(("argv", "started"), [
    (["mosquitto", "-c", "m.conf"], "mosquitto"),
    (["/usr/sbin/mosquitto", "-c", "m.conf"], "mosquitto"),
    (["/usr/sbin/nginx", "-p", "/tmp/front", "-c", "nginx.conf"], "nginx"),
    (["/usr/bin/chromium", "--headless"], "Chromium (chromium)"),
    (["google-chrome", "--headless"], "Chromium (google-chrome)"),
    ([f"{DRIVER}/node", f"{DRIVER}/package/cli.js", "run-driver"],
     "playwright's browser driver"),
    ([*KUZET, "demo", "--smoke", "90"], "the demo (mosquitto, the hub and a node on vtest.avi)"),
    (["/opt/kuzet/.venv/bin/kuzet", "bench", "edge", "--json"],
     "a benchmark (mosquitto, the hub, a node on vtest.avi)"),
    (["ffprobe", str(VTEST_AVI)], f"ffprobe on real footage ({VTEST_AVI})"),
    (["mosquitto_pub", "-t", "kuzet/x", "-m", "{}"], None),     # a client needs a broker anyway
    (["pdftotext", "protocol.pdf", "-"], None),
    ([sys.executable, "-m", "ruff", "check", "."], None),
    ([*KUZET, "hub", "run", "--config", "/nonexistent/hub.toml"], None),
    ([*KUZET, "provision", "--dir", "/tmp/pki", "list"], None),
    ([sys.executable, "-c", "print('demo')", "demo"], None),   # not the kuzet command
    (["sh", "-c", "kill -HUP 1234"], None),
])
def test_what_needs_the_integration_mark(argv, started):
    assert refusal(argv) == started


def test_the_executable_counts_over_the_first_word():
    assert refusal(["broker", "-c", "m.conf"], executable="/usr/sbin/mosquitto") == "mosquitto"


@pytest.mark.parametrize("spelling", ["--config", "--config="])
def test_a_node_config_on_real_footage_needs_the_mark(tmp_path, spelling):
    on_vtest = write_vtest_node(tmp_path / "vtest")
    on_clip = write_vtest_node(tmp_path / "clip", video=tmp_path / "clip.avi")
    args = ([spelling, str(on_vtest)] if spelling == "--config"
            else [f"--config={on_vtest}"])
    assert refusal([*KUZET, "edge", "run", *args]) == f"a node on real footage ({VTEST_AVI})"
    assert refusal(["kuzet", "edge", "check", "--config", str(on_clip)]) is None
    assert refusal([*KUZET, "edge", "run", "--config", str(tmp_path / "missing.toml")]) is None


@pytest.mark.parametrize(("path", "real"), [
    (VTEST_AVI, True),
    (str(VTEST_AVI), True),
    (OPENCV_DATA / "Megamind.avi", True),
    (OPENCV_DATA / "messi5.jpg", False),             # a still photo is fast-tier material
    (Path("/tmp/clip.avi"), False),
    ("http://127.0.0.1:8000/vtest.avi", False),
    (0, False),                                      # a camera index
    (None, False),
])
def test_real_footage_is_the_opencv_doc_videos(path, real):
    assert is_real_footage(path) is real


GUARDED = '''
import os
import subprocess
import threading

import cv2
import pytest

from edge.capture.opencv_source import OpenCvSource

FAKE = {fake!r}          # a shell script named mosquitto that exits at once


def test_unmarked_starts_mosquitto():
    subprocess.run([FAKE], check=True)


@pytest.mark.integration
def test_marked_starts_mosquitto():
    subprocess.run([FAKE], check=True)


def test_unmarked_opens_real_footage():
    OpenCvSource({vtest!r}).open()


def test_unmarked_reads_a_still_from_real_footage():
    assert cv2.VideoCapture({vtest!r}).read()[0]


def test_unmarked_swallows_the_error_on_a_thread():
    errors = []

    def start():
        try:
            subprocess.run([FAKE], check=True)
        except Exception as exc:          # as a node's capture thread would
            errors.append(exc)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_unmarked_starts_playwright():
    from playwright.sync_api import sync_playwright
    with sync_playwright():
        pass


def test_unmarked_spawns_mosquitto_without_subprocess():
    os.waitpid(os.posix_spawn(FAKE, [FAKE], os.environ), 0)


def test_unmarked_starts_mosquitto_through_a_shell():
    os.system(FAKE)


def test_unmarked_runs_a_fake_with_another_name():
    subprocess.run(["true"], check=True)


def test_uses_the_broker_fixture(broker):
    assert broker == "a broker"


@pytest.mark.soak
def test_a_soak_run():
    subprocess.run([FAKE], check=True)
'''


@pytest.fixture
def guarded_run(pytester, tmp_path, monkeypatch):
    """Runs pytest (in a subprocess) with the tiers plugin on a file of tests."""
    fake = tmp_path / "bin" / "mosquitto"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    pytester.makepyfile(test_guarded=GUARDED.format(fake=str(fake), vtest=str(VTEST_AVI)))
    pytester.makeconftest('import pytest\n\n\n@pytest.fixture\ndef broker():\n'
                          '    return "a broker"\n')
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return lambda *args: pytester.runpytest_subprocess("-p", "tests.support.tiers",
                                                       "-p", "no:cacheprovider", *args)


def test_an_unmarked_test_that_starts_them_fails(guarded_run):
    result = guarded_run("-v", "-m", "not soak")
    result.stdout.fnmatch_lines([
        "*::test_unmarked_starts_mosquitto FAILED*",
        "*::test_marked_starts_mosquitto PASSED*",
        "*::test_unmarked_opens_real_footage FAILED*",
        "*::test_unmarked_reads_a_still_from_real_footage PASSED*",
        "*::test_unmarked_swallows_the_error_on_a_thread FAILED*",
        "*::test_unmarked_starts_playwright FAILED*",
        "*::test_unmarked_spawns_mosquitto_without_subprocess FAILED*",
        "*::test_unmarked_starts_mosquitto_through_a_shell FAILED*",
        "*::test_unmarked_runs_a_fake_with_another_name PASSED*",
        "*::test_uses_the_broker_fixture PASSED*",
    ])
    result.assert_outcomes(passed=4, failed=6, deselected=1)
    text = result.stdout.str()
    assert ("test_guarded.py::test_unmarked_starts_mosquitto is not marked integration but "
            "started mosquitto: mark the test @pytest.mark.integration") in text
    assert f"started a node's camera on real footage ({VTEST_AVI})" in text
    assert "test_unmarked_swallows_the_error_on_a_thread is not marked integration" in text
    assert "started playwright's browser driver" in text


def test_fixtures_and_soak_mark_integration(guarded_run):
    result = guarded_run("--collect-only", "-q", "-m", "integration")
    selected = {line.split("::")[-1] for line in result.outlines if "::" in line}
    assert selected == {"test_marked_starts_mosquitto", "test_uses_the_broker_fixture",
                        "test_a_soak_run"}
