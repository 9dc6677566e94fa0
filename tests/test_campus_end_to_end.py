"""End to end (integration): a node publishes an alert on its building's mosquitto; the
building's own mosquitto bridge (``kuzet provision bridge``, TLS, the building's certificate)
carries it remapped to the campus mosquitto; the campus hub (``hub.role = "campus"``, its
ingest on ``campus/v1/#`` with its certificate) stores it; it shows on the campus overview in
Chromium and once in incidents.json. The publish-to-campus-page latency is printed."""

from __future__ import annotations

import time

import pytest

from hub.config import parse_config
from hub.server import HubServer
from tests.support.campus import Federation
from tests.support.campus_env import HUBS, seed_campus
from tests.support.hub_browser import login
from tests.support.hub_env import PASSWORD, SECRET

pytestmark = pytest.mark.integration


@pytest.fixture
def fed(tmp_path):
    f = Federation(tmp_path)
    yield f
    f.close()


@pytest.fixture
def campus_hub(tmp_path, fed):
    tls = fed.campus_pki.campus_hub_tls()
    config = parse_config({
        "hub": {"data_dir": str(tmp_path / "campus-hub"), "role": "campus"},
        "web": {"host": "127.0.0.1", "port": 0, "secret_key": SECRET, "cookie_secure": False,
                "threads": 8},
        "broker": {"host": "127.0.0.1", "port": fed.campus.port, "client_id": "campus-hub",
                   "ca_file": tls["ca_certs"], "cert_file": tls["certfile"],
                   "key_file": tls["keyfile"]},
        "campus": {"buildings": {name: {"url": url} for name, url in HUBS.items()}},
    }, "e2e-campus.toml")
    server = HubServer(config).start()
    assert server.services.ingest.connected.wait(10), server.services.ingest.last_error
    seed_campus(server.services.writer)
    yield server
    server.stop()


def test_an_alert_in_the_building_shows_on_the_campus_page_once(fed, campus_hub, browser):
    node = fed.node("a101")
    ingest = campus_hub.services.ingest
    deadline = time.monotonic() + 20
    while ingest.received == 0:                  # the bridge is up once the status crosses
        node.status("online")
        assert time.monotonic() < deadline, "the bridge carried no status within 20 s"
        time.sleep(0.5)
    base = f"http://127.0.0.1:{campus_hub.port}"
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    login(page, base, "dean", PASSWORD)                       # the dean of main
    page.goto(f"{base}/campus/")
    page.wait_for_selector('.room-tile[data-room="main/a101"][data-high="0"]')
    page.wait_for_timeout(500)                                # the page's stream is open
    latencies = []
    for i in range(5):
        t0 = time.perf_counter()
        node.alert()
        page.wait_for_selector(f'.room-tile[data-room="main/a101"][data-high="{i + 1}"]',
                               timeout=10_000)
        latencies.append(time.perf_counter() - t0)
    campus_hub.services.writer.call(lambda conn: None)
    page.goto(f"{base}/campus/incidents.json")
    data = page.evaluate("() => JSON.parse(document.body.innerText)")
    ids = [a["alert_id"] for a in data["incidents"]]
    assert len(ids) == len(set(ids)) == 5
    assert all(a["evidence_url"] == f"{HUBS['main']}/evidence/alert/{a['alert_id']}"
               for a in data["incidents"])
    assert ingest.invalid == 0
    latencies.sort()
    print(f"\nbuilding publish -> bridge -> campus broker -> campus hub -> Chromium tile: "
          f"median {latencies[2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms "
          f"over {len(latencies)} alerts")
    assert latencies[-1] < 2.0
