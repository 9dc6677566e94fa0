"""The technician's devices page: numbers printed in one format per language, a small
history picture per node (sparklines with gaps where the node was silent), and the history
read from the heartbeats kept in SQLite."""

from __future__ import annotations

import re
import time

import pytest
import sqlite_utils

from hub.config import LivenessSection
from hub.store import nodes
from hub.store.migrations import open_database
from hub.web import formatting
from hub.web.sparkline import sparkline
from kuzet import contract
from tests.support.hub_env import login

ORIGIN = contract.Origin(building="main", room="a101", node="cam1")


def beat(fps=10.0, disk=20000.0, depth=0, temp: float | None = 55.0, ms=20.0,
         origin=ORIGIN) -> contract.HeartbeatMessage:
    return contract.HeartbeatMessage(
        origin=origin, fps=fps, inference_ms=ms, worst_seat_revisit_s=1.0, cpu_temp_c=temp,
        disk_free_mb=disk, outbox_depth=depth, software_version="test",
        model_versions={}, uptime_s=1.0)


# -- sparkline ---------------------------------------------------------------------------------
def coords(d: str) -> list[list[tuple[float, float]]]:
    """The path's runs, each a list of (x, y)."""
    runs = []
    for cmd, x, y in re.findall(r"([ML])([\d.]+) ([\d.]+)", d):
        if cmd == "M":
            runs.append([])
        runs[-1].append((float(x), float(y)))
    return runs


def test_a_series_spans_the_window_and_the_height():
    s = sparkline([(0, 1.0), (50, 3.0), (100, 2.0)], start=0, end=100, max_gap_s=60,
                  width=100, height=20)
    assert coords(s.d) == [[(0.0, 18.0), (50.0, 2.0), (100.0, 10.0)]]   # low at the bottom
    assert (s.latest, s.low, s.high, s.count) == (2.0, 1.0, 3.0, 3)


def test_silence_longer_than_the_gap_breaks_the_line():
    points = [(0, 5.0), (10, 6.0), (70, 7.0), (80, 8.0)]       # 60 s silent between 10 and 70
    s = sparkline(points, start=0, end=100, max_gap_s=30, width=100, height=20)
    assert [len(run) for run in coords(s.d)] == [2, 2]
    assert [len(run) for run in coords(sparkline(points, 0, 100, max_gap_s=60).d)] == [4]


def test_a_missing_value_breaks_the_line_and_a_lone_point_is_a_dot():
    s = sparkline([(0, 5.0), (10, None), (20, 6.0), (30, 7.0)], 0, 100, max_gap_s=60)
    assert [len(run) for run in coords(s.d)] == [1, 2]
    assert s.d == "M0.0 26.0h0M24.0 14.0L36.0 2.0"            # 120 × 28: 5 low, 7 high
    assert s.count == 3 and s.low == 5.0


def test_a_flat_series_runs_across_the_middle():
    s = sparkline([(0, 4.0), (60, 4.0)], 0, 60, max_gap_s=100, width=60, height=30)
    assert coords(s.d) == [[(0.0, 15.0), (60.0, 15.0)]]
    assert s.low == s.high == s.latest == 4.0


def test_no_points_or_only_points_outside_the_window_draw_nothing():
    for points in ([], [(500, 1.0)], [(10, None)]):
        s = sparkline(points, 0, 100, max_gap_s=30)
        assert s.empty and s.d == "" and s.latest is None and s.low is None


def test_a_window_that_does_not_move_forward_is_refused():
    with pytest.raises(ValueError, match="must end after"):
        sparkline([(0, 1.0)], start=100, end=100, max_gap_s=30)


# -- formatting --------------------------------------------------------------------------------
def test_numbers_are_printed_one_way_per_language():
    assert formatting.fps(9.986775352290655, "en") == "10.0"
    assert formatting.fps(9.93, "kk") == "9,9" and formatting.fps(9.93, "ru") == "9,9"
    assert formatting.milliseconds(101.4, "en") == "101\N{NO-BREAK SPACE}ms"
    assert formatting.disk(12.3 * 1024, "en") == "12.3\N{NO-BREAK SPACE}GB"
    assert formatting.disk(850.4, "en") == "850\N{NO-BREAK SPACE}MB"
    assert formatting.disk(12.3 * 1024, "ru") == "12,3\N{NO-BREAK SPACE}ГБ"
    assert formatting.count(1234, "en") == "1,234"
    assert formatting.temperature(57.6, "en") == "58\N{NO-BREAK SPACE}°C"
    assert formatting.age(180, "en") == "3 min. ago"
    assert formatting.age(180, "kk") == "3 мин. бұрын"
    assert formatting.age(-5, "en") == "1 sec. ago"           # a clock a little ahead: now
    for fn in formatting.FILTERS.values():
        assert fn(None, "kk") == formatting.MISSING


