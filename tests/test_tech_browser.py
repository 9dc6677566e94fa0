"""The technician's devices page in a real Chromium at a tablet's 1180×820: the table fits
without scrolling sideways, the numbers are formatted, and every node with heartbeats has
its history pictures. Two nodes, each with six hours of history written through the store
(as the writer ingests it) and an hour of silence in it; the latest heartbeats over
mosquitto, and again on a hub with enrolment on (the actions column)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from hub.config import LivenessSection
from hub.server import HubServer
from hub.store import nodes
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim
from tests.support.axe import serious_violations
from tests.support.hub_browser import launch, login, screenshot
from tests.support.hub_env import PASSWORD, seed
from tests.support.wait import wait_until
from tests.test_enrolment_browser import hub_config, tls_broker  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration     # mosquitto, the hub and Chromium

NODES = [contract.Origin(building="main", room="a101", node="cam1"),
         contract.Origin(building="main", room="b202", node="cam1")]


def past_beat(origin: contract.Origin, i: int) -> contract.HeartbeatMessage:
    return contract.HeartbeatMessage(
        origin=origin, fps=9.5 + (i % 7) / 10 + 0.0123, inference_ms=95.0 + i % 13,
        worst_seat_revisit_s=1.0, cpu_temp_c=52.0 + (i % 20) / 2, disk_free_mb=14000.0 - i,
        outbox_depth=i % 5, software_version="sim", model_versions={}, uptime_s=float(i))


def write_history(writer, origins, now: float) -> None:
    """A heartbeat a minute for the last 6 h but from 3 h to 2 h ago (the node silent)."""
    for origin in origins:
        for i, ago in enumerate(range(6 * 3600, 60, -60)):
            if not 2 * 3600 < ago < 3 * 3600:
                writer.call(nodes.apply_heartbeat, past_beat(origin, i), now - ago,
                            LivenessSection())


def check_table(base: str, origins, shot: str) -> dict:
    """The devices page at 1180×820 as the technician (in Kazakh, the default): no sideways
    scroll, formatted numbers, four pictures per node with the silent hour as a gap, no
    axe violation about the table. Returns the page's measured widths."""
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1180, "height": 820})
            login(page, base, "tech", PASSWORD)
            page.goto(f"{base}/tech/")
            expect(page.locator("table.nodes-table")).to_be_visible()
            sizes = page.evaluate("""() => {
              const t = document.querySelector('table.nodes-table');
              const d = document.documentElement;
              return {table_right: t.getBoundingClientRect().right, table_scroll: t.scrollWidth,
                      table_client: t.clientWidth, scroll: d.scrollWidth, client: d.clientWidth};
            }""")
            assert sizes["scroll"] <= sizes["client"], sizes          # no sideways scroll
            assert sizes["table_scroll"] <= sizes["table_client"], sizes
            assert sizes["table_right"] <= sizes["client"], sizes
            for origin in origins:
                row = page.locator(f'tr[data-node="{origin.building}/{origin.room}/'
                                   f'{origin.node}"]')
                fps = row.locator('[data-f="fps"]').inner_text()
                assert re.fullmatch(r"\d+[.,]\d", fps), fps           # "10,0" in Kazakh
                disk = row.locator('[data-f="disk_free_mb"]').inner_text()
                assert disk.replace("\xa0", " ") == "12,3 ГБ", disk
                sparks = row.locator("svg.spark")
                expect(sparks).to_have_count(4)
                d = sparks.first.locator("path").get_attribute("d")
                assert d.count("M") == 2, d            # the silent hour is a gap in the line
                label = sparks.first.get_attribute("aria-label")
                assert label.startswith("Кадр/с, соңғы 6 сағ: қазір 10,0"), label
            assert "9.986" not in page.content()
            problems = [v for v in serious_violations(page)
                        if "scrollable-region-focusable" in v or "nodes-table" in v]
            assert not problems, "\n".join(problems)
            assert screenshot(page, shot).stat().st_size > 10_000
            return sizes
        finally:
            browser.close()


def test_the_device_table_fits_a_tablet_with_a_picture_per_node(live_hub, broker):
    """The latest heartbeats over mosquitto, as the nodes send them."""
    writer = live_hub.services.writer
    write_history(writer, NODES, time.time())
    sims = [NodeSim(broker.host, broker.port, o) for o in NODES]
    try:
        for sim in sims:
            sim.status("online")
            sim.heartbeat(fps=9.986775352290655, disk_free_mb=12.3 * 1024, outbox_depth=2)
        key = [(o.building, o.room, o.node) for o in NODES]
        assert wait_until(lambda: all(
            n["fps"] == 9.986775352290655 for n in writer.call(
                lambda c: [nodes.node(c, *k) for k in key])), 10)
        check_table(f"http://127.0.0.1:{live_hub.port}", NODES, "technician-nodes-health")
    finally:
        for sim in sims:
            sim.close()


def test_with_enrolment_the_actions_still_fit(tmp_path, tls_broker):  # noqa: F811
    """With provisioning on, every row has its enrolment state and its four actions."""
    broker, pki = tls_broker
    server = HubServer(hub_config(tmp_path, broker, pki)).start()
    try:
        seed(server.services.writer)
        bridge = server.app.extensions["kuzet_provisioning"]
        now = time.time()
        write_history(server.services.writer, NODES, now)
        for origin in NODES:
            bridge.add(f"{origin.building}/{origin.room}/{origin.node}")
            server.services.writer.call(nodes.apply_heartbeat, past_beat(origin, 0).model_copy(
                update={"fps": 9.986775352290655, "disk_free_mb": 12.3 * 1024}), now,
                LivenessSection())
        check_table(f"http://127.0.0.1:{server.port}", NODES, "technician-nodes-enrolment")
    finally:
        server.stop()
