"""The dean's suggested order of visits (clause 4.4): rooms with open alerts first, then the
rooms never visited, then the longest unvisited; the day report counts visits and decisions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from hub.store import rounds as store
from hub.store.alerts import apply_alert, decide
from hub.store.db import connect
from hub.store.users import User, get_user
from kuzet import contract
from kuzet_tools.bench.sim import alert_for


def order(services) -> list[tuple[str, int, bool]]:
    conn = connect(services.db_path, readonly=True)
    try:
        return [(r["room"], r["open"], r["never_visited"])
                for r in store.building_screen(conn, time.time())]
    finally:
        conn.close()


def user(services, name: str) -> User:
    conn = connect(services.db_path, readonly=True)
    try:
        return get_user(conn, conn.execute(
            "SELECT id FROM users WHERE username=?", (name,)).fetchone()[0])
    finally:
        conn.close()


def open_alert(services, room: str) -> str:
    origin = contract.Origin(building="main", room=room, node="cam1")
    aid = contract.new_id()
    services.writer.call(lambda c: apply_alert(c, alert_for(origin, "r1s1", alert_id=aid),
                                               time.time()))
    return aid


def test_the_suggested_order_of_visits(services, seeded):
    dean, w = user(services, "dean"), services.writer
    assert sorted(order(services)) == [("a101", 0, True), ("b202", 0, True)]

    w.call(store.log_round, dean, "main", "a101", "")
    assert order(services) == [("b202", 0, True), ("a101", 0, False)]    # never visited first

    aid = open_alert(services, "a101")
    assert order(services) == [("a101", 1, False), ("b202", 0, True)]    # open alerts first

    w.call(decide, aid, user(services, "aigerim"), "dismissed", "other")
    time.sleep(0.01)
    w.call(store.log_round, dean, "main", "b202", "")
    assert order(services) == [("a101", 0, False), ("b202", 0, False)]   # longest unvisited


def test_the_day_report_counts_visits_and_decisions(services, seeded):
    dean, w = user(services, "dean"), services.writer
    w.call(store.log_round, dean, "main", "b202", "quiet room")
    aid = open_alert(services, "a101")
    w.call(decide, aid, user(services, "aigerim"), "confirmed")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    conn = connect(services.db_path, readonly=True)
    try:
        report = store.day_report(conn, day.isoformat(), (day + timedelta(days=1)).isoformat())
    finally:
        conn.close()
    rooms = {r["room"]: r for r in report["rooms"]}
    assert [v["note"] for v in rooms["b202"]["visits"]] == ["quiet room"]
    assert (rooms["a101"]["confirmed"], rooms["a101"]["dismissed"]) == (1, 0)
    assert report["proctors"]["Aigerim"]["confirmed"] == 1
