"""The node skips seats whose crop has not changed (``[detection] skip_unchanged``, on by
default): a still room costs little more than its room looks, yet every seat is looked at
again within ``max_skip_s``, and a seat where something was found keeps being looked at every
sweep. Scripted detectors on a folder of synthetic stills, no broker (tests/support)."""

from __future__ import annotations

import threading
import time

import pytest

from edge.rules import Policy, RulesEngine, SeatLook
from kuzet.errors import ConfigError
from tests.support.scripted_node import PhoneDetector, W, scripted_config, scripted_node
from tests.support.wait import wait_until

SEAT_LEFT = {"r1s1": 0, "r1s2": 80}       # each seat's crop's left edge in the 320x240 stills


class Looks:
    """Records which job each look was: the room (the whole still) or which seat."""

    def __init__(self, still) -> None:
        self.still = still
        self.seen: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    def job_of(self, image) -> str:
        if image.shape[1] == W:
            return "room"
        return next(seat for seat, x in SEAT_LEFT.items()
                    if (image[:8, :8] == self.still[:8, x:x + 8]).all())

    def record(self, image) -> None:
        with self.lock:
            self.seen.append((time.monotonic(), self.job_of(image)))

    def count(self, job: str, since: float = 0.0) -> int:
        with self.lock:
            return sum(1 for t, j in self.seen if j == job and t >= since)

    def times(self, job: str) -> list[float]:
        with self.lock:
            return [t for t, j in self.seen if j == job]


def still_of(cfg):
    import cv2

    return cv2.imread(str(next(cfg.source.path.glob("*.png"))))


def run_for(node, seconds: float) -> None:
    node.start()
    try:
        time.sleep(seconds)
    finally:
        node.stop()


def recording(looks: Looks, answer=lambda image: []):
    from tests.fakes.detector import ScriptedDetector

    def script(call, image):
        looks.record(image)
        return answer(image)
    return ScriptedDetector(script, infer_s=0.01)


def test_a_still_room_is_swept_by_room_looks_and_each_seat_is_looked_at_within_the_bound(
        tmp_path):
    cfg = scripted_config(tmp_path, phone=False, extra={"detection": {"max_skip_s": 1.0}})
    assert cfg.detection.skip_unchanged                       # on by default
    looks = Looks(still_of(cfg))
    node = scripted_node(cfg, recording(looks))
    run_for(node, 4.0)
    rooms = looks.count("room")
    for seat in SEAT_LEFT:
        times = looks.times(seat)
        # the first sweeps (node start, session start), then once per max_skip_s (1 s)
        assert 3 <= len(times) <= 9 and len(times) < rooms / 5, (seat, len(times), rooms)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert max(gaps) < 1.0 + 0.5, gaps            # the bound, plus a sweep's slack
    assert node.seat_plan.scheduler.skipped > 2 * rooms - 20
    # a skipped visit checked the crop: the revisit figure stays the sweep's, not the bound's
    assert node.stats.worst_seat_revisit is not None and node.stats.worst_seat_revisit < 0.5


def test_with_skipping_off_every_sweep_looks_at_every_seat(tmp_path):
    cfg = scripted_config(tmp_path, phone=False,
                          extra={"detection": {"skip_unchanged": False}})
    looks = Looks(still_of(cfg))
    node = scripted_node(cfg, recording(looks))
    run_for(node, 2.0)
    rooms = looks.count("room")
    assert rooms > 10
    for seat in SEAT_LEFT:
        assert abs(looks.count(seat) - rooms) <= 2, (seat, looks.count(seat), rooms)
    assert node.seat_plan.scheduler.skipped == 0


def test_a_seat_where_a_phone_was_found_is_looked_at_every_sweep_its_neighbour_is_not(
        tmp_path):
    cfg = scripted_config(tmp_path)                      # the red phone at r1s1, still
    looks = Looks(still_of(cfg))
    phone = PhoneDetector()
    see = phone._script
    phone._script = lambda call, image: (looks.record(image), see(call, image))[1]
    node = scripted_node(cfg, phone)
    node.start()
    try:
        assert wait_until(lambda: node.state.open_alerts, 20)
        since = time.monotonic()
        time.sleep(1.5)
        rooms = looks.count("room", since)
        assert looks.count("r1s1", since) >= rooms - 2        # watched: the open incident
        assert looks.count("r1s2", since) <= 2                # nothing there, nothing changed
        phone.phone_visible.clear()                           # the phone goes: still watched
        assert wait_until(lambda: not node.state.open_alerts, 20)   # until the alert closed
    finally:
        node.stop()


def test_the_rules_watch_a_seat_while_anything_was_found_or_is_pending():
    engine = RulesEngine()
    assert engine.watched_seats() == frozenset()
    engine.start_session(Policy("exam-1", allowed_aids=frozenset({"calculator"})), 0.0)
    engine.observe_seat(SeatLook("a", 0.0, persons=(0.9,)))          # a student: nothing
    assert engine.watched_seats() == frozenset()
    engine.observe_seat(SeatLook("a", 1.0, persons=(0.9,), objects=(("cell phone", 0.2),)))
    assert engine.watched_seats() == {"a"}      # below min_score, still something found
    engine.observe_seat(SeatLook("b", 1.0, persons=(0.9,), objects=(("cell phone", 0.8),)))
    engine.observe_seat(SeatLook("a", 2.0, persons=(0.9,)))
    assert engine.watched_seats() == {"b"}      # b's device rule holds: mid-duration
    for t in (2.0, 3.0, 4.0):
        engine.observe_seat(SeatLook("b", t, persons=(0.9,)))
    assert engine.watched_seats() == frozenset()  # its window holds nothing any more
    engine.observe_seat(SeatLook("c", 5.0, persons=(0.9,), objects=(("calculator", 0.9),)))
    assert engine.watched_seats() == frozenset()  # an allowed aid is nothing found
    engine.stop_session(6.0)
    assert engine.watched_seats() == frozenset()


@pytest.mark.parametrize("value", [0, -1, 31])
def test_a_bound_out_of_range_is_refused_naming_the_key(tmp_path, value):
    with pytest.raises(ConfigError, match="detection.max_skip_s"):
        scripted_config(tmp_path, extra={"detection": {"max_skip_s": value}})
