"""The two test tiers (a pytest plugin, loaded by tests/conftest.py).

``integration`` marks every test that starts mosquitto, nginx, Chromium (through playwright's
driver) or a node on real footage (Debian opencv-doc's videos); ``-m "not integration"`` is the fast
tier, of pure code, temp files and SQLite, and the TFLite models on still photos.

Marking cannot be forgotten: a test that uses one of ``INTEGRATION_FIXTURES``, directly or
through another fixture, is marked at collection, and so is every ``soak`` test; a module
that starts these things itself says ``pytestmark = pytest.mark.integration``. And a mark
left off fails: while a test that is not marked runs (its set-up, call and tear-down),
starting one of them raises ``UnmarkedIntegration``, naming what was started. Where the start
happens on a thread that swallows the error (a node's capture thread), the test still fails
at the end of its phase.
"""

from __future__ import annotations

import os
import shlex
import sys
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.footage import OPENCV_DATA

# Fixtures that start mosquitto or hand out real footage; a test that uses one is integration.
INTEGRATION_FIXTURES = frozenset({"broker", "browser", "live_hub", "tls_broker", "vtest_avi"})

CHROMIUM = frozenset({"chromium", "chromium-browser", "chrome", "google-chrome",
                      "google-chrome-stable", "chrome-headless-shell", "headless_shell"})
VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v",
                            ".wmv", ".mjpg", ".mjpeg"})
# kuzet commands that start mosquitto or a node on real footage themselves
KUZET_INTEGRATION_COMMANDS = {"demo": "the demo (mosquitto, the hub and a node on vtest.avi)",
                              "bench": "a benchmark (mosquitto, the hub, a node on vtest.avi)"}

HOW_TO_MARK = ("mark the test @pytest.mark.integration (or the module: pytestmark = "
               "pytest.mark.integration), or use the fixtures in tests/conftest.py that mark it")


class UnmarkedIntegration(RuntimeError):
    """A test outside the integration tier started something that belongs to it."""


def is_real_footage(path: object) -> bool:
    """Whether ``path`` names a video of Debian's opencv-doc (``vtest.avi`` and its kin)."""
    if not isinstance(path, str | os.PathLike) or "://" in str(path):
        return False
    p = Path(path)
    if p.suffix.lower() not in VIDEO_SUFFIXES:
        return False
    try:
        return p.resolve().is_relative_to(OPENCV_DATA.resolve())
    except (OSError, ValueError):
        return False


