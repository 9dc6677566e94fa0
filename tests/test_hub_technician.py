"""The technician's enrolment pages and the Pi's code endpoint, against a real TLS mosquitto
configured by the provisioning code (the hub connected with its own certificate)."""

from __future__ import annotations

import io
import tarfile

import pytest

from hub.services import HubServices
from hub.web.app import create_app
from hub.web.enrolment import RateLimit
from provisioning.service import install_bundle
from tests.support.hub_env import PASSWORD, csrf_from, login, make_config, seed
from tests.test_enrolment_browser import hub_config, tls_broker  # noqa: F401  (fixture)
from tests.test_provisioning import node_client

NODE = "main/a101/cam1"


@pytest.fixture
def tech(tmp_path, tls_broker):  # noqa: F811
    broker, pki = tls_broker
    config = hub_config(tmp_path, broker, pki)
    services = HubServices(config).start(ingest=True)
    assert services.ingest.connected.wait(10), services.ingest.last_error
    seed(services.writer)
    app = create_app(config, services)
    app.config["TESTING"] = True
    yield app, app.test_client(), app.extensions["kuzet_provisioning"]
    services.stop()


def add(client, token, building="main", room="a101", name="cam1"):
    return client.post("/tech/nodes", data={"building": building, "room": room, "name": name,
                                            "csrf_token": token})


def audit_actions(app) -> list[str]:
    return [r[0] for r in app.extensions["kuzet"].writer.call(
        lambda c: c.execute("SELECT action FROM audit ORDER BY id").fetchall())]


def test_only_technicians_reach_the_pages_and_forms_need_csrf(tech):
    app, client, prov = tech
    assert client.get("/tech/").status_code == 302               # to the login page
    for user in ("aigerim", "dean", "admin"):
        token = login(client, user)
        assert client.get("/tech/").status_code == 403
        assert add(client, token).status_code == 403
        client.post("/logout", data={"csrf_token": token})
    token = login(client, "tech")
    assert client.post("/tech/nodes", data={"building": "main", "room": "a101",
                                            "name": "cam1"}).status_code == 400
    assert add(client, token).status_code == 302
    assert add(client, token, name="bad name").status_code == 302     # refused, flashed
    assert [d.node_id for d in prov.devices()] == [NODE]
    assert "node.add" in audit_actions(app)


def test_bundle_download_and_one_time_code(tech, tmp_path):
    app, client, prov = tech
    token = login(client, "tech")
    add(client, token)
    r = client.post(f"/tech/nodes/{NODE}/enrol", data={"csrf_token": token})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert "kuzet-main-a101-cam1.tar.gz" in r.headers["Content-Disposition"]
    names = tarfile.open(fileobj=io.BytesIO(r.data)).getnames()
    assert sorted(names) == ["ca.crt", "node.crt", "node.key", "node.toml"]
    first_serial = prov.device(NODE).serial

    page = client.post(f"/tech/nodes/{NODE}/code", data={"csrf_token": token}).text
    code = page.split('id="enrol-code">')[1].split("<")[0]
    anonymous = app.test_client()                      # the Pi: no session, no CSRF token
    got = anonymous.post("/enrol/fetch", data={"code": code})
    assert got.status_code == 200, got.text
    install_bundle(got.data, tmp_path / "pi")
    assert prov.device(NODE).serial != first_serial    # a re-enrolment: new certificate
    assert anonymous.post("/enrol/fetch", data={"code": code}).status_code == 403  # used
    node = node_client(prov.prov, tmp_path / "pi")
    assert node.connected.wait(10)
    node.stop()
    actions = audit_actions(app)
    assert {"node.enrol", "node.code", "node.fetch", "node.fetch.refused"} <= set(actions)