# -- the history read, on real SQLite --------------------------------------------------------
@pytest.fixture
def conn(tmp_path):
    db = open_database(tmp_path / "hub.db")
    yield db.conn
    db.conn.close()


def ingest(conn, msg, at: float) -> None:
    with conn:
        nodes.apply_heartbeat(conn, msg, at, LivenessSection())


def test_history_slices_the_window_and_leaves_silence_out(conn):
    # slices of 60 s over [0, 600): heartbeats in slices 0 and 1, silence, then slice 5
    ingest(conn, beat(fps=8.0, disk=900.0, depth=1, temp=50.0), 10)
    ingest(conn, beat(fps=10.0, disk=800.0, depth=4, temp=None), 40)
    ingest(conn, beat(fps=9.0, disk=700.0, depth=2, temp=52.0), 70)
    ingest(conn, beat(fps=5.0, disk=600.0, depth=9, temp=60.0), 330)
    ingest(conn, beat(fps=1.0), 600)                                  # past the window's end
    other = contract.Origin(building="main", room="b202", node="cam1")
    ingest(conn, beat(fps=3.0, origin=other), 20)
    got = nodes.history(conn, since=0, until=600, points=10)
    a101 = got[("main", "a101", "cam1")]
    assert [p.t for p in a101] == [30.0, 90.0, 330.0]
    first = a101[0]
    assert first.fps == 9.0 and first.cpu_temp_c == 50.0              # the mean; no temp: left out
    assert first.disk_free_mb == 800.0 and first.outbox_depth == 4    # the worst
    assert a101[2] == nodes.HistoryPoint(330.0, 5.0, 20.0, 60.0, 600.0, 9)
    assert [p.fps for p in got[("main", "b202", "cam1")]] == [3.0]


def test_history_never_has_more_points_than_asked(conn):
    for i in range(360):                                              # an hour at 10 s
        ingest(conn, beat(fps=10.0), 1000 + i * 10)
    got = nodes.history(conn, since=1000, until=1000 + 3600, points=120)
    assert len(got[("main", "a101", "cam1")]) == 120


def test_history_refuses_an_empty_window(conn):
    with pytest.raises(ValueError, match="since < until"):
        nodes.history(conn, since=10, until=10)


def test_heartbeats_are_kept_as_long_as_the_pictures_show():
    from hub import writer

    assert writer.HEARTBEATS_KEPT_S >= nodes.HISTORY_S


# -- the page ----------------------------------------------------------------------------------
def test_the_devices_page_prints_formatted_numbers_and_a_picture_per_node(client, services):
    now = time.time()
    for ago, fps in ((600, 9.2), (30, 9.986775352290655)):        # slices of 3 min apart
        services.writer.call(nodes.apply_heartbeat, beat(fps=fps, disk=12.3 * 1024, depth=3,
                                                         temp=57.6, ms=101.4),
                             now - ago, LivenessSection())
    token = login(client, "tech")
    client.post("/language", data={"lang": "en", "csrf_token": token})
    page = client.get("/tech/").text
    row = re.search(r'data-node="main/a101/cam1">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'data-f="fps">10\.0<', row) and "9.986" not in page
    assert 'data-f="disk_free_mb">12.3\N{NO-BREAK SPACE}GB<' in row
    assert "58\N{NO-BREAK SPACE}°C" in row
    assert "101\N{NO-BREAK SPACE}ms" in row and 'data-f="outbox_depth">3<' in row
    assert row.count('<svg class="spark"') == 4
    label = re.search(r'data-spark="fps"[^>]*aria-label="([^"]+)"', row).group(1)
    assert label == "Frames/s, last 6 h: now 10.0, lowest 9.2, highest 10.0"
    assert "table-wrap" not in page                     # nothing scrolls sideways


def test_a_node_without_history_says_so(client, services):
    services.writer.call(nodes.apply_heartbeat, beat(temp=None), time.time(),
                         LivenessSection())
    token = login(client, "tech")
    client.post("/language", data={"lang": "en", "csrf_token": token})
    row = re.search(r'data-node="main/a101/cam1">(.*?)</tr>',
                    client.get("/tech/").text, re.S).group(1)
    assert 'data-f="cpu_temp_c">—<' in row and "no history" in row
    assert row.count('<svg class="spark"') == 3


def test_heartbeats_from_before_the_temperature_column_are_kept(tmp_path):
    from hub.store.db import connect
    from hub.store.migrations import MIGRATIONS, migrate

    db = sqlite_utils.Database(connect(tmp_path / "hub.db"), execute_plugins=False)
    migrate(db, target=[m.name for m in MIGRATIONS].index("heartbeat_temperature"))
    db.execute("INSERT INTO heartbeats VALUES ('main', 'a101', 'cam1', 5.0, 9.5, 800, 1, 90)")
    migrate(db)
    (point,) = nodes.history(db.conn, since=0, until=60, points=1)[("main", "a101", "cam1")]
    assert point == nodes.HistoryPoint(30.0, 9.5, 90.0, None, 800.0, 1)
