"""The done-when test of enrolment: a real TLS mosquitto configured by the provisioning
code, the hub connected to it with its certificate, and a technician in headless Chromium
who adds a node, downloads its one-time bundle, and sees the real edge node started with it
come online; then aims the camera (snapshot), draws a seat and pushes the map to the node,
and revokes the node. Screenshots go to var/screenshots/."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w
from playwright.sync_api import expect, sync_playwright

from hub.config import parse_config
from hub.server import HubServer
from kuzet_tools.broker import MosquittoBroker
from kuzet_tools.examples import VTEST, grid_seat_map
from provisioning.service import install_bundle
from tests.support.hub_browser import launch, login, screenshot
from tests.support.hub_env import PASSWORD, SECRET, seed
from tests.support.pki import provisioned_broker

pytestmark = pytest.mark.integration     # a TLS mosquitto, Chromium, a node

ROOT = Path(__file__).resolve().parents[1]
NODE = "main/a101/cam1"


@pytest.fixture
def tls_broker(tmp_path):
    """The building's PKI and a mosquitto using the config ``kuzet provision init`` wrote."""
    with provisioned_broker(tmp_path) as (_, broker, pki):
        yield broker, pki


def hub_config(tmp_path: Path, broker: MosquittoBroker, pki: Path):
    return parse_config({
        "hub": {"data_dir": str(tmp_path / "hub"), "timezone": "Asia/Almaty"},
        "web": {"host": "127.0.0.1", "port": 0, "secret_key": SECRET, "cookie_secure": False,
                "threads": 16},
        "broker": {"host": "127.0.0.1", "port": broker.port, "ca_file": str(pki / "ca.crt"),
                   "cert_file": str(pki / "hub.crt"), "key_file": str(pki / "hub.key")},
        "liveness": {"heartbeat_timeout_s": 10},
        "provisioning": {"enabled": True, "pki_dir": str(pki),
                         "node_broker_host": "127.0.0.1", "node_broker_port": broker.port,
                         "reload_command": f"kill -HUP {broker.proc.pid}"},
    }, "test-hub.toml")


@pytest.fixture
def hub(tmp_path, tls_broker):
    broker, pki = tls_broker
    server = HubServer(hub_config(tmp_path, broker, pki)).start()
    assert server.services.ingest.connected.wait(10), server.services.ingest.last_error
    seed(server.services.writer)
    yield server
    server.stop()


def prepare_node(folder: Path) -> Path:
    """The bundle's node.toml with the camera replaced by real footage, and a seat map."""
    path = folder / "node.toml"
    cfg = tomllib.loads(path.read_text())
    cfg["source"] = {"type": "opencv", "uri": str(VTEST), "loop": True, "fps": 10}
    cfg["node"]["data_dir"] = str(folder / "data")
    cfg["heartbeat_s"] = 2.0
    path.write_text(tomli_w.dumps(cfg))
    seats = grid_seat_map(3, 2, 768, 576, region=(0.0, 130.0, 768.0, 330.0), room="a101")
    (folder / "seats.json").write_text(json.dumps(seats.model_dump(mode="json")))
    return path


def reload_until(page, predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.reload()
        if predicate():
            return True
        time.sleep(1)
    return False


def test_enrol_a_node_from_the_browser_and_see_it_online(hub, tmp_path):
    base = f"http://127.0.0.1:{hub.port}"
    node_dir = tmp_path / "node"
    proc = None
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900},
                                accept_downloads=True)
        try:
            login(page, base, "tech", PASSWORD)
            page.goto(f"{base}/tech/")
            form = page.locator("form.add-node")
            form.locator("input[name=building]").fill("main")
            form.locator("input[name=room]").fill("a101")
            form.locator("input[name=name]").fill("cam1")
            form.locator("button[type=submit]").click()
            row = page.locator(f'tr[data-node="{NODE}"]')
            expect(row).to_be_visible()
            with page.expect_download() as dl:
                row.locator("button.enrol").click()
            bundle = Path(dl.value.path()).read_bytes()
            assert dl.value.suggested_filename == "kuzet-main-a101-cam1.tar.gz"
            install_bundle(bundle, node_dir)

            log = tmp_path / "node.log"
            with open(log, "ab") as fh:
                proc = subprocess.Popen([sys.executable, "-m", "kuzet_tools.cli", "edge", "run",
                                         "--config", str(prepare_node(node_dir))],
                                        cwd=ROOT, stdout=fh, stderr=fh)
            page.goto(f"{base}/tech/")
            online = reload_until(page, lambda: "online" in (
                row.get_attribute("class") or ""), 40)
            assert online, log.read_text()[-3000:]
            screenshot(page, "technician-node-online")

            # Aim the camera and draw one seat over the snapshot; the node loads the map.
            row.locator("a.camera").click()
            expect(page.locator("#seat-count")).to_have_text("15")    # the room's stored map
            assert "Нұрланқызы" not in page.content()                  # no student names
            page.locator("#snap").click()
            expect(page.locator("#snapshot")).to_be_visible(timeout=15_000)
            page.locator("#new-seat").click()
            svg = page.locator("#seats")
            box = svg.bounding_box()
            for fx, fy in ((0.2, 0.3), (0.4, 0.3), (0.4, 0.6), (0.2, 0.6)):
                svg.click(position={"x": fx * box["width"], "y": fy * box["height"]})
            page.locator("#seat-id").fill("extra1")
            page.locator("#close-seat").click()
            expect(page.locator('#seats polygon[data-seat="extra1"]')).to_be_visible()
            page.locator("#save").click()
            expect(page.locator("#editor-status")).to_contain_text("(16 ", timeout=15_000)
            screenshot(page, "technician-seatmap-editor")
            pushed = json.loads((node_dir / "data" / "seats.pushed.json").read_text())
            assert len(pushed["seats"]) == 16 and pushed["seats"][-1]["id"] == "extra1"
            assert all(s.get("student") is None for s in pushed["seats"])   # names stay on the hub
            stored = hub.app.extensions["kuzet"].writer.call(
                lambda c: c.execute("SELECT seatmap FROM rooms WHERE room='a101'").fetchone())
            assert "Нұрланқызы" in stored[0]                           # kept on save

            # Revoke, with confirmation: the registry says so and the page shows it.
            page.goto(f"{base}/tech/")
            row.locator("a.revoke").click()
            page.locator("input[name=confirm]").fill(NODE)
            page.locator("form.revoke-confirm button[type=submit]").click()
            expect(row.locator("a.revoke")).to_have_count(0)
            prov = hub.app.extensions["kuzet_provisioning"]
            assert prov.device(NODE).status == "revoked"
            screenshot(page, "technician-node-revoked")
        finally:
            browser.close()
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=15)
