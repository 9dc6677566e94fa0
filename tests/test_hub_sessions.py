"""Timetable and roster CSV import: columns, errors by line and field, all or nothing; seats
from the roster or tapped by the proctor; starting a session queues the node's command."""

from __future__ import annotations

import pytest

from hub.roster import ImportRefused, parse_roster, parse_timetable
from hub.store import sessions as store
from hub.store.db import connect

TT_HEAD = "exam_code,discipline,groups,building,room,date,start,end,proctors,allowed_aids\n"
GOOD_TT = TT_HEAD + "M1,Математика,ЭЭ-21,main,a101,2026-11-26,09:00,12:00,aigerim,calculator\n"
ROSTER = "group,student_no,name,seat\nЭЭ-21,1,Әлия,r2s3\nЭЭ-21,2,Бауыржан,\n"


@pytest.mark.parametrize("text, line, field", [
    (TT_HEAD + "M1,Мат,ЭЭ-21,main,a101,2026-13-26,09:00,12:00,aigerim,\n", 2, "date"),
    (TT_HEAD + "M1,Мат,ЭЭ-21,main,a101,2026-11-26,12:00,09:00,aigerim,\n", 2, "end"),
    (TT_HEAD + "M1,Мат,ЭЭ-21,main,a/1,2026-11-26,09:00,12:00,aigerim,\n", 2, "room"),
    (TT_HEAD + "M1,Мат,,main,a101,2026-11-26,09:00,12:00,aigerim,\n", 2, "groups"),
    (TT_HEAD + "M1,Мат,ЭЭ-21,main,a101,2026-11-26,09:00,12:00,aigerim,abacus\n", 2,
     "allowed_aids"),
    (GOOD_TT + "M1,Мат,ЭЭ-21,main,a101,2026-11-26,09:00,12:00,aigerim,\n", 3, "exam_code"),
    ("exam_code,colour\n", 1, "colour"),
])
def test_a_bad_timetable_row_is_reported_by_line_and_field(text, line, field):
    with pytest.raises(ImportRefused) as exc:
        parse_timetable(text, "Asia/Almaty")
    assert (line, field) in {(e.line, e.field) for e in exc.value.errors}


def test_a_bad_roster_row_is_reported():
    with pytest.raises(ImportRefused) as exc:
        parse_roster(ROSTER + "ЭЭ-21,1,Дубль,\n,3,,\n")
    assert {(e.line, e.field) for e in exc.value.errors} == {
        (4, "student_no"), (5, "group"), (5, "name")}


def test_an_unknown_proctor_imports_nothing(services, seeded):
    services.writer.call(store.import_roster, parse_roster(ROSTER))
    exams = parse_timetable(GOOD_TT + "M2,Физика,ЭЭ-21,main,b202,2026-11-26,13:00,15:00,"
                            "nobody,\n", "Asia/Almaty")
    with pytest.raises(ImportRefused) as exc:
        services.writer.call(store.import_timetable, exams)
    assert [(e.line, e.field) for e in exc.value.errors] == [(3, "proctors")]
    conn = connect(services.db_path, readonly=True)
    assert conn.execute("SELECT COUNT(*) FROM sessions WHERE exam_code IS NOT NULL"
                        ).fetchone()[0] == 0
    conn.close()


def test_roster_seats_taps_and_the_start_command(services, seeded):
    w = services.writer
    w.call(store.import_roster, parse_roster(ROSTER))
    [sid] = w.call(store.import_timetable, parse_timetable(GOOD_TT, "Asia/Almaty"))
    conn = connect(services.db_path, readonly=True)
    assert {r["student_no"]: r["seat"] for r in store.roster(conn, sid)} == {"1": "r2s3",
                                                                              "2": None}
    w.call(store.seat_student, sid, "2", "r2s3", seeded.ids["aigerim"])   # tapped: moves 1
    assert {r["student_no"]: r["seat"] for r in store.roster(conn, sid)} == {"1": None,
                                                                              "2": "r2s3"}
    cmds = w.call(store.set_running, sid, True, ["cam1", "cam2"])
    assert [c[0] for c in cmds] == ["kuzet/v1/main/a101/cam1/cmd", "kuzet/v1/main/a101/cam2/cmd"]
    assert b'"allowed_aids":["calculator"]' in cmds[0][1] and b'"roster_size":2' in cmds[0][1]
    assert b'"stop_session"' in w.call(store.set_running, sid, False, ["cam1"])[0][1]
    assert conn.execute("SELECT COUNT(*) FROM commands").fetchone()[0] == 3
    conn.close()


def test_import_page_reports_errors_and_imports_nothing(client):
    from io import BytesIO

    from tests.support.hub_env import login

    token = login(client, "admin")
    bad = TT_HEAD + "M1,Мат,ЭЭ-21,main,a101,2026-11-26,9h,12:00,aigerim,\n"
    r = client.post("/exams/import", data={"csrf_token": token, "timetable": (
        BytesIO(bad.encode()), "t.csv")}, follow_redirects=True)
    assert "2" in r.text and "start" in r.text and "M1" not in r.text.split("<table")[-1]
