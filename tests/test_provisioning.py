"""Provisioning against a real mosquitto configured by the provisioning code: TLS with client
certificates, per-device ACLs, enrolment and revocation."""

from __future__ import annotations

import ssl
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kuzet.errors import KuzetError
from provisioning.ca import CertificateAuthority
from provisioning.registry import RegistryError
from provisioning.service import Provisioner, install_bundle
from tests.support.pki import provisioned_broker


class Client:
    """A paho client with a certificate, recording what happens to it."""

    def __init__(self, port: int, ca: str, cert: str | None, key: str | None,
                 client_id: str = "") -> None:
        self.events: list[tuple] = []
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.acks: dict[int, int] = {}
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5)
        if ca:
            self.c.tls_set(ca_certs=ca, certfile=cert, keyfile=key,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc.value)
        self.c.reconnect_delay_set(0.2, 0.5)
        self.port = port

    def _on_connect(self, c, u, f, rc, p) -> None:
        if not rc.is_failure:
            self.connected.set()

    def start(self) -> Client:
        try:
            self.c.connect("127.0.0.1", self.port)
        except (ssl.SSLError, OSError) as exc:
            self.events.append(("error", str(exc)))
            return self
        self.c.loop_start()
        return self

    def publish(self, topic: str) -> int:
        info = self.c.publish(topic, b"{}", qos=1)
        deadline = time.monotonic() + 5
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.acks.get(info.mid, -1)

    def subscribe(self, topic: str) -> int:
        """The SUBACK's reason code: the granted QoS, or 135 when not authorised."""
        got: list[int] = []
        done = threading.Event()

        def on_subscribe(c, u, mid, codes, p):
            got.extend(code.value for code in codes)
            done.set()

        self.c.on_subscribe = on_subscribe
        self.c.subscribe(topic, qos=1)
        return got[0] if done.wait(5) else -1

    def stop(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def tls_broker(tmp_path):
    """The building's PKI and a real mosquitto running its TLS config (an integration
    fixture: tests/support/tiers.py)."""
    with provisioned_broker(tmp_path) as (prov, broker, _):
        yield prov, broker, tmp_path


def enrol(prov: Provisioner, tmp_path, node_id: str):
    prov.add_node(node_id)
    bundle = prov.enrol(node_id, hub_host="127.0.0.1")
    dest = tmp_path / node_id.replace("/", "-")
    install_bundle(bundle.data, dest)
    return dest


def node_client(prov, dest, client_id="") -> Client:
    return Client(prov.broker_port, str(dest / "ca.crt"), str(dest / "node.crt"),
                  str(dest / "node.key"), client_id).start()


OK, DENIED = 0, 135       # PUBACK reason codes: success (no subscribers is 16), not authorised


def test_an_enrolled_node_publishes_only_under_its_own_topics(tls_broker):
    prov, broker, tmp = tls_broker
    a = enrol(prov, tmp, "main/a101/cam1")
    enrol(prov, tmp, "main/a102/cam1")
    node = node_client(prov, a)
    assert node.connected.wait(10), node.events
    assert node.publish("kuzet/v1/main/a101/cam1/alert") in (0, 16)
    assert node.publish("kuzet/v1/main/a102/cam1/alert") == DENIED     # another node's topic
    assert node.publish("kuzet/v1/main/a101/cam1/cmd") == DENIED       # only the hub commands
    assert node.subscribe("kuzet/v1/main/a101/cam1/cmd") == 1          # granted QoS 1
    assert node.subscribe("kuzet/v1/#") == DENIED                      # no reading the others
    node.stop()


def test_plain_tcp_and_foreign_certificates_are_refused(tls_broker, tmp_path):
    prov, broker, tmp = tls_broker
    plain = Client(prov.broker_port, "", None, None)
    plain.start()
    assert not plain.connected.wait(3)
    plain.stop()
    other_ca = CertificateAuthority.create(tmp_path / "rogue")
    issued = other_ca.issue("node.main.a101.cam1")           # the right name, the wrong CA
    (tmp_path / "rogue.crt").write_bytes(issued.cert_pem)
    (tmp_path / "rogue.key").write_bytes(issued.key_pem)
    rogue = Client(prov.broker_port, str(tmp_path / "pki" / "ca.crt"),
                   str(tmp_path / "rogue.crt"), str(tmp_path / "rogue.key")).start()
    assert not rogue.connected.wait(3)
    rogue.stop()


def test_a_node_cannot_take_over_another_nodes_session(tls_broker):
    prov, broker, tmp = tls_broker
    a = enrol(prov, tmp, "main/a101/cam1")
    b = enrol(prov, tmp, "main/a102/cam1")
    victim = node_client(prov, b)
    assert victim.connected.wait(10)
    thief = node_client(prov, a, client_id="node.main.a102.cam1")   # the victim's client id
    assert thief.connected.wait(10)
    time.sleep(1)
    assert not victim.disconnected.is_set()        # the broker used the thief's own name
    assert thief.publish("kuzet/v1/main/a102/cam1/alert") == DENIED
    victim.stop()
    thief.stop()


def test_a_revoked_node_is_cut_off_at_once_and_cannot_reconnect(tls_broker):
    prov, broker, tmp = tls_broker
    a = enrol(prov, tmp, "main/a101/cam1")
    node = node_client(prov, a)
    assert node.connected.wait(10)
    node.connected.clear()
    prov.revoke("main/a101/cam1")
    assert node.disconnected.wait(5)                # dropped at once
    assert not node.connected.wait(3)               # and its reconnects are refused
    node.stop()
    again = node_client(prov, a)
    assert not again.connected.wait(3)
    again.stop()
    assert prov.registry.get("main/a101/cam1").status == "revoked"


def test_re_enrolment_revokes_the_old_certificate(tls_broker):
    prov, broker, tmp = tls_broker
    old = enrol(prov, tmp, "main/a101/cam1")
    bundle = prov.enrol("main/a101/cam1", hub_host="127.0.0.1")
    new = tmp / "new"
    install_bundle(bundle.data, new)
    fresh = node_client(prov, new)
    assert fresh.connected.wait(10)
    assert fresh.publish("kuzet/v1/main/a101/cam1/status") in (0, 16)
    stale = node_client(prov, old)
    assert not stale.connected.wait(3)
    fresh.stop()
    stale.stop()


def test_the_bundle_is_a_valid_node_config_with_a_private_key(tls_broker):
    from edge.config import load_config

    prov, broker, tmp = tls_broker
    dest = enrol(prov, tmp, "main/a101/cam1")
    assert (dest / "node.key").stat().st_mode & 0o777 == 0o600
    cfg = load_config(dest / "node.toml")
    assert cfg.broker.cert_file == dest / "node.crt" and cfg.broker.port == prov.broker_port
    assert cfg.origin.room == "a101"


def test_enrolment_codes_are_single_use_and_expire(tls_broker):
    prov, broker, tmp = tls_broker
    prov.add_node("main/a101/cam1")
    code = prov.registry.new_code("main/a101/cam1")
    assert prov.registry.redeem_code(code).name == "cam1"
    with pytest.raises(RegistryError, match="already used"):
        prov.registry.redeem_code(code)
    late = prov.registry.new_code("main/a101/cam1", ttl_s=-1)
    with pytest.raises(RegistryError, match="expired"):
        prov.registry.redeem_code(late)


def test_the_technicians_commands(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pki_dir = tmp_path / "pki"

    def kuzet(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kuzet_tools.cli", "provision", "--dir",
                               str(pki_dir), *args], cwd=root, capture_output=True, text=True,
                              timeout=60)

    assert kuzet("init", "--broker-name", "hub.local").returncode == 0
    assert "refusing to replace" in kuzet("init", "--broker-name", "x").stderr
    assert kuzet("add", "main/a101/cam1").returncode == 0
    bad = kuzet("add", "main/a 101/cam1")
    assert bad.returncode == 2 and "building/room/name" in bad.stderr
    bundle = tmp_path / "cam1.tar.gz"
    out = kuzet("enrol", "main/a101/cam1", "--hub-host", "hub.local", "--out", str(bundle),
                "--offline")
    assert out.returncode == 0, out.stderr
    assert "main/a101/cam1" in kuzet("list").stdout and "enrolled" in kuzet("list").stdout
    assert kuzet("install", str(bundle), "--to", str(tmp_path / "etc")).returncode == 0
    assert (tmp_path / "etc" / "node.key").stat().st_mode & 0o777 == 0o600
    unreachable = kuzet("--broker-port", "1", "--reload-cmd", "true", "revoke",
                        "main/a101/cam1")
    assert unreachable.returncode == 2 and "cannot reach the broker" in unreachable.stderr


def test_the_technicians_tools_do_not_take_over_the_hubs_session(tls_broker):
    prov, broker, tmp = tls_broker
    hub = Client(prov.broker_port, **{"ca": prov.hub_tls()["ca_certs"],
                                      "cert": prov.hub_tls()["certfile"],
                                      "key": prov.hub_tls()["keyfile"]}).start()
    assert hub.connected.wait(10)
    enrol(prov, tmp, "main/a101/cam1")             # the CLI talks to the broker meanwhile
    prov.revoke("main/a101/cam1")
    time.sleep(0.5)
    assert not hub.disconnected.is_set()
    hub.stop()


def test_the_broker_keeps_more_than_a_thousand_messages_for_the_hub_while_it_is_away(tls_broker):
    """Mosquitto's default queue (1000 per client) would drop alerts the nodes already
    deleted on PUBACK; the generated config keeps them all for the hub's session."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    prov, broker, tmp = tls_broker
    tls = prov.hub_tls()
    received: list[bytes] = []
    subscribed = threading.Event()

    def hub_session() -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hub", protocol=mqtt.MQTTv5)
        c.tls_set(**tls, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.on_message = lambda cl, u, m: received.append(m.payload)
        c.on_subscribe = lambda *a: subscribed.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        c.connect("127.0.0.1", prov.broker_port, clean_start=False, properties=props)
        c.loop_start()
        return c

    hub = hub_session()
    hub.subscribe("kuzet/v1/#", qos=1)
    assert subscribed.wait(10)
    hub.disconnect()
    hub.loop_stop()

    node = node_client(prov, enrol(prov, tmp, "main/a101/cam1"))
    assert node.connected.wait(10)
    sent = 1500
    for i in range(sent):
        node.c.publish("kuzet/v1/main/a101/cam1/alert", str(i).encode(), qos=1)
    deadline = time.monotonic() + 30
    while len(node.acks) < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(node.acks) == sent                  # the broker accepted every one
    node.stop()

    hub = hub_session()                            # back: the session's queue is delivered
    deadline = time.monotonic() + 30
    while len(received) < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    hub.disconnect()
    hub.loop_stop()
    assert sorted(int(p) for p in received) == list(range(sent))


def fails_once_then_hups(tmp_path, broker) -> str:
    """A reload command that fails the first time it runs, then reloads the broker."""
    flag = tmp_path / "reload-failed-once"
    script = tmp_path / "reload.sh"
    script.write_text(f"#!/bin/sh\nif [ -e {flag} ]; then exec kill -HUP {broker.proc.pid}; fi\n"
                      f"touch {flag}\necho 'mosquitto.service: reload failed' >&2\nexit 1\n")
    script.chmod(0o755)
    return str(script)


def test_a_failed_broker_reload_does_not_leave_the_revoked_node_publishing(tls_broker):
    """The reload fails once: the node is cut off all the same, the reload is retried, and
    once the revoke has finished the node can neither publish nor reconnect."""
    from provisioning.service import command_reload

    prov, broker, tmp = tls_broker
    a = enrol(prov, tmp, "main/a101/cam1")
    node = node_client(prov, a)
    assert node.connected.wait(10)
    assert node.publish("kuzet/v1/main/a101/cam1/alert") in (0, 16)
    prov.reload_broker = command_reload(fails_once_then_hups(tmp, broker))
    prov.reload_retry_s = 0.1
    done = prov.revoke("main/a101/cam1")
    assert done.complete and not done.already, done.problems
    assert len(done.retried) == 1 and "reload failed" in done.retried[0]
    assert node.disconnected.wait(5)
    assert node.publish("kuzet/v1/main/a101/cam1/alert") not in (0, 16)
    node.stop()
    again = node_client(prov, a)
    assert not again.connected.wait(3)               # the reloaded CRL refuses it
    again.stop()
    with pytest.raises(KuzetError, match="revoked"):
        prov.enrol("main/a101/cam1", hub_host="127.0.0.1")


def test_a_revoke_whose_reload_keeps_failing_still_cuts_the_node_off_and_can_be_repeated(
        tls_broker):
    from provisioning.service import command_reload

    prov, broker, tmp = tls_broker
    a = enrol(prov, tmp, "main/a101/cam1")
    node = node_client(prov, a)
    assert node.connected.wait(10)
    prov.reload_broker = command_reload("false")
    prov.reload_retry_s = 0.05
    half = prov.revoke("main/a101/cam1")
    assert not half.complete and "did not reload" in half.problems[0]
    assert len(half.retried) == 3
    assert prov.registry.get("main/a101/cam1").status == "revoked"
    assert node.disconnected.wait(5)
    # Its certificate still verifies (the CRL is not loaded yet), but it has no account left:
    # a reconnect gets nothing published.
    assert node.publish("kuzet/v1/main/a101/cam1/alert") not in (0, 16)
    node.stop()
    prov.reload_broker = broker.reload              # the broker's reload works again
    done = prov.revoke("main/a101/cam1")
    assert done.already and done.complete, done.problems
    assert prov.revoke("main/a101/cam1").complete    # and once more: harmless
    again = node_client(prov, a)
    assert not again.connected.wait(3)
    again.stop()
