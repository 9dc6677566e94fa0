"""The done-when test: a real mosquitto, the hub (ingest + web, waitress), a simulated node
publishing through the contract module, and a real headless Chromium on the proctor's page.
An alert appears in under a second without a reload; acknowledge works from the room's row,
dismiss, confirm and note from the seat's page it leads to. Screenshots of each main page go
to var/screenshots/."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from hub.server import HubServer
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim, snapshot_jpeg
from tests.support.hub_browser import login, screenshot
from tests.support.hub_env import PASSWORD, make_config, seatmap, seed

pytestmark = pytest.mark.integration     # mosquitto, the hub and Chromium

A101 = contract.Origin(building="main", room="a101", node="cam1")


def seat_polygon(seat_id: str) -> list:
    return next(s["polygon"] for s in seatmap()["seats"] if s["id"] == seat_id)


def test_alert_appears_live_and_the_proctor_acts_on_it(live_hub, broker, browser):
    base = f"http://127.0.0.1:{live_hub.port}"
    node = NodeSim(broker.host, broker.port, A101)
    node.status("online")
    node.heartbeat()
    page = browser.new_page(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    login(page, base, "aigerim", PASSWORD)
    expect(page.locator("#live-state.live")).to_be_visible(timeout=10_000)
    expect(page.locator("html")).to_have_attribute("lang", "kk")

    latencies = []
    alerts = []
    for seat in ("r2s3", "r1s1", "r3s5"):
        jpeg = snapshot_jpeg(800, 600, seat_polygon(seat))
        t0 = time.perf_counter()
        alert, _ = node.alert_with_evidence(seat, rule="device", jpeg=jpeg)
        row = page.locator(f'li.incident[data-alert="{alert.alert_id}"]')
        row.wait_for(state="visible", timeout=5_000)
        latencies.append(time.perf_counter() - t0)
        alerts.append(alert)
    assert max(latencies) < 1.0, latencies

    first = page.locator(f'li.incident[data-alert="{alerts[0].alert_id}"]')
    expect(first.locator('[data-f="student"]')).to_have_text("Әлия Нұрланқызы")
    expect(page.locator('.seatmap .seat[data-seat="r2s3"]')).to_have_class("seat alert")
    expect(page.locator("#open-list li.incident").first).to_have_attribute(
        "data-alert", alerts[0].alert_id)          # one severity: the longest running first
    screenshot(page, "proctor-room-landscape")

    # Acknowledge from the room's row; dismiss (with a reason), confirm and note on the
    # seat's page, which the row and the seat map lead to.
    a_ack, a_dismiss, a_confirm = (page.locator(f'li.incident[data-alert="{a.alert_id}"]')
                                   for a in alerts)
    a_ack.locator(".act-ack button").click()
    expect(a_ack).to_have_attribute("data-decision", "acknowledged")
    a_dismiss.locator("a.inc-link").click()
    page.wait_for_url("**/seat/r1s1")
    page.locator(f'.decide[data-alert="{alerts[1].alert_id}"] '
                 'button.act-dismiss[value="detection_error"]').click()
    page.wait_for_url("**/seat/r1s1")
    page.goto(f"{base}/proctor/room/main/a101")
    page.locator('.seatmap a.seat-link:has(g[data-seat="r3s5"])').click()
    page.wait_for_url("**/seat/r3s5")
    expect(page.locator("#seat-svg, #seat-crop").first).to_be_visible()   # its picture
    page.locator(f'.decide[data-alert="{alerts[2].alert_id}"] .act-confirm').click()
    page.wait_for_url("**/protocols/**")                   # a confirm opens its protocol
    page.goto(f"{base}/proctor/room/main/a101/seat/r2s3")
    note = page.locator(f'.decide[data-alert="{alerts[0].alert_id}"] .decide-note')
    note.locator("textarea[name=text]").fill("Телефон сөмкеде")
    note.locator(".act-note").click()
    page.wait_for_url("**/seat/r2s3")
    page.goto(f"{base}/proctor/room/main/a101")
    expect(page.locator("#live-state.live")).to_be_visible(timeout=10_000)
    expect(page.locator('.seatmap .seat[data-seat="r3s5"]')).to_have_class("seat confirmed")
    expect(page.locator('.seatmap .seat[data-seat="r1s1"]')).to_have_class("seat quiet")
    expect(page.locator(f'#history-list li.incident[data-alert="{alerts[1].alert_id}"]')
           ).to_have_attribute("data-decision", "dismissed")
    expect(page.locator("#open-list li.incident")).to_have_count(1)

    # The decisions were recorded with who and when, and audited (the audit row of the last
    # action may land just after the page saw its live update).
    from hub.store.db import connect
    wanted = {"alert.acknowledge", "alert.dismiss", "alert.confirm", "alert.note",
              "evidence.file"}
    deadline = time.monotonic() + 5
    while True:
        conn = connect(live_hub.services.db_path, readonly=True)
        rows = {r["alert_id"]: r for r in conn.execute(
            "SELECT a.*, u.username FROM alerts a LEFT JOIN users u ON u.id = a.decided_by")}
        acts = {r["action"] for r in conn.execute(
            "SELECT action FROM audit WHERE username='aigerim'")}
        conn.close()
        if wanted <= acts or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert wanted <= acts
    assert rows[alerts[0].alert_id]["decision"] == "acknowledged"
    assert rows[alerts[1].alert_id]["dismiss_reason"] == "detection_error"
    assert rows[alerts[2].alert_id]["username"] == "aigerim"
    assert rows[alerts[2].alert_id]["decided_at"]

    # The evidence page: the snapshot with the seat marked, and the hashes.
    page.goto(f"{base}/evidence/alert/{alerts[0].alert_id}")
    expect(page.locator("svg.snapshot-svg polygon.seat-mark")).to_be_visible()
    expect(page.locator("table.hashes code")).to_have_count(1)
    screenshot(page, "evidence")

    # The same page in portrait on a 10" tablet and on a phone, in Russian.
    page.goto(f"{base}/proctor/")
    page.set_viewport_size({"width": 800, "height": 1280})
    page.locator('form.lang button[value="ru"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#live-state.live")).to_be_visible(timeout=10_000)
    screenshot(page, "proctor-room-portrait-ru")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "proctor-room-phone-ru")
    node.close()


def test_live_page_reconnects_after_its_stream_ends(tmp_path, broker, browser):
    server = HubServer(make_config(tmp_path, broker.port, sse_max_age_s=1,
                                   sse_keepalive_s=0.5)).start()
    try:
        assert server.services.ingest.connected.wait(10)
        seed(server.services.writer)
        page = browser.new_page()
        login(page, f"http://127.0.0.1:{server.port}", "aigerim", PASSWORD)
        expect(page.locator("#live-state.live")).to_be_visible(timeout=10_000)
        time.sleep(2.5)                        # the stream has ended and reconnected
        node = NodeSim(broker.host, broker.port, A101)
        alert, _ = node.alert_with_evidence("r1s2", jpeg=None)
        page.locator(f'li.incident[data-alert="{alert.alert_id}"]').wait_for(timeout=5_000)
        node.close()
    finally:
        server.stop()


def test_other_roles_pages_render(live_hub, browser):
    base = f"http://127.0.0.1:{live_hub.port}"
    for user, path, name in (("dean", "/dean/", "dean-overview-1280"),
                             ("tech", "/tech/", "technician-devices-1280"),
                             ("admin", "/admin/", "admin-1280")):
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        login(page, base, user, PASSWORD)
        page.goto(base + path)
        expect(page.locator("main h1")).to_be_visible()
        screenshot(page, name)
        page.close()
