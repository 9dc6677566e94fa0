"""Federation with two real mosquittos: the building's broker (its `kuzet provision init`
config, nodes with their certificates) bridges to the campus broker (`campus-init`,
`campus-add`, `bridge`) over TLS through a link the test can cut. Figures are printed
(run with -s to see them)."""

from __future__ import annotations

import json
import socket
import ssl
import time

import pytest

from kuzet import contract
from tests.support.campus import Delivery, Federation, TlsClient, Traffic
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def fed(tmp_path):
    f = Federation(tmp_path)
    yield f
    f.close()


def link_up(campus, node, timeout: float = 15.0) -> bool:
    """The bridge carries: a node's status reaches the campus."""
    node.status("online")
    return campus.wait_for(lambda m: any(
        t == f"campus/v1/main/{node.origin.room}/{node.origin.node}/status" for t, _, _ in m),
        timeout)


def test_only_status_and_alert_cross_remapped_under_the_building(fed):
    campus = fed.campus_hub()
    node = fed.node("a101")
    hub_cmd = TlsClient(fed.building.port, {"ca_certs": str(fed.prov.folder / "ca.crt"),
                                            "certfile": str(fed.prov.folder / "admin.crt"),
                                            "keyfile": str(fed.prov.folder / "admin.key")})
    o = node.origin
    # what must stay in the building goes first: it would arrive before the alert
    node.client.publish(contract.topic(o, "evidence"), b'{"evidence": 1}')
    node.client.publish(contract.topic(o, "heartbeat"), b'{"heartbeat": 1}')
    node.client.publish(contract.topic(o, "reply"), b'{"reply": 1}')
    hub_cmd.publish(contract.topic(o, "cmd"), b'{"cmd": 1}')
    node.status("online")
    alert_id = node.alert()
    assert campus.wait_for(lambda m: any(t.endswith("/alert") for t, _, _ in m), 10)
    time.sleep(0.5)
    topics = [t for t, _, _ in campus.messages]
    assert topics == ["campus/v1/main/a101/cam1/status", "campus/v1/main/a101/cam1/alert"]
    assert json.loads(campus.on("alert")[0])["id"] == alert_id
    status = contract.decode(campus.messages[0][1])
    assert status.origin.building == "main" and status.state == "online"
    # the status stays retained on the campus broker, for a campus hub that comes later
    late = TlsClient(fed.campus.port, fed.campus_pki.campus_hub_tls())
    got = []
    late.c.on_message = lambda c, u, m: got.append((m.topic, m.retain))
    late.c.subscribe("campus/v1/#", qos=1)
    assert wait_until(lambda: got, 5) and got == [("campus/v1/main/a101/cam1/status", True)]
    late.close()
    hub_cmd.close()


def test_a_building_publishes_only_under_its_own_prefix(fed):
    campus = fed.campus_hub()
    north = fed.campus_pki.add_building("north")
    fed.campus.reload()
    time.sleep(0.3)
    from provisioning.campus import install_bridge

    install_bridge(north.data, fed.root / "north", building="north", campus_host="127.0.0.1")
    d = fed.root / "north" / "campus"
    tls = {"ca_certs": str(d / "campus-ca.crt"), "certfile": str(d / "bridge.crt"),
           "keyfile": str(d / "bridge.key")}
    other = TlsClient(fed.campus.port, tls)
    read = []
    other.c.on_message = lambda c, u, m: read.append(m.topic)
    other.c.subscribe("campus/v1/#", qos=1)        # granted, but mosquitto delivers it
    acks = {}                                      # nothing its ACL does not let it read
    other.c.on_publish = lambda c, u, mid, rc, p: acks.__setitem__(mid, rc.value)
    time.sleep(0.3)
    forged = other.publish("campus/v1/main/a101/cam1/alert", b'{"forged": 1}')
    own = other.publish("campus/v1/north/b1/cam1/alert", b'{"own": 1}')
    assert wait_until(lambda: forged.mid in acks and own.mid in acks, 5)
    assert acks[forged.mid] == 135                 # not authorised
    assert acks[own.mid] == 0
    assert campus.wait_for(lambda m: any(t.startswith("campus/v1/north/") for t, _, _ in m), 5)
    time.sleep(0.5)
    assert [t for t, _, _ in campus.messages] == ["campus/v1/north/b1/cam1/alert"]
    assert read == []                              # a building reads nothing on campus
    other.close()
    # a node's certificate (the building's CA) is no campus identity: the handshake fails
    node_dir = fed.root / "main-a101-cam1"
    fed.node("a101")
    ctx = ssl.create_default_context(cafile=str(fed.campus_pki.folder / "ca.crt"))
    ctx.load_cert_chain(str(node_dir / "node.crt"), str(node_dir / "node.key"))
    with socket.create_connection(("127.0.0.1", fed.campus.port), timeout=5) as raw, \
            pytest.raises((ssl.SSLError, ConnectionError)):
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls_sock:
            tls_sock.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 0]))
            if not tls_sock.recv(4):               # TLS 1.3: the refusal comes on reading
                raise ConnectionError("closed")
    log = fed.campus.workdir / "mosquitto.log"
    assert wait_until(lambda: "certificate verify failed" in log.read_text(), 3)


