"""``ResilientSource``: any ``FrameSource`` as an endless stream that reports and heals faults.

A source that fails (camera unplugged, stream dropped, file ended) is closed, reported, and
reopened after a back-off that doubles up to a cap; a frozen or dark picture is reported
while frames keep flowing. Time is passed in (``clock``, ``wall_clock``, ``wait``), so tests
drive it with a fake clock and never sleep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from edge.capture.base import Clock, EndOfStream, Frame, FrameSource
from edge.capture.health import FrameHealth
from kuzet.errors import SourceError

log = logging.getLogger(__name__)

SourceState = Literal["opening", "ok", "failed", "frozen", "dark", "ended"]
FPS_WINDOW = 20  # frames over which the delivered rate is measured


@dataclass(frozen=True)
class SourceStatus:
    """What the source is doing, for the node's status message.

    ``since`` is the wall-clock time the state began; ``fps`` the recent delivery rate;
    ``reconnects`` how many times the source has been reopened.
    """

    state: SourceState
    detail: str
    since: float
    fps: float = 0.0
    reconnects: int = 0

    def as_dict(self) -> dict:
        return {"state": self.state, "detail": self.detail, "since": round(self.since, 3),
                "fps": round(self.fps, 2), "reconnects": self.reconnects}


class ResilientSource:
    """Supervises the sources ``factory`` builds (one at a time) and yields their frames.

    ``wait(seconds)`` sleeps between attempts and returns True if the node is stopping
    (default: an internal event that ``stop`` sets; pass ``stop_event.wait`` to share the
    node's). Frames are renumbered so ``seq`` keeps increasing across reopenings. After a
    source has delivered a frame the back-off starts again from ``backoff_initial``. A picture
    frozen for ``reopen_frozen_after_s`` (``None``: never) gets the source reopened.
    ``stop_at_end`` ends ``frames`` at the end of a file or folder instead of reopening it.
    ``on_status`` is called (from the reading thread) whenever the state changes.
    """

    def __init__(self, factory: Callable[[], FrameSource], *, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time, wait: Callable[[float], bool] | None = None,
                 backoff_initial: float = 1.0, backoff_max: float = 30.0,
                 freeze_after_s: float = 10.0, dark_after_s: float = 10.0,
                 dark_level: float = 12.0, freeze_tolerance: float = 0.25,
                 reopen_frozen_after_s: float | None = 30.0, stop_at_end: bool = False,
                 on_status: Callable[[SourceStatus], None] | None = None) -> None:
        self._factory = factory
        self._clock = clock
        self._wall = wall_clock
        self._stop = threading.Event()
        self._wait = wait if wait is not None else self._stop.wait
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._health_args = {"freeze_after_s": freeze_after_s, "dark_after_s": dark_after_s,
                             "dark_level": dark_level, "freeze_tolerance": freeze_tolerance}
        self.reopen_frozen_after_s = reopen_frozen_after_s
        self.stop_at_end = stop_at_end
        self._on_status = on_status
        self._status = SourceStatus("opening", "not started", wall_clock())
        self._times: deque[float] = deque(maxlen=FPS_WINDOW)
        self._seq = 0
        self._reconnects = 0

    @property
    def status(self) -> SourceStatus:
        """The current state, with the delivery rate measured now."""
        return replace(self._status, fps=self._fps())

    def stop(self) -> None:
        """Ask ``frames`` to finish: it returns after the current read or wait."""
        self._stop.set()

    def _stopping(self) -> bool:
        return self._stop.is_set()

    def _fps(self) -> float:
        times = tuple(self._times)  # one atomic copy: ``status`` may be read from another thread
        if len(times) < 2 or self._status.state in ("failed", "ended", "opening"):
            return 0.0
        span = times[-1] - times[0]
        return (len(times) - 1) / span if span > 0 else 0.0

    def _report(self, state: SourceState, detail: str, *, force: bool = False) -> None:
        """Record a state; tell ``on_status`` if it (or the reconnect count) changed."""
        old = self._status
        if not force and state == old.state and self._reconnects == old.reconnects:
            return
        if state in ("failed", "ended", "opening"):
            self._times.clear()
        self._status = SourceStatus(state, detail, self._wall(), self._fps(), self._reconnects)
        level = logging.INFO if state in ("ok", "opening") else logging.WARNING
        log.log(level, "source %s: %s", state, detail)
        if self._on_status is not None:
            try:
                self._on_status(self._status)
            except Exception:  # a broken status listener must not stop the camera
                log.exception("on_status callback failed")

    def frames(self) -> Iterator[Frame]:
        """Yield frames until ``stop``; never raises for source faults."""
        delay = self.backoff_initial
        while not self._stopping():
            source: FrameSource | None = None
            delivered = False
            try:
                source = self._factory()
                self._report("opening", f"opening {source.name}", force=True)
                source.open()
                for frame in self._pump(source):
                    delivered = True
                    yield frame
                return  # _pump only returns when stopping
            except EndOfStream as e:
                state, detail = "ended", str(e)
            except SourceError as e:
                state, detail = "failed", str(e)
            except Exception as e:  # a bug or an unexpected library error: report, retry
                log.exception("unexpected error from frame source")
                state, detail = "failed", f"unexpected error: {e!r}"
            finally:
                if source is not None:
                    _close_quietly(source)
            if delivered:
                delay = self.backoff_initial
            if state == "ended" and self.stop_at_end:
                self._report("ended", detail)
                return
            self._report(state, f"{detail}; retrying in {delay:g} s")
            if self._wait(delay) or self._stopping():
                return
            delay = min(delay * 2, self.backoff_max)
            self._reconnects += 1

    def _pump(self, source: FrameSource) -> Iterator[Frame]:
        health = FrameHealth(**self._health_args)
        while not self._stopping():
            frame = source.read()
            now = self._clock()
            verdict = health.check(frame.image, now)
            if (verdict == "frozen" and self.reopen_frozen_after_s is not None
                    and health.frozen_for(now) >= self.reopen_frozen_after_s):
                raise SourceError(f"{source.name}: picture unchanged for "
                                  f"{health.frozen_for(now):.0f} s, reopening")
            self._times.append(now)
            self._report(verdict, f"{source.name}: {health.describe(verdict, now)}")
            self._seq += 1
            yield replace(frame, seq=self._seq)


def _close_quietly(source: FrameSource) -> None:
    try:
        source.close()
    except Exception:  # closing a broken source must not mask why it broke
        log.exception("closing %s failed", getattr(source, "name", source))
