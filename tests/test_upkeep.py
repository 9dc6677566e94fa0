"""Disk upkeep: the outbox journal is pruned after ``[node] journal_days`` (by the monotonic
clock within a boot, so a wall-clock jump prunes nothing of today), on the upkeep's own
monotonic schedule, together with evidence retention. Real SQLite files, fake clocks."""

from __future__ import annotations

import pytest

from edge.config import parse_config
from edge.evidence import Ballast, EvidenceStore
from edge.outbox import Outbox
from edge.upkeep import Upkeep
from kuzet.errors import ConfigError
from tests.fakes.clock import FakeClock

DAY = 86400.0


@pytest.fixture
def mono() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(1.78e9)


def outbox_at(path, mono, wall, boot="boot-1") -> Outbox:
    return Outbox(path / "outbox.db", clock=mono, wall_clock=wall, boot=boot)


def accept(outbox: Outbox, name: str) -> None:
    outbox.add(f"msg-{name}", "kuzet/v1/main/a101/cam1/alert", b"{}")


def journal_ids(outbox: Outbox) -> list[str]:
    return [m for m, _ in outbox.journal()]


def test_the_journal_forgets_what_was_accepted_more_than_journal_days_ago(tmp_path, mono,
                                                                         wall):
    outbox = outbox_at(tmp_path, mono, wall)
    accept(outbox, "old")
    for clock in (mono, wall):
        clock.now += 20 * DAY
    accept(outbox, "recent")
    for clock in (mono, wall):
        clock.now += 11 * DAY
    assert outbox.prune_journal(30) == 1
    assert journal_ids(outbox) == ["msg-recent"]
    assert [i.msg_id for i in outbox.pending()] == ["msg-old", "msg-recent"]  # still queued


def test_a_wall_clock_jump_prunes_nothing_of_this_boot(tmp_path, mono, wall):
    outbox = outbox_at(tmp_path, mono, wall)
    accept(outbox, "today")
    wall.now += 365 * DAY                 # NTP corrects a Pi that has no real-time clock
    mono.now += 60
    assert outbox.prune_journal(30) == 0 and journal_ids(outbox) == ["msg-today"]


def test_rows_of_an_earlier_boot_are_aged_by_the_wall_clock(tmp_path, mono, wall):
    before = outbox_at(tmp_path, mono, wall, boot="boot-0")
    accept(before, "before-reboot")
    before.close()
    wall.now += 31 * DAY
    mono.now = 5.0                        # a new boot: its monotonic clock starts again
    again = outbox_at(tmp_path, mono, wall, boot="boot-1")
    assert again.prune_journal(30) == 1 and journal_ids(again) == []


def pass_days(days: float, *clocks: FakeClock) -> None:
    for clock in clocks:
        clock.now += days * DAY


def test_upkeep_prunes_the_journal_at_start_and_then_every_every_s(tmp_path, mono, wall):
    outbox = outbox_at(tmp_path, mono, wall)
    evidence = EvidenceStore(tmp_path / "evidence", max_bytes=2**30, min_free_bytes=0,
                             clock=mono, wall_clock=wall, boot="boot-1")
    upkeep = Upkeep(evidence, Ballast(tmp_path / ".ballast", 0), outbox, retention_days=30,
                    journal_days=2, every_s=7 * DAY, warn=pytest.fail, clock=mono)
    accept(outbox, "a")
    pass_days(3, mono, wall)
    upkeep.run()                          # the first run prunes at once
    assert journal_ids(outbox) == []
    accept(outbox, "b")
    pass_days(3, mono, wall)
    upkeep.run()                          # "b" is old, but the next pruning is not due yet
    assert journal_ids(outbox) == ["msg-b"]
    pass_days(5, mono, wall)
    upkeep.run()                          # 8 days since the last: due
    assert journal_ids(outbox) == []


def config(node_extra: dict) -> dict:
    return {"node": {"building": "main", "room": "a101", "name": "cam1", **node_extra},
            "source": {"type": "folder", "path": "/srv/stills"}, "seat_map": "seats.json"}


def test_journal_days_defaults_to_30_and_is_validated():
    assert parse_config(config({})).node.journal_days == 30
    assert parse_config(config({"journal_days": 7})).node.journal_days == 7
    for bad in (0, -1, "soon"):
        with pytest.raises(ConfigError, match="journal_days"):
            parse_config(config({"journal_days": bad}))