def test_nothing_lost_when_the_link_is_cut(fed):
    """The link cut for 15 s while both brokers run (the forwarder drops every connection
    and refuses new ones): the building's hub gets every alert in real time, the campus
    gets every one after the link is back, in order per node."""
    campus, building = fed.campus_hub(), fed.building_hub()
    nodes = [fed.node(f"a10{i}") for i in range(1, 5)]
    assert all(link_up(campus, n) for n in nodes)
    traffic = Traffic(nodes, interval_s=0.25)       # 16 alerts/s from 4 nodes
    time.sleep(3)
    fed.link.cut()
    cut_at = time.monotonic()
    sent_before = sum(len(n.sent) for n in nodes)
    time.sleep(15)
    queued = sum(len(n.sent) for n in nodes) - sent_before
    fed.link.restore()
    restored = time.monotonic()
    time.sleep(3)
    traffic.stop()
    total = sum(len(n.sent) for n in nodes)
    assert not traffic.errors
    assert wait_until(lambda: not Delivery.of(campus, nodes).missing, 30)
    time.sleep(1)
    at_campus, at_building = Delivery.of(campus, nodes), Delivery.of(building, nodes)
    during = [i for n in nodes for i in n.sent if n.sent_at[i] > cut_at
              and n.sent_at[i] < restored]
    caught_up = max(f for (_, i, f) in campus.alerts() if i in set(during)) - restored
    print(f"\nlink cut 15 s: {total} alerts, {queued} published during the cut; campus: "
          f"missing {len(at_campus.missing)}, duplicates {at_campus.duplicates}, in order "
          f"{at_campus.in_order(nodes)}, caught up {caught_up:.2f} s after the restore; "
          f"building: max delay {max(at_building.delays) * 1000:.0f} ms, duplicates "
          f"{at_building.duplicates}; bridge connections {fed.link.connections}")
    assert not at_campus.missing and at_campus.in_order(nodes)
    assert not at_building.missing and at_building.in_order(nodes)
    assert max(at_building.delays) < 1.0           # the building never noticed
    assert caught_up < 15                          # restart_timeout 1 10 and the queue
    assert at_campus.duplicates <= queued          # at most one resend each (QoS 1)


def test_campus_broker_restart_keeps_the_campus_hubs_queue(fed):
    """The campus hub away, its queue on the campus broker; the campus broker stopped (the
    bridge queues in the building meanwhile) and started again: the campus hub gets every
    alert of both phases."""
    campus = fed.campus_hub()
    node = fed.node("a101")
    assert link_up(campus, node)
    campus.close()
    away = [node.alert() for _ in range(20)]        # queued on campus for the campus hub
    time.sleep(1)
    fed.campus.stop()
    down = [node.alert() for _ in range(20)]        # queued in the building's bridge
    fed.campus.start()
    back = fed.campus_hub()
    assert wait_until(lambda: not Delivery.of(back, [node]).missing, 30), \
        Delivery.of(back, [node]).missing
    got = Delivery.of(back, [node])
    print(f"\ncampus broker restart: {len(away)} queued on campus, {len(down)} in the "
          f"building; missing {len(got.missing)}, duplicates {got.duplicates}")
    assert got.in_order([node]) and node.sent == away + down


