"""The dean on a tablet (Chromium at 1180×820, in Kazakh): a tile per room; a device alert
published by a simulated node raises the room's open high-severity count on its tile
without a reload, and the tile moves first; a visit logged in one tap from the tile shows
its time and the dean's name; the rounds route is numbered; the room's live view shows new
alerts live and offers no proctor action. Screenshots: var/screenshots/dean-overview-live.png,
dean-rounds.png, dean-room.png."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect, sync_playwright

from hub.store import rooms, sessions
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim
from tests.support.hub_browser import launch, login, screenshot
from tests.support.hub_env import PASSWORD, seatmap

pytestmark = pytest.mark.integration     # mosquitto, the hub and Chromium

A101 = contract.Origin(building="main", room="a101", node="cam1")
B202 = contract.Origin(building="main", room="b202", node="cam1")
TABLET = {"width": 1180, "height": 820}


def too_small_targets(page) -> list[str]:
    """Links and buttons of the main area smaller than 44×44 px."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        'main a, main button, main input')).filter(e => e.offsetParent !== null).map(e => {
          const r = e.getBoundingClientRect();
          return (r.width < 44 || r.height < 44) ? e.outerHTML.slice(0, 80) : null;
        }).filter(Boolean)""")


def a_building(writer) -> None:
    """Six more rooms beside the seeded a101 and b202: two with an exam now, four without."""
    now = datetime.now(UTC)
    for room, title in (("c303", "Аудитория 303"), ("c304", "Аудитория 304"),
                        ("d401", "Лекция залы 401"), ("d402", "Компьютер сыныбы 402"),
                        ("e501", "Аудитория 501"), ("e502", "Аудитория 502")):
        writer.call(rooms.load_seatmap, "main", room, seatmap(room), title)
    for room, title in (("c303", "Жоғары математика"), ("d401", "Физика · 2 курс")):
        writer.call(sessions.add_session, "main", room, "dana", now - timedelta(minutes=20),
                    now + timedelta(minutes=70), title)


def test_the_deans_tiles_rise_live_and_a_visit_is_one_tap(live_hub, broker):
    base = f"http://127.0.0.1:{live_hub.port}"
    a_building(live_hub.services.writer)
    nodes = [NodeSim(broker.host, broker.port, o, client_id=f"sim-{o.room}") for o in (A101, B202)]
    for n in nodes:
        n.status("online")
        n.heartbeat()
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport=TABLET, device_scale_factor=1)
        login(page, base, "dean", PASSWORD)
        page.goto(f"{base}/dean/")
        expect(page.locator("html")).to_have_attribute("lang", "kk")
        a101 = page.locator('.room-tile[data-room="main/a101"]')
        expect(a101.locator('[data-f="high"]')).to_have_text("0")
        expect(a101.locator('[data-f="health"]')).to_have_class("health online", timeout=15_000)
        page.evaluate("window.__sameDocument = true")

        t0 = time.perf_counter()
        nodes[0].alert_with_evidence("r2s3", rule="device", jpeg=None)
        expect(a101.locator('[data-f="high"]')).to_have_text("1", timeout=15_000)
        tile_latency = time.perf_counter() - t0
        assert page.evaluate("window.__sameDocument === true")          # no reload
        expect(page.locator(".room-tile").first).to_have_attribute("data-room", "main/a101")
        expect(a101).to_have_class("room-tile needs-visit")
        assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
        assert too_small_targets(page) == []
        screenshot(page, "dean-overview-live")

        a101.locator("form.visit button").click()                      # one tap
        page.wait_for_load_state()
        expect(page.locator(".flash.ok")).to_be_visible()
        expect(a101.locator('[data-f="last-visit"]')).to_contain_text("Dean")

        page.goto(f"{base}/rounds/")
        expect(page.locator("nav.route li")).to_have_count(4)          # the exams now
        expect(page.locator('ol.rounds [data-order="1"]')).to_have_attribute(
            "data-room", "main/a101")                                   # its alert is open
        expect(page.locator('ol.rounds [data-room="main/a101"] [data-f="last-visit"] time')
               ).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
        assert too_small_targets(page) == []
        screenshot(page, "dean-rounds")

        page.goto(f"{base}/dean/room/main/a101")                         # read-only live view
        expect(page.locator("#live-state.live")).to_be_visible(timeout=10_000)
        alert, _ = nodes[0].alert_with_evidence("r1s1", rule="notes", jpeg=None)
        expect(page.locator(f'[data-alert="{alert.alert_id}"]').first).to_be_attached(
            timeout=5_000)
        expect(page.locator('form[action^="/proctor/"]')).to_have_count(0)
        expect(page.locator('form[action$="/round"] button')).to_be_visible()
        screenshot(page, "dean-room")
        browser.close()
    for n in nodes:
        n.close()
    print(f"dean tile: publish to count {tile_latency * 1000:.0f} ms")
    assert tile_latency < 5.0            # the stream, not the 10 s poll