def test_revoke_needs_confirmation_and_cuts_the_node_off(tech, tmp_path):
    app, client, prov = tech
    token = login(client, "tech")
    add(client, token)
    bundle = client.post(f"/tech/nodes/{NODE}/enrol", data={"csrf_token": token}).data
    install_bundle(bundle, tmp_path / "pi")
    node = node_client(prov.prov, tmp_path / "pi")
    assert node.connected.wait(10)
    assert NODE in client.get(f"/tech/nodes/{NODE}/revoke").text
    client.post(f"/tech/nodes/{NODE}/revoke", data={"csrf_token": token, "confirm": "no"})
    assert prov.device(NODE).status == "enrolled"
    client.post(f"/tech/nodes/{NODE}/revoke", data={"csrf_token": token, "confirm": NODE})
    assert prov.device(NODE).status == "revoked"
    assert node.disconnected.wait(5)
    node.connected.clear()
    assert not node.connected.wait(3)                  # its reconnects are refused
    node.stop()
    r = client.post(f"/tech/nodes/{NODE}/enrol", data={"csrf_token": token})
    assert r.status_code == 302                        # a revoked node is not enrolled again
    assert "node.revoke" in audit_actions(app)


def printed_line(app, base_url: str) -> str:
    """The enrolment curl line on the one-time code page, the page asked for at ``base_url``
    (over plain HTTP: the hub is not behind its TLS front in these tests)."""
    client = app.test_client()
    token = csrf_from(client.get("/login", base_url=base_url).text)
    client.post("/login", data={"username": "tech", "password": PASSWORD,
                                "csrf_token": token}, base_url=base_url)
    token = csrf_from(client.get("/tech/", base_url=base_url).text)
    client.post("/tech/nodes", data={"building": "main", "room": "a101", "name": "cam1",
                                     "csrf_token": token}, base_url=base_url)
    page = client.post(f"/tech/nodes/{NODE}/code", data={"csrf_token": token},
                       base_url=base_url).text
    return next(line for line in page.splitlines() if line.startswith("curl "))


def test_the_printed_enrolment_line_is_https_only_beyond_a_loopback_demo(tech):
    app, _client, _prov = tech
    # reached by a name (a front the config does not know of): HTTPS, and curl held to it
    line = printed_line(app, "http://hub.local")
    assert "https://hub.local/enrol/fetch" in line
    assert "--proto '=https'" in line and "--cacert ca.crt" in line
    # the loopback demo hub, asked on loopback: plain HTTP, where the code never leaves
    demo = printed_line(app, "http://127.0.0.1:8080")
    assert "http://127.0.0.1:8080/enrol/fetch" in demo and "--proto" not in demo


def test_code_fetching_is_rate_limited(tech):
    app, client, prov = tech
    anonymous = app.test_client()
    codes = [anonymous.post("/enrol/fetch", data={"code": f"guess-{i}"}).status_code
             for i in range(12)]
    assert codes[:10] == [403] * 10 and codes[10:] == [429, 429]


def test_rate_limit_window():
    limit = RateLimit(per_key=2, total=3, window_s=10)
    assert limit.allow("a", 0) and limit.allow("a", 1) and not limit.allow("a", 2)
    assert limit.allow("b", 2) and not limit.allow("c", 3)         # the total is reached
    assert limit.allow("a", 11.5)                                  # the window moved on


def test_without_provisioning_the_page_shows_health_only(tmp_path):
    services = HubServices(make_config(tmp_path)).start(ingest=False)
    try:
        seed(services.writer)
        client = create_app(make_config(tmp_path), services).test_client()
        assert client.post("/enrol/fetch", data={"code": "x"}).status_code == 404
        token = login(client, "tech")
        page = client.get("/tech/").text
        assert "add-node" not in page and csrf_from(page) == token
        assert client.get(f"/tech/nodes/{NODE}/seatmap").status_code == 404
    finally:
        services.stop()


def test_the_hubs_own_disk_problem_shows_on_the_devices_page(client, services, seeded):
    from tests.support.hub_env import login as log_in

    banner = "Хаб келген деректерді сақтай алмай тұр"            # Kazakh, the default
    log_in(client, "tech")
    assert banner not in client.get("/tech/").text
    services.writer.disk_problem = "cannot write: database or disk is full"
    page = client.get("/tech/").text
    assert banner in page and "database or disk is full" in page