def test_building_broker_restart_keeps_the_bridge_queue(fed):
    """Alerts queued in the bridge while the link is cut survive a restart of the building's
    broker (persistence on) and reach the campus when the link is back."""
    campus = fed.campus_hub()
    node = fed.node("a101")
    assert link_up(campus, node)
    fed.link.cut()
    queued = [node.alert() for _ in range(30)]
    fed.building.stop()
    fed.building.start()
    assert node.client.connected.wait(10)
    fed.link.restore()
    assert wait_until(lambda: not Delivery.of(campus, [node]).missing, 30), \
        f"lost across the building broker's restart: {len(Delivery.of(campus, [node]).missing)}"
    got = Delivery.of(campus, [node])
    print(f"\nbuilding broker restart: {len(queued)} queued; missing {len(got.missing)}, "
          f"duplicates {got.duplicates}")
    assert got.in_order([node])


def test_an_mqtt5_bridge_queues_and_catches_up_too(tmp_path):
    fed = Federation(tmp_path, protocol="mqttv50")
    try:
        campus = fed.campus_hub()
        node = fed.node("a101")
        assert link_up(campus, node)
        fed.link.cut()
        queued = [node.alert() for _ in range(30)]
        time.sleep(2)
        fed.link.restore()
        assert wait_until(lambda: not Delivery.of(campus, [node]).missing, 30)
        got = Delivery.of(campus, [node])
        print(f"\nmqttv50 bridge: {len(queued)} queued, duplicates {got.duplicates}")
        assert got.in_order([node])
    finally:
        fed.close()


@pytest.mark.soak
def test_a_five_minute_cut_during_an_exam_loses_nothing(fed):
    """The issue's outage: 20 rooms, an alert per room every 6 s (ten times a busy exam's
    rate), the link cut for 5 minutes. About 6 minutes."""
    campus, building = fed.campus_hub(), fed.building_hub()
    nodes = [fed.node(f"r{i:02d}") for i in range(20)]
    assert all(link_up(campus, n, 30) for n in nodes)
    traffic = Traffic(nodes, interval_s=6)
    time.sleep(10)
    fed.link.cut()
    cut_at = time.monotonic()
    time.sleep(300)
    fed.link.restore()
    restored = time.monotonic()
    time.sleep(10)
    traffic.stop()
    assert not traffic.errors
    assert wait_until(lambda: not Delivery.of(campus, nodes).missing, 60)
    at_campus, at_building = Delivery.of(campus, nodes), Delivery.of(building, nodes)
    during = {i for n in nodes for i in n.sent if cut_at < n.sent_at[i] < restored}
    caught_up = max(f for (_, i, f) in campus.alerts() if i in during) - restored
    print(f"\nlink cut 300 s: {sum(len(n.sent) for n in nodes)} alerts, {len(during)} during "
          f"the cut; campus: missing {len(at_campus.missing)}, duplicates "
          f"{at_campus.duplicates}, caught up {caught_up:.2f} s after the restore; building: "
          f"max delay {max(at_building.delays) * 1000:.0f} ms")
    assert at_campus.in_order(nodes) and at_building.in_order(nodes)
    assert not at_building.missing and max(at_building.delays) < 1.0
    assert caught_up < 15


@pytest.mark.soak
@pytest.mark.xfail(strict=True, reason="mosquitto 2.0.11 (Debian 12): a TLS bridge whose peer "
                   "accepts and drops the connection spins the building's broker")
def test_a_campus_that_accepts_and_drops_connections_stalls_debian_mosquitto(fed):
    """A known defect, kept measured: with Debian 12's mosquitto 2.0.11, a campus end that
    accepts the bridge's TCP connection and closes it before the TLS handshake (a load
    balancer with no healthy broker behind it) makes the *building's* broker spin at 100%
    CPU in its keepalive check after a few attempts (here after 27-29 s, 2-4 attempts): it
    serves nobody until restarted. Strict xfail: when a fixed mosquitto passes, this fails
    and the docs (campus.md, Failure behaviour) must change."""
    building = fed.building_hub()
    node = fed.node("a101")
    fed.link.cut(accept=True)
    deadline = time.monotonic() + 90
    served = True
    while served and time.monotonic() < deadline:
        before = len(building.messages)
        node.alert()
        served = building.wait_for(lambda m, n=before: len(m) > n, 3)
        time.sleep(1)
    if not served:
        fed.building.proc.kill()             # it does not answer SIGTERM any more
        fed.building.proc.wait(5)
    assert served, "the building's broker stopped serving while the campus end dropped " \
        f"connections ({fed.link.refused} accepted and closed)"
