"""The seat page in a real Chromium at a tablet's 1180×820, in Kazakh, on a whole hub (real
mosquitto, ingest, waitress) with a simulated node: from an alert's arrival to an issued
protocol in a counted number of taps; the fresh picture answered by the node over MQTT; the
same page usable in portrait. Screenshot: var/screenshots/proctor-seat.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from hub.store import seat_pictures
from kuzet import contract
from kuzet_tools.bench.sim import NodeSim, evidence_for, snapshot_jpeg
from tests.support.hub_browser import login, screenshot
from tests.support.hub_env import PASSWORD, read, seatmap

pytestmark = pytest.mark.integration     # mosquitto, the hub and Chromium

A101 = contract.Origin(building="main", room="a101", node="cam1")
TABLET = {"width": 1180, "height": 820}
MAX_TAPS = 5


def polygon(seat_id: str) -> list:
    return next(s["polygon"] for s in seatmap()["seats"] if s["id"] == seat_id)


@pytest.fixture
def node(broker):
    sim = NodeSim(broker.host, broker.port, A101)
    sim.status("online")
    sim.heartbeat()
    yield sim
    sim.close()


def answer_snapshots(sim: NodeSim, jpeg: bytes) -> list[str]:
    """The node's side of a snapshot command: the picture under the command's id, then the
    reply, as edge.commands does. Returns the ids of the commands answered."""
    answered: list[str] = []

    def on_message(client, userdata, msg):
        cmd = contract.decode(msg.payload)
        if isinstance(cmd, contract.CommandMessage) and cmd.action == contract.Action.SNAPSHOT:
            sim.publish(evidence_for(sim.origin, cmd.id, jpeg), wait=False)
            sim.publish(contract.CommandReply(origin=sim.origin, command_id=cmd.id, ok=True,
                                              detail="snapshot", sent_at=contract.utcnow()),
                        wait=False)
            answered.append(cmd.id)

    sim.client.on_message = on_message
    sim.client.subscribe(contract.topic(sim.origin, "cmd"), qos=1)
    return answered


class Taps:
    """Every click the test makes on the way, counted."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, locator) -> None:
        locator.click()
        self.n += 1


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= TABLET["height"]


def test_from_an_alert_to_an_issued_protocol_in_few_taps(live_hub, node, browser):
    base = f"http://127.0.0.1:{live_hub.port}"
    page = browser.new_page(viewport=TABLET, device_scale_factor=1)
    login(page, base, "aigerim", PASSWORD)
    page.goto(f"{base}/proctor/room/main/a101")
    expect(page.locator("#live-state.live")).to_be_visible(timeout=10_000)

    alert, _ = node.alert_with_evidence("r2s3", rule="device",
                                        jpeg=snapshot_jpeg(800, 600, polygon("r2s3")))
    row = page.locator(f'[data-alert="{alert.alert_id}"]').first
    row.wait_for(state="visible", timeout=5_000)

    tap = Taps()
    tap(row.locator('a[href$="/seat/r2s3"]').first)                  # 1: the row → its seat
    expect(page).to_have_url(f"{base}/proctor/room/main/a101/seat/r2s3")
    incident = page.locator(f'article.incident[data-alert="{alert.alert_id}"]')
    expect(incident).to_be_visible()
    expect(page.locator("h1")).to_contain_text("Әлия Нұрланқызы")
    expect(page.locator("#seat-svg image")).to_have_attribute("href", "/evidence/file/"
                                                              f"{alert.evidence[0].evidence_id}")
    for selector in ("#seat-svg", ".act-confirm", '.act-dismiss[data-reason="proctor_nearby"]',
                     ".decide-note textarea", "#fresh-picture-button"):
        assert in_view(page, selector), f"{selector} is not on the first screen"
    screenshot(page, "proctor-seat")

    tap(incident.locator(".act-confirm"))                            # 2: confirm
    expect(page).to_have_url(f"{base}/protocols/" + page.url.rsplit("/", 1)[-1])
    expect(page.locator("#protocol-status")).to_have_attribute("data-status", "draft")
    violation = page.locator("#protocol-violation")
    assert violation.evaluate("e => e.rows") >= 4
    width = violation.evaluate("e => e.getBoundingClientRect().width")
    form = page.locator(".protocol-form").evaluate("e => e.clientWidth")
    assert width >= 0.85 * form, (width, form)                       # full width, under its label
    page.locator("#protocol-note").fill("Телефон партаның астында, студент оны жасырды.")
    tap(page.locator("#protocol-save"))                              # 3: save
    expect(page.locator("#protocol-note")).to_have_value(
        "Телефон партаның астында, студент оны жасырды.")
    tap(page.locator("#protocol-issue"))                             # 4: issue (the PDF frozen)
    expect(page.locator("#protocol-status")).to_have_attribute("data-status", "issued")
    print(f"taps from the alert's row to an issued protocol: {tap.n}")
    assert tap.n <= MAX_TAPS


