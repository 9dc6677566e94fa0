"""The check-in view in a real Chromium at a tablet's 1180×820 (and portrait 820×1180), in
Kazakh, on a whole hub (real mosquitto, ingest, waitress) with a simulated node answering the
check_in commands over MQTT: the seats' fresh crops appear beside the roster photos, a tap on
"identified" is stored and the headcount follows. Screenshot:
var/screenshots/proctor-checkin.png."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from hub.store import check_ins, face_matches
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim
from tests.support.hub_browser import login, screenshot
from tests.support.hub_env import PASSWORD, read
from tests.support.photos import put_student_with_photo, real_photo

pytestmark = pytest.mark.integration     # mosquitto, the hub and Chromium

A101 = contract.Origin(building="main", room="a101", node="cam1")
SEEN = contract.Seated(seat=True, taken=14, looked=15)


@pytest.fixture
def node(broker):
    sim = NodeSim(broker.host, broker.port, A101)
    sim.status("online")
    sim.heartbeat()
    yield sim
    sim.close()


def seated_exam(services) -> int:
    """aigerim's a101 exam: S001 (with a roster photo) at r1s1, S002 (none) at r1s2."""
    sid = read(services, lambda c: c.execute(
        "SELECT s.id FROM sessions s JOIN users u ON u.id = s.proctor_id"
        " WHERE u.username = 'aigerim'").fetchone()[0])
    put_student_with_photo(services, sid, "S001")

    def write(c):
        c.execute("INSERT INTO students VALUES ('S002', 'Әлия Нұрланқызы', 'ЭЭ-21', NULL, '')")
        c.execute("INSERT INTO session_seats (session_id, student_no, seat)"
                  " VALUES (?, 'S002', 'r1s2')", (sid,))
        c.execute("UPDATE session_seats SET seat = 'r1s1' WHERE student_no = 'S001'")
    services.writer.call(write)
    return sid


def loaded(page, selector: str) -> bool:
    return page.evaluate("s => { const i = document.querySelector(s);"
                         " return !!i && !i.hidden && i.complete && i.naturalWidth > 0; }",
                         selector)


def test_check_in_crops_beside_photos_identified_and_the_headcount(live_hub, node, browser):
    base = f"http://127.0.0.1:{live_hub.port}"
    sid = seated_exam(live_hub.services)
    answered = node.answer_check_ins(real_photo("messi"), SEEN)   # a real face at the seat
    page = browser.new_page(viewport={"width": 1180, "height": 820}, device_scale_factor=1)
    login(page, base, "aigerim", PASSWORD)
    started = time.perf_counter()
    page.goto(f"{base}/exams/{sid}/check-in")
    s001, s002 = page.locator("#student-S001"), page.locator("#student-S002")
    expect(s001.locator(".photo img")).to_be_visible()
    expect(s002.locator(".nophoto")).to_be_visible()           # a room can run without photos
    for card in ("#student-S001", "#student-S002"):            # asked by the view itself
        page.wait_for_function(
            "s => { const i = document.querySelector(s + ' .crop-image');"
            " return !i.hidden && i.complete && i.naturalWidth > 0; }", arg=card,
            timeout=15_000)
    both_s = time.perf_counter() - started
    assert len(answered) == 2 and loaded(page, "#student-S001 .photo img")
    expect(page.locator("#hc-seen")).to_have_text("14")
    expect(page.locator("#hc-checked")).to_have_text("0")
    expect(page.locator("#hc-waiting")).to_have_text("2")
    tapped = time.perf_counter()
    s001.locator("button[value=identified]").click()
    expect(s001).to_have_attribute("data-result", "identified")
    expect(page.locator("#hc-checked")).to_have_text("1")
    expect(page.locator("#hc-waiting")).to_have_text("1")
    tap_s = time.perf_counter() - tapped
    rows = read(live_hub.services, check_ins.records, sid)
    assert [(r["student_no"], r["seat"], r["result"]) for r in rows] == \
        [("S001", "r1s1", "identified")]
    crop_command = read(live_hub.services, lambda c: c.execute(
        "SELECT command_id FROM check_ins").fetchone()[0])
    assert crop_command in answered                     # the crop the proctor looked at
    expect(page.locator("#hc-someone")).to_be_hidden()  # none yet: not shown
    s002.locator("button[value=someone_else]").click()
    expect(page.locator("#hc-someone")).to_have_text("1")   # at once, no reload
    expect(page.locator("#hc-someone")).to_be_visible()
    for button in s001.locator("form.results button, form.results select").all():
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 1180
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "proctor-checkin")
    page.set_viewport_size({"width": 820, "height": 1180})
    page.reload()
    expect(page.locator("#student-S001")).to_have_attribute("data-result", "identified")
    assert page.evaluate("document.documentElement.scrollWidth") <= 820   # no sideways
    box = page.locator("#student-S002 button[value=someone_else]").bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= 820
    print(f"check-in: both crops shown {both_s:.2f} s after opening; identified to headcount"
          f" {tap_s * 1000:.0f} ms")


def test_the_automatic_face_match_shows_its_advice_without_a_reload(live_hub, node, browser):
    """An exam that opted in: the hub compares the crop's face with the roster photo just after
    the crop came, and the card shows the advice as soon as it is made."""
    base = f"http://127.0.0.1:{live_hub.port}"
    sid = seated_exam(live_hub.services)
    live_hub.services.writer.call(face_matches.set_flag, sid, True)
    node.answer_check_ins(real_photo("messi"), SEEN)     # S001's roster photo is messi too
    page = browser.new_page(viewport={"width": 1180, "height": 820}, device_scale_factor=1)
    login(page, base, "aigerim", PASSWORD)
    page.goto(f"{base}/exams/{sid}/check-in")
    advice = page.locator("#student-S001 .face-match")
    expect(advice).to_have_attribute("data-result", "likely", timeout=20_000)
    expect(page.locator("#student-S002 .face-match")).to_have_count(0)   # no photo: no match
