"""Issue 5's done-when test, end to end with a real mosquitto, the hub, a simulated node and
Debian's Chromium: import a CSV roster and timetable, start the session (the node gets the
command), a node alert arrives, the proctor confirms it, the protocol is filled in and its PDF
holds the right Kazakh text and the evidence; the dean's screen shows the room and logs a
visit; 31 simulated days later the unprotected evidence is gone and the protocol's remains."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from hub.retention_job import run as run_retention
from hub.store.db import connect
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim, snapshot_jpeg
from tests.support.hub_browser import launch, login, screenshot
from tests.support.hub_env import PASSWORD, seatmap
from tests.support.subscriber import Recorder

pytestmark = pytest.mark.integration     # mosquitto, the hub and Chromium

A101 = contract.Origin(building="main", room="a101", node="cam1")
ROSTER = ("group,student_no,name,seat\n"
          "ЭЭ-21,210001,Әлия Нұрланқызы,r2s3\n"
          "ЭЭ-21,210002,Бауыржан Қасымұлы,r1s1\n").encode()


def timetable() -> bytes:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Asia/Almaty")).date().isoformat()
    return ("exam_code,discipline,groups,building,room,date,start,end,proctors,allowed_aids,"
            "examiner,head_of_department\n"
            f"MATH-1,Жоғары математика,ЭЭ-21,main,a101,{today},00:00,23:59,aigerim,"
            "calculator,Сейітова Айгерім,Омаров Болат\n").encode()


def _pdf_text(data: bytes, tmp_path) -> tuple[str, str]:
    path = tmp_path / "protocol.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True,
                            check=True).stdout
    return text, images


def _wait(fn, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (value := fn()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


@pytest.fixture
def live_hub(tmp_path, broker):
    """The whole hub, seeded without a session in a101: the timetable below schedules it."""
    from hub.server import HubServer
    from tests.support.hub_env import make_config, seed

    server = HubServer(make_config(tmp_path, broker.port)).start()
    assert server.services.ingest.connected.wait(10)
    seed(server.services.writer, a101_now=False)
    yield server
    server.stop()


def test_the_regulations_workflow(live_hub, broker, tmp_path):
    base = f"http://127.0.0.1:{live_hub.port}"
    node = NodeSim(broker.host, broker.port, A101)
    node.status("online")
    node.heartbeat()
    commands = Recorder(broker.host, broker.port, "kuzet/v1/main/a101/cam1/cmd")
    db = live_hub.services.db_path

    def query(sql, *args):
        conn = connect(db, readonly=True)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    assert _wait(lambda: query("SELECT 1 FROM nodes WHERE node='cam1'"))
    with sync_playwright() as p:
        browser = launch(p)
        admin = browser.new_context().new_page()
        login(admin, base, "admin", PASSWORD)
        admin.goto(f"{base}/exams/")
        admin.set_input_files("input[name=roster]", files=[
            {"name": "roster.csv", "mimeType": "text/csv", "buffer": ROSTER}])
        admin.set_input_files("input[name=timetable]", files=[
            {"name": "exams.csv", "mimeType": "text/csv", "buffer": timetable()}])
        admin.click("form.import button[type=submit]")
        expect(admin.locator(".flash.ok")).to_be_visible()
        expect(admin.locator("table.exams")).to_contain_text("Жоғары математика")

        # The proctor starts the exam: the node gets start_session with the allowed aids.
        proctor = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        login(proctor, base, "aigerim", PASSWORD)
        proctor.goto(f"{base}/exams/")
        proctor.click("table.exams a:has-text('Жоғары математика')")
        expect(proctor.locator("tr[data-student='210001'] select")).to_have_value("r2s3")
        proctor.click("#start-exam")
        expect(proctor.locator("#exam-state")).to_have_attribute("data-state", "running")
        assert commands.wait_for(lambda m: m, 5)
        cmd = contract.decode(commands.on("cmd")[0], expected_topic=contract.topic(A101, "cmd"))
        assert cmd.action == "start_session" and cmd.session.allowed_aids == ["calculator"]
        assert cmd.session.roster_size == 2
        screenshot(proctor, "workflow-exam")

        # A node alert arrives; the proctor confirms it from the live room.
        seat = next(s["polygon"] for s in seatmap()["seats"] if s["id"] == "r2s3")
        alert, ev = node.alert_with_evidence("r2s3", rule="device", jpeg=snapshot_jpeg(
            800, 600, seat))
        other, other_ev = node.alert_with_evidence("r1s1", rule="notes", jpeg=snapshot_jpeg())
        assert _wait(lambda: query("SELECT 1 FROM evidence WHERE alert_id=?", alert.alert_id))
        proctor.goto(f"{base}/proctor/room/main/a101")
        row = proctor.locator(f'li.incident[data-alert="{alert.alert_id}"]')
        row.wait_for(timeout=5_000)
        row.locator("a.inc-link").click()                 # the row leads to the seat's page
        proctor.wait_for_url("**/seat/r2s3")
        proctor.locator(f'.decide[data-alert="{alert.alert_id}"] .act-confirm').click()
        proctor.wait_for_url("**/protocols/**")
        assert query("SELECT decision FROM alerts WHERE alert_id=?",
                     alert.alert_id)[0][0] == "confirmed"

        # The protocol: prefilled from the session and the roster, edited, issued.
        proctor.goto(f"{base}/protocols/")
        proctor.click("tr[data-protocol] a")
        form = proctor.locator("form.protocol-form")
        expect(form.locator("input[name=student]")).to_have_value("Әлия Нұрланқызы")
        expect(form.locator("input[name=group_name]")).to_have_value("ЭЭ-21")
        expect(form.locator("input[name=discipline]")).to_have_value("Жоғары математика")
        expect(form.locator("input[name=examiner]")).to_have_value("Сейітова Айгерім")
        form.locator("textarea[name=proctor_note]").fill("Телефон партаның астында")
        proctor.click("#protocol-save")
        proctor.click("#protocol-issue")
        expect(proctor.locator("#protocol-status")).to_have_attribute("data-status", "issued")
        screenshot(proctor, "workflow-protocol")
        pdf = proctor.request.get(base + proctor.locator("#protocol-pdf").get_attribute("href"))
        assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
        text, images = _pdf_text(pdf.body(), tmp_path)
        for words in ("ХАТТАМА", "қайта тапсыру аралық аттестаттау", "ЭЭ-21 тобының студенті",
                      "Әлия Нұрланқызы", "Жоғары математика", "Аттестаттау күні",
                      "Бұзу: телефонды", "Телефон партаның астында", "Сейітова Айгерім",
                      "Омаров Болат", "Кафедра меңгерушісі", "таныстым", ev[0].sha256):
            assert words in " ".join(text.split()), words
        assert len(images.strip().splitlines()) >= 3, images   # header, rule, ≥1 image

        # The dean's building screen: the room, and a visit logged in one tap.
        dean = browser.new_context().new_page()
        login(dean, base, "dean", PASSWORD)
        dean.goto(f"{base}/rounds/")
        room = dean.locator('li.round-room[data-room="main/a101"]')
        expect(room).to_contain_text("Жоғары математика")
        expect(room.locator('[data-f="confirmed"]')).to_have_text("1")
        room.locator("input[name=note]").fill("Бәрі тыныш")
        room.locator("form.visit button").click()
        expect(dean.locator('li.round-room[data-room="main/a101"] [data-f="last-visit"]')
               ).not_to_contain_text("Not visited")
        screenshot(dean, "workflow-rounds")
        dean.goto(f"{base}/rounds/report")
        expect(dean.locator('tr[data-room="main/a101"] [data-f="visits"]')).to_contain_text(
            "Бәрі тыныш")
        browser.close()
    commands.close()
    node.close()
    assert query("SELECT note FROM rounds")[0][0] == "Бәрі тыныш"

    # 31 days later: the unprotected evidence is gone, the protocol's remains.
    files = {e.evidence_id: query("SELECT file FROM evidence WHERE evidence_id=?",
                                  e.evidence_id)[0][0] for e in (*ev, *other_ev)}
    report = run_retention(live_hub.config, now=time.time() + 31 * 86400)
    assert report.deleted == 1 and report.kept == 0
    kept = {r[0] for r in query("SELECT evidence_id FROM evidence")}
    assert kept == {ev[0].evidence_id}
    folder = live_hub.services.evidence
    assert folder.resolve(files[ev[0].evidence_id]).exists()
    assert not folder.resolve(files[other_ev[0].evidence_id]).exists()
    logged = query("SELECT evidence_id, file_removed FROM retention_log")
    assert [tuple(r) for r in logged] == [(other_ev[0].evidence_id, 1)]
    assert json.loads(cmd.model_dump_json())["session"]["session_id"]
