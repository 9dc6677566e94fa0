"""One time zone, the building's (``hub.timezone``), named wherever a time is printed: on every
page (base.html's footer), in the retake CSV (a column, and the issue time with its offset) and
in the protocol PDF (its evidence times local, the zone named; no UTC ``…Z`` left)."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub import zone
from hub.store import violation_protocols as store
from hub.store.db import connect
from hub.violation_protocol import Attachment, ProtocolDoc, render_pdf, violation_text
from tests.support.hub_env import login
from tests.test_hub_access import put_alert

TEMPLATES = Path(__file__).resolve().parents[1] / "hub" / "web" / "templates"
ALMATY = "Asia/Almaty (UTC+05:00)"
UTC_TIME = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z")      # 08:44:05Z, 2026-…T03:44:05.1Z
PRINTS_A_TIME = re.compile(r"local_time|local_datetime|\|ago|_at\b")


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "p.pdf"
    path.write_bytes(data)
    return " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())


def test_the_zone_is_named_with_its_offset_and_times_carry_it():
    assert zone.label("Asia/Almaty") == ALMATY
    assert zone.local_text("2026-12-02T03:44:05Z", "Asia/Almaty") == "2026-12-02 08:44:05 +05:00"
    assert zone.local_text(1_780_000_000.0, "UTC") == "2026-05-28 20:26:40 +00:00"
    assert zone.local_text(None, "Asia/Almaty") == ""
    summer, winter = (datetime(2026, m, 1, tzinfo=UTC) for m in (7, 1))
    assert zone.label("Europe/Berlin", summer) == "Europe/Berlin (UTC+02:00)"
    assert zone.label("Europe/Berlin", winter) == "Europe/Berlin (UTC+01:00)"
    assert zone.utc_offset("America/St_Johns", winter) == "-03:30"


def test_every_page_template_names_the_zone_through_base_or_prints_no_time():
    base = (TEMPLATES / "base.html").read_text()
    assert "hub_zone()" in base and "Times are %(zone)s" in base
    pages = [p for p in TEMPLATES.glob("*.html") if not p.name.startswith("_")
             and p.name != "base.html"]
    assert len(pages) > 15
    for page in pages:
        text = page.read_text()
        if '{% extends "base.html" %}' not in text:
            assert not PRINTS_A_TIME.search(text), f"{page.name} prints a time, zone unnamed"
    for partial in TEMPLATES.glob("_*.html"):                  # included into pages only
        assert "<html" not in partial.read_text(), partial.name


@pytest.mark.parametrize("lang, words", [("kk", "Уақыт"), ("ru", "Время указано"),
                                         ("en", "Times are")])
def test_a_page_names_the_zone_in_its_language(client, seeded, lang, words):
    login(client, "aigerim")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/exams/").text)[1]
    client.post("/language", data={"csrf_token": token, "lang": lang, "next": "/exams/"})
    html = client.get("/exams/").text
    footer = re.search(r'<p id="time-zone">([^<]+)</p>', html)
    assert footer and ALMATY in footer[1] and words in footer[1], footer


@pytest.mark.parametrize("lang, words", [("kk", "белдеуі бойынша"),
                                         ("ru", "по часовому поясу"), ("en", "time zone")])
def test_the_protocol_pdf_prints_evidence_times_local_and_names_the_zone(tmp_path, lang,
                                                                          words):
    doc = ProtocolDoc(7, lang, "ЭЭ-21", "Әлия", "Физика", "2026-11-26",
                      violation_text("device", lang), "", "Сейітова", "Омаров", "r1s1",
                      [Attachment("snapshot", "ab" * 32, "2026-11-26T04:05:06.250Z"),
                       Attachment("clip", "cd" * 32, "2026-11-26T04:05:09Z")],
                      timezone="Asia/Almaty")
    text = pdf_text(render_pdf(doc), tmp_path)
    assert not UTC_TIME.search(text), UTC_TIME.search(text)
    assert ALMATY in text and words in text
    assert "2026-11-26 09:05:06 +05:00" in text and "2026-11-26 09:05:09 +05:00" in text


def test_the_hub_prints_a_protocol_with_its_evidence_in_the_hub_zone(client, services, seeded,
                                                                      tmp_path):
    aid, _ = put_alert(services, "a101")
    token = login(client, "aigerim")
    client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token})
    conn = connect(services.db_path, readonly=True)
    pid = store.for_alert(conn, aid)["id"]
    captured = store.evidence(conn, aid)[0]["captured_at"]
    conn.close()
    assert UTC_TIME.search(captured)                      # stored in UTC, as the node sent it
    with client.get(f"/protocols/{pid}.pdf") as r:
        text = pdf_text(r.data, tmp_path)
    assert not UTC_TIME.search(text), UTC_TIME.search(text)
    assert ALMATY in text and zone.local_text(captured, "Asia/Almaty") in text


def test_the_retake_csv_names_the_zone_and_dates_the_issue_in_it(client, services, seeded):
    aid, _ = put_alert(services, "a101")
    token = login(client, "aigerim")
    client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token})
    conn = connect(services.db_path, readonly=True)
    pid = store.for_alert(conn, aid)["id"]
    client.post(f"/protocols/{pid}/issue", data={"csrf_token": token})
    issued = store.get(conn, pid)["issued_at"]
    conn.close()
    login(client, "dean")
    lines = client.get("/protocols/retakes?format=csv").text.lstrip("\ufeff").splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    assert header[-3:] == ["issued_at", "time_zone", "protocol"]
    assert row[-2:] == ["Asia/Almaty", str(pid)]
    assert row[-3] == zone.local_text(issued, "Asia/Almaty") and row[-3].endswith("+05:00")
