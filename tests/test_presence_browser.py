""""I am at this seat" end to end: a real mosquitto, the whole hub and Chromium on the
proctor's seat page. One tap sends the room's node a proctor_present command through the
broker, and the page says until when the proctor is marked there."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from hub.store import sessions
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim
from tests.support.hub_browser import launch, login
from tests.support.hub_env import PASSWORD
from tests.support.subscriber import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration     # mosquitto, the hub and Chromium

A101 = contract.Origin(building="main", room="a101", node="cam1")


def test_one_tap_at_the_seat_tells_the_node_and_the_page_says_until_when(live_hub, broker):
    node = NodeSim(broker.host, broker.port, A101)
    node.status("online")                                     # the hub learns the room's node
    services = live_hub.services
    assert wait_until(lambda: services.writer.call(lambda c: c.execute(
        "SELECT COUNT(*) FROM nodes WHERE node = 'cam1'").fetchone()[0]) == 1)
    services.writer.call(sessions.set_running, 1, True, [])   # the exam runs in a101
    commands = Recorder(broker.host, broker.port, contract.topic(A101, "cmd"))
    base = f"http://127.0.0.1:{live_hub.port}"
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1180, "height": 820})
            login(page, base, "aigerim", PASSWORD)
            page.goto(f"{base}/proctor/room/main/a101/seat/r2s3")
            button = page.locator("form.presence button")
            assert button.bounding_box()["height"] >= 44
            t0 = time.perf_counter()
            button.click()
            assert commands.wait_for(lambda msgs: any(b'"proctor_present"' in m[1]
                                                      for m in msgs), 5)
            latency = time.perf_counter() - t0
            [payload] = [m[1] for m in commands.messages if b'"proctor_present"' in m[1]]
            cmd = contract.decode(payload, expected_topic=contract.topic(A101, "cmd"))
            assert (cmd.action, cmd.seat, cmd.quiet_s, cmd.session_id) == (
                contract.Action.PRESENCE, "r2s3", 180.0, "1")
            expect(page.locator(".presence-until")).to_be_visible()
            print(f"presence tap to command on the broker: {latency * 1000:.0f} ms")
        finally:
            browser.close()
    rows = services.writer.call(lambda c: [dict(r) for r in c.execute(
        "SELECT published, payload FROM commands WHERE action = 'proctor_present'")])
    assert [r["published"] for r in rows] == [1]
    assert json.loads(rows[0]["payload"])["id"] == cmd.id
    commands.close()
    node.close()
