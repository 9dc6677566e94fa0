"""The CA key lives in the signer service alone: it issues only node certificates for node ids
in the registry, and the hub's enrolment (a real hub and broker) never opens ``ca.key``."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from hub.config import parse_config
from hub.services import HubServices
from hub.web.app import create_app
from provisioning.ca import CertificateAuthority
from provisioning.registry import DeviceRegistry
from provisioning.service import install_bundle
from provisioning.signer import Signer, SignerError
from provisioning.signer_service import SignerClient, SignerService
from tests.support.hub_env import SECRET, login, seed
from tests.support.pki import provisioned_broker
from tests.test_provisioning import node_client

ROOT = Path(__file__).resolve().parents[1]
NODE = "main/a101/cam1"


@pytest.fixture
def signer_socket(tmp_path):
    """A CA, a registry with one node and one revoked node, and the signer on a socket."""
    CertificateAuthority.create(tmp_path / "ca")
    registry = DeviceRegistry(tmp_path / "devices.db")
    registry.add(NODE)
    registry.add("main/a101/old")
    registry.revoke("main/a101/old")
    service = SignerService(Signer(CertificateAuthority(tmp_path / "ca"),
                                   DeviceRegistry(tmp_path / "devices.db", readonly=True)),
                            tmp_path / "signer.sock")
    thread = threading.Thread(target=service.serve_forever, daemon=True)
    thread.start()
    yield tmp_path / "signer.sock"
    service.shutdown()
    service.server_close()


def raw(sock: Path, request: object) -> dict:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        s.sendall(json.dumps(request).encode() + b"\n")
        return json.loads(s.makefile("rb").readline())


def test_the_signer_issues_a_node_client_certificate_for_a_registered_node(signer_socket):
    issued = SignerClient(signer_socket).issue(NODE)
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert cert.subject.rfc4514_string() == "CN=node.main.a101.cam1"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.parametrize("request_, why", [
    ({"op": "issue", "node": "main/a101/ghost"}, "no node"),            # not registered
    ({"op": "issue", "node": "main/a101/old"}, "revoked"),               # revoked
    ({"op": "issue", "node": "../../etc"}, "building/room/name"),
    ({"op": "issue", "node": NODE, "common_name": "hub"}, "exactly"),    # no name of its own
    ({"op": "issue", "node": NODE, "server_names": ["hub.local"]}, "exactly"),
    ({"op": "sign", "csr": "-----BEGIN CERTIFICATE REQUEST-----"}, "only issues"),
    ({"op": "issue", "node": ["main/a101/cam1"]}, "exactly"),
    ({"op": "revoke", "node": "main/a101/ghost"}, "no node"),
    (["issue", NODE], "only issues"),
])
def test_the_signer_refuses_anything_but_a_registered_node_id(signer_socket, request_, why):
    reply = raw(signer_socket, request_)
    assert reply["ok"] is False and why in reply["error"], reply


def test_garbage_and_oversized_requests_are_refused(signer_socket):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(signer_socket))
        s.sendall(b"x" * 10_000 + b"\n")
        assert json.loads(s.makefile("rb").readline())["ok"] is False
    with pytest.raises(SignerError, match="not a JSON request|only issues"):
        SignerClient(signer_socket).ask("not json")      # type: ignore[arg-type]


def test_provisioning_through_the_signer_needs_no_ca_key_of_its_own(signer_socket, tmp_path):
    """What the hub and ``kuzet provision --signer`` do: a folder without ca.key."""
    from provisioning.service import Provisioner

    bare = tmp_path / "bare"
    bare.mkdir()
    prov = Provisioner(bare, signer=SignerClient(signer_socket),
                       registry=tmp_path / "devices.db")
    bundle = prov.enrol(NODE, hub_host="hub.local", live=False)
    install_bundle(bundle.data, tmp_path / "pi")
    assert (tmp_path / "pi" / "ca.crt").read_bytes() == \
        (tmp_path / "ca" / "ca.crt").read_bytes()
    assert prov.revoke(NODE, live=False).complete
    assert int(bundle.device.serial) in CertificateAuthority(tmp_path / "ca").revoked()
    assert list(bare.iterdir()) == []


def opens_of(name: str) -> tuple[list[str], threading.Event]:
    """Every path ending in ``name`` this process opens while the returned event is set."""
    seen: list[str] = []
    watching = threading.Event()

    def hook(event: str, args: tuple) -> None:
        if event == "open" and watching.is_set() and str(args[0]).endswith(name):
            seen.append(str(args[0]))

    sys.addaudithook(hook)
    return seen, watching


@pytest.fixture
def tls_broker(tmp_path):
    """The building's PKI and a real mosquitto running the TLS config it wrote."""
    with provisioned_broker(tmp_path) as (prov, broker, pki):
        yield broker, pki


