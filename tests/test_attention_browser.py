"""Sound for new high-severity alerts on the proctor's tablet, in a real Chromium against the
whole hub (mosquitto, ingest, web) and a simulated node: off until the proctor turns it on,
one beep for a phone alert, none for an advisory head turn, at most one per 3 s, and the
setting survives a reload (it is kept on the tablet)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kuzet import contract
from kuzet_tools.bench.sim import NodeSim
from tests.support.hub_browser import login, screenshot
from tests.support.hub_env import PASSWORD

pytestmark = pytest.mark.integration     # mosquitto, the hub and Chromium

A101 = contract.Origin(building="main", room="a101", node="cam1")
PLAYED = "window.kuzetAttention.played"


def test_sound_is_off_by_default_then_beeps_once_for_a_phone_and_never_for_advice(
        live_hub, broker, browser):
    base = f"http://127.0.0.1:{live_hub.port}"
    node = NodeSim(broker.host, broker.port, A101)
    node.status("online")
    page = browser.new_page(viewport={"width": 1180, "height": 820})
    login(page, base, "aigerim", PASSWORD)
    expect(page.locator("#live-state.live")).to_be_visible(timeout=10_000)
    sound = page.locator('#attention [data-attention="sound"]')
    expect(sound).to_have_attribute("aria-pressed", "false")
    box = sound.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box

    phone, _ = node.alert_with_evidence("r1s1", rule="device")     # sound is off: silence
    expect(page.locator(f'[data-alert="{phone.alert_id}"]').first).to_be_attached(
        timeout=5_000)
    assert page.evaluate(PLAYED) == 0

    sound.click()
    expect(sound).to_have_attribute("aria-pressed", "true")
    turned, _ = node.alert_with_evidence("r2s3", rule="head_turned")   # advisory
    expect(page.locator(f'[data-alert="{turned.alert_id}"]').first).to_be_attached(
        timeout=5_000)
    page.evaluate("""document.dispatchEvent(new CustomEvent('kuzet:alert-new', {detail:
        {alert: {rule: 'head_turned', advisory: true, seat: 'r2s3'}}}))""")
    assert page.evaluate(PLAYED) == 0

    node.alert_with_evidence("r3s5", rule="device")
    expect(page.locator("#attention")).to_have_attribute("data-played", "1", timeout=5_000)
    assert page.evaluate(PLAYED) == 1
    notes, _ = node.alert_with_evidence("r2s2", rule="notes")    # within 3 s: no second beep
    expect(page.locator(f'[data-alert="{notes.alert_id}"]').first).to_be_attached(
        timeout=5_000)
    assert page.evaluate(PLAYED) == 1
    screenshot(page, "proctor-attention-on")

    page.reload()
    expect(page.locator('#attention [data-attention="sound"]')).to_have_attribute(
        "aria-pressed", "true")                                   # kept on the tablet
    expect(page.locator('#attention [data-attention="vibrate"]')).to_have_attribute(
        "aria-pressed", "false")
    node.close()