def _config_source(argv: Sequence[str]) -> str | None:
    """The ``[source] uri`` of the node config passed as ``--config``, if any."""
    path = None
    for i, word in enumerate(argv):
        if word == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        elif word.startswith("--config="):
            path = word.partition("=")[2]
    if path is None:
        return None
    try:
        source = tomllib.loads(Path(path).read_text()).get("source", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    uri = source.get("uri") if isinstance(source, dict) else None
    return uri if isinstance(uri, str) else None


def refusal(argv: Sequence[str | os.PathLike], executable: str | None = None) -> str | None:
    """What starting ``argv`` would start that needs the integration mark, or None."""
    words = [os.fsdecode(a) for a in argv]
    if not words:
        return None
    program = Path(os.fsdecode(executable) if executable else words[0]).name
    if program in ("mosquitto", "nginx"):
        return program
    if program in CHROMIUM:
        return f"Chromium ({program})"
    if "run-driver" in words or any("/playwright/driver/" in w for w in words):
        return "playwright's browser driver"
    for word in words:
        if is_real_footage(word):
            return f"{program} on real footage ({word})"
    if program == "kuzet":
        rest = words[1:]
    elif len(words) > 2 and words[1] == "-m" and words[2].startswith("kuzet_tools"):
        rest = words[3:]
    else:
        return None
    command = next((w for w in rest if not w.startswith("-")), None)
    if command in KUZET_INTEGRATION_COMMANDS:
        return KUZET_INTEGRATION_COMMANDS[command]
    uri = _config_source(rest)
    if uri is not None and is_real_footage(uri):
        return f"a node on real footage ({uri})"
    return None


def _argv(args: object) -> list:
    if isinstance(args, str | bytes):
        try:
            return shlex.split(os.fsdecode(args))
        except ValueError:
            return [os.fsdecode(args)]
    if isinstance(args, os.PathLike):
        return [args]
    return list(args)


@contextmanager
def guarded(what: str, violations: list[str]) -> Iterator[None]:
    """While inside: starting a process or opening a video that belongs to the integration
    tier raises ``UnmarkedIntegration`` and is recorded in ``violations``. ``what`` names the
    test in the message."""

    def refuse(thing: str) -> None:
        message = f"{what} is not marked integration but started {thing}: {HOW_TO_MARK}"
        violations.append(message)
        raise UnmarkedIntegration(message)

    patches: list[tuple[object, str, object]] = []
    try:
        from edge.capture.opencv_source import OpenCvSource
    except ImportError:       # a machine without the edge extra: no node to run
        OpenCvSource = None
    if OpenCvSource is not None:
        real_open = OpenCvSource.open

        # The node's camera on real footage is the integration tier; reading a still frame
        # out of a video (the eval set, a fixture's photo) is not.
        def open_source(self, *args, **kwargs):
            if is_real_footage(self.uri):
                refuse(f"a node's camera on real footage ({self.uri})")
            return real_open(self, *args, **kwargs)

        patches.append((OpenCvSource, "open", open_source))
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    _install_audit_hook()
    _GUARDS.append(refuse)
    try:
        yield
    finally:
        _GUARDS.remove(refuse)
        for owner, name, original in saved:
            setattr(owner, name, original)


# Processes are watched through Python's audit events (``subprocess.Popen``, ``os.posix_spawn``,
# ``os.exec``, ``os.system``), a public hook, rather than by patching subprocess's insides. A
# hook cannot be removed once added, so one is added per process and it acts only while a
# guard is active.
_GUARDS: list = []
_HOOKED = False
_SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.posix_spawn", "os.exec"})  # (program, argv, …)


def _audit(event: str, args: tuple) -> None:
    if not _GUARDS:
        return
    if event in _SPAWN_EVENTS:
        executable, argv = args[0], args[1]
        thing = refusal(_argv(argv), os.fsdecode(executable) if executable else None)
    elif event == "os.system":
        thing = refusal(_argv(args[0]))
    else:
        return
    if thing is not None and _GUARDS:
        _GUARDS[-1](thing)


def _install_audit_hook() -> None:
    global _HOOKED
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED = True


# -- the plugin --------------------------------------------------------------------------

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: starts mosquitto, Chromium or a node on real footage")
    config.addinivalue_line(
        "markers", "arm64: runs under the emulated aarch64 CPU (scripts/arm64-root)")


def needs_integration_mark(item: pytest.Item) -> bool:
    """A soak run is an integration run (brokers, hubs and nodes under load for minutes), and
    so is an arm64 run (minutes under the emulated CPU: not the fast tier); so is a test that
    uses an integration fixture, directly or through another fixture."""
    return (item.get_closest_marker("soak") is not None
            or item.get_closest_marker("arm64") is not None
            or bool(INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ()))))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("integration") is None and needs_integration_mark(item):
            item.add_marker(pytest.mark.integration)


_VIOLATIONS = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if item.get_closest_marker("integration") is not None:
        return (yield)
    violations = item.stash.setdefault(_VIOLATIONS, [])
    with guarded(item.nodeid, violations):
        return (yield)


def _fail_on_swallowed(item: pytest.Item):
    """A phase's wrapper: if something was refused but the error was caught (on a thread, by
    a retry loop), the phase fails anyway."""
    violations = item.stash.get(_VIOLATIONS, None)
    seen = len(violations) if violations is not None else 0
    result = yield
    if violations is not None and len(violations) > seen:
        raise UnmarkedIntegration(violations[seen])
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    return (yield from _fail_on_swallowed(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    return (yield from _fail_on_swallowed(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    return (yield from _fail_on_swallowed(item))