def hub_with(tmp_path: Path, broker, hub_pki: Path, **provisioning):
    config = parse_config({
        "hub": {"data_dir": str(tmp_path / "hub"), "timezone": "Asia/Almaty"},
        "web": {"host": "127.0.0.1", "port": 0, "secret_key": SECRET, "cookie_secure": False},
        "broker": {"host": "127.0.0.1", "port": broker.port,
                   "ca_file": str(hub_pki / "ca.crt"), "cert_file": str(hub_pki / "hub.crt"),
                   "key_file": str(hub_pki / "hub.key")},
        "provisioning": {"enabled": True, "pki_dir": str(hub_pki),
                         "node_broker_host": "127.0.0.1", "node_broker_port": broker.port,
                         "reload_command": f"kill -HUP {broker.proc.pid}", **provisioning},
    }, "test-hub.toml")
    services = HubServices(config).start(ingest=True)
    assert services.ingest.connected.wait(10), services.ingest.last_error
    seed(services.writer)
    app = create_app(config, services)
    app.config["TESTING"] = True
    return app, services


def enrol_through_the_page(app) -> bytes:
    client = app.test_client()
    token = login(client, "tech")
    b, r, n = NODE.split("/")
    client.post("/tech/nodes", data={"building": b, "room": r, "name": n,
                                     "csrf_token": token})
    got = client.post(f"/tech/nodes/{NODE}/enrol", data={"csrf_token": token})
    assert got.status_code == 200, got.text
    return got.data


def test_the_hubs_enrolment_never_opens_the_ca_key(tmp_path, tls_broker):
    """The hub's folder holds its own certificate and the CA's certificate, no CA key; the
    signer, a separate process, is the only reader of ca.key. The node enrolled this way
    connects to the real broker, and its revocation (also through the signer) cuts it off."""
    broker, signer_dir = tls_broker
    hub_pki = tmp_path / "hub-pki"
    hub_pki.mkdir()
    for name in ("ca.crt", "hub.crt", "hub.key"):
        shutil.copy(signer_dir / name, hub_pki / name)
    registry = tmp_path / "hub" / "devices.db"
    sock = tmp_path / "signer.sock"
    seen, watching = opens_of("ca.key")
    watching.set()
    app, services = hub_with(tmp_path, broker, hub_pki, signer_socket=str(sock),
                             registry_file=str(registry))
    signer = subprocess.Popen([sys.executable, "-m", "kuzet_tools.cli", "provision", "--dir",
                               str(signer_dir), "--registry", str(registry), "signer",
                               "--socket", str(sock)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert "listening" in signer.stdout.readline()
        bundle = enrol_through_the_page(app)
        install_bundle(bundle, tmp_path / "pi")
        node = node_client(app.extensions["kuzet_provisioning"].prov, tmp_path / "pi")
        assert node.connected.wait(10)
        client = app.test_client()
        token = login(client, "tech")
        client.post(f"/tech/nodes/{NODE}/revoke", data={"csrf_token": token, "confirm": NODE})
        assert node.disconnected.wait(5)
        node.stop()
        time.sleep(0.5)
        again = node_client(app.extensions["kuzet_provisioning"].prov, tmp_path / "pi")
        assert not again.connected.wait(3)               # the signer's CRL refuses it
        again.stop()
        watching.clear()
        assert seen == []                                # not once, not anywhere
        assert not (hub_pki / "ca.key").exists()
    finally:
        watching.clear()
        signer.terminate()
        signer.wait(10)
        signer.stdout.close()
        services.stop()


def test_without_a_signer_the_hub_signs_itself_and_that_is_seen(tmp_path, tls_broker):
    """The control for the test above: the old way, the hub's process reads ca.key."""
    broker, pki = tls_broker
    seen, watching = opens_of("ca.key")
    watching.set()
    app, services = hub_with(tmp_path, broker, pki)
    try:
        enrol_through_the_page(app)
    finally:
        watching.clear()
        services.stop()
    assert seen and all(path.endswith("ca.key") for path in seen)