def test_a_fresh_picture_comes_from_the_node_cut_to_the_seat(live_hub, node, browser):
    base = f"http://127.0.0.1:{live_hub.port}"
    answered = answer_snapshots(node, snapshot_jpeg(800, 600, polygon("r1s1")))
    page = browser.new_page(viewport={"width": 820, "height": 1180}, device_scale_factor=1)
    login(page, base, "aigerim", PASSWORD)
    page.goto(f"{base}/proctor/room/main/a101/seat/r1s1")
    expect(page.locator("#seat-nopicture")).to_be_visible()
    page.locator("#fresh-picture-button").click()
    image = page.locator("#seat-svg image")
    expect(image).to_have_attribute("href", re.compile(r"^/proctor/pictures/[A-Za-z0-9_-]+\.jpg$"),
                                    timeout=10_000)
    expect(page.locator("#seat-svg")).to_be_visible()
    assert len(answered) == 1
    box = [float(v) for v in page.locator("#seat-svg").get_attribute("viewBox").split()]
    xs = [p[0] for p in polygon("r1s1")]
    assert box[0] <= min(xs) and box[0] + box[2] >= max(xs) and box[2] < 800   # the seat, zoomed
    assert page.evaluate("document.documentElement.scrollWidth") <= 820          # no sideways
    shot = read(live_hub.services, seat_pictures.asked, answered[0])
    assert (shot["building"], shot["room"], shot["node"]) == ("main", "a101", "cam1")
    screenshot(page, "proctor-seat-portrait")
    # At once again: refused (one per seat per 5 s), the page says so.
    page.locator("#fresh-picture-button").click()
    expect(page.locator("#fresh-state")).not_to_be_empty()
    assert len(answered) == 1
    # The picture stays on the page after a reload (the newest picture of the seat).
    page.reload()
    expect(page.locator("#seat-svg image")).to_have_attribute(
        "href", f"/proctor/pictures/{answered[0]}.jpg")


def test_the_evidence_page_decides_and_comes_back(live_hub, node, browser):
    base = f"http://127.0.0.1:{live_hub.port}"
    alert, _ = node.alert_with_evidence("r3s5", rule="outsider_near_seat",
                                        jpeg=snapshot_jpeg(800, 600, polygon("r3s5")))
    page = browser.new_page(viewport=TABLET, device_scale_factor=1)
    login(page, base, "aigerim", PASSWORD)
    evidence = f"{base}/evidence/alert/{alert.alert_id}"
    page.goto(evidence)
    expect(page.locator(".evidence-decide")).to_be_visible()
    assert in_view(page, '.act-dismiss[data-reason="proctor_nearby"]')
    screenshot(page, "proctor-evidence")
    page.locator('.act-dismiss[data-reason="proctor_nearby"]').click()
    expect(page).to_have_url(evidence)
    expect(page.locator(".evidence-decide")).to_have_count(0)      # decided: no more actions
    expect(page.locator("p.meta")).to_contain_text("Қасында проктор болды")
    page.locator("#evidence-seat").click()
    history = page.locator(f'.seat-history li[data-alert="{alert.alert_id}"]')
    expect(history).to_have_attribute("data-decision", "dismissed")
