"""The campus hub live (integration): a real mosquitto as the campus broker, the whole campus
hub (its MQTT ingest subscribing campus/v1/#, the web on a free port), messages published on
the remapped topics as a building's bridge would (QoS 1), and Chromium on the overview.

An alert published for main shows on the campus overview's tile and once in the incidents;
the same message twice (a bridge's QoS 1 redelivery) and a message of main on east's topic
change nothing. The publish-to-page latency is measured (printed; docs/campus.md)."""

from __future__ import annotations

import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.server import HubServer
from hub.store.db import connect
from kuzet import contract
from tests.support.campus_env import alert, make_campus_config, origin, seed_campus, status
from tests.support.hub_browser import login, screenshot
from tests.support.hub_env import PASSWORD

pytestmark = pytest.mark.integration

MAIN, EAST = origin("main", "a101"), origin("east", "e1")


@pytest.fixture
def campus_hub(tmp_path, broker):
    server = HubServer(make_campus_config(tmp_path, broker.port)).start()
    assert server.services.ingest.connected.wait(10)
    seed_campus(server.services.writer)
    yield server
    server.stop()


@pytest.fixture
def bridge(broker):
    """A publisher standing in for the buildings' bridges on the campus broker."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bridge-stand-in",
                    protocol=mqtt.MQTTv311)
    c.connect(broker.host, broker.port)
    c.loop_start()
    yield c
    c.disconnect()
    c.loop_stop()


def send(client, topic: str, msg: contract.Message, retain: bool = False) -> None:
    client.publish(topic, contract.encode(msg), qos=1, retain=retain).wait_for_publish(5)


def wait_for(check, timeout: float = 10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError("not within the time")


def alert_rows(server) -> list[tuple]:
    conn = connect(server.services.db_path, readonly=True)
    try:
        return [tuple(r) for r in conn.execute("SELECT alert_id, building, status FROM alerts"
                                               " ORDER BY alert_id")]
    finally:
        conn.close()


def test_a_bridged_alert_shows_on_the_campus_overview_once(campus_hub, bridge, browser):
    base = f"http://127.0.0.1:{campus_hub.port}"
    ingest = campus_hub.services.ingest
    for o in (MAIN, EAST):
        send(bridge, contract.campus_topic(o, "status"), status(o), retain=True)
    wait_for(lambda: ingest.received >= 2)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    login(page, base, "office", PASSWORD)
    page.goto(f"{base}/campus/")
    page.wait_for_selector('.room-tile[data-room="main/a101"]')
    page.wait_for_selector('.room-tile[data-room="east/e1"]')
    page.wait_for_timeout(500)                         # the page's stream is open

    latencies = []
    for i in range(5):
        msg = alert(MAIN, f"livealert{i:03d}")
        t0 = time.perf_counter()
        send(bridge, contract.campus_topic(MAIN, "alert"), msg)
        page.wait_for_selector(f'.room-tile[data-room="main/a101"][data-high="{i + 1}"]',
                               timeout=10_000)
        latencies.append(time.perf_counter() - t0)
        send(bridge, contract.campus_topic(MAIN, "alert"), msg)       # QoS 1 redelivered
    spoof = alert(MAIN, "spoofedalert")
    send(bridge, "campus/v1/east/e1/cam1/alert", spoof)              # main's, on east's topic
    wait_for(lambda: ingest.received >= 2 + 11)
    campus_hub.services.writer.call(lambda conn: None)               # all applied

    assert alert_rows(campus_hub) == [(f"livealert{i:03d}", "main", "open") for i in range(5)]
    assert campus_hub.services.writer.duplicates == 5
    assert (ingest.invalid, ingest.spoofed) == (1, 1)
    page.goto(f"{base}/campus/incidents.json")
    ids = [a["alert_id"] for a in page.evaluate("() => JSON.parse(document.body.innerText)")
           ["incidents"]]
    assert sorted(ids) == [f"livealert{i:03d}" for i in range(5)]          # each once
    page.goto(f"{base}/campus/")
    page.wait_for_selector('.room-tile[data-room="main/a101"][data-high="5"]')
    assert page.locator('.room-tile[data-room="east/e1"]').get_attribute("data-high") == "0"
    screenshot(page, "campus-overview")
    page.goto(f"{base}/campus/incidents")
    assert page.locator('a.evidence-link[href="https://hub.main.example/evidence/alert/'
                        'livealert000"]').count() == 1
    latencies.sort()
    print(f"\ncampus publish-to-page (Chromium tile, SSE then tiles.json): "
          f"median {latencies[2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms "
          f"over {len(latencies)} alerts")
    assert latencies[-1] < 2.0                          # the campus target
