"""Evidence that proves itself, attacked on a real hub and a real mosquitto: enrolled nodes
sign with their certificate from the building's CA; the hub refuses (and counts) a record
whose signature does not match, one signed with another node's certificate and one signed with
a certificate from another CA; it keeps the signatures and chain links and flags a gap; the
evidence bundle it builds passes ``kuzet verify`` and fails it after a changed byte, a dropped
record, or a record signed with another node's key."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from edge.signing import NodeKey, Sealer
from hub import evidence_bundle
from hub.services import HubServices
from hub.store import alerts, signed_records
from hub.store.db import connect
from kuzet import contract, signatures
from kuzet.bundle import verify_bundle
from kuzet_tools.bench.sim import alert_for, evidence_for
from kuzet_tools.cli import main as kuzet_main
from provisioning.ca import CertificateAuthority
from tests.support.hub_env import make_config
from tests.support.pki import provisioned_broker
from tests.support.wait import wait_until
from tests.test_enrolment_browser import hub_config
from tests.test_provisioning import Client, enrol, node_client

pytestmark = pytest.mark.integration        # a real mosquitto in every test

CAM1 = contract.Origin(building="main", room="a101", node="cam1")
JPEG = b"\xff\xd8\xff\xe0 a snapshot of seat r2s3 \xff\xd9"


class SigningNode:
    """An enrolled node's broker connection and its signing key, chaining what it sends."""

    def __init__(self, client, key: NodeKey, origin: contract.Origin = CAM1) -> None:
        self.client = client
        self.sealer = Sealer(key, None)
        self.origin = origin

    def seal(self, msg) -> dict:
        data = getattr(msg, "data", None)
        if data is not None:
            msg = msg.model_copy(update={"data": ""})
        sealed, _ = self.sealer.seal(msg)
        payload = json.loads(contract.encode(sealed))
        if data is not None:
            payload["data"] = data
        return payload

    def publish(self, payload: dict) -> None:
        kind = "evidence" if payload["type"] == "evidence" else "alert"
        info = self.client.c.publish(contract.topic(self.origin, kind),
                                     json.dumps(payload).encode(), qos=1)
        info.wait_for_publish(10)

    def send(self, msg) -> dict:
        payload = self.seal(msg)
        self.publish(payload)
        return payload


@pytest.fixture
def building(tmp_path):
    """A PKI, its TLS mosquitto, a hub ingesting from it, and two enrolled nodes."""
    with provisioned_broker(tmp_path) as (prov, broker, pki):
        svc = HubServices(hub_config(tmp_path, broker, pki)).start(ingest=True)
        try:
            assert svc.ingest.connected.wait(10), svc.ingest.last_error
            nodes = {}
            for name in ("cam1", "cam2"):
                dest = enrol(prov, tmp_path, f"main/a101/{name}")
                client = node_client(prov, dest)
                assert client.connected.wait(10)
                nodes[name] = (client, NodeKey.from_files(dest / "node.crt", dest / "node.key"))
            yield svc, pki, nodes
            for client, _ in nodes.values():
                client.stop()
        finally:
            svc.stop()


def _read(svc, fn, *args):
    conn = connect(svc.db_path)
    try:
        return fn(conn, *args)
    finally:
        conn.close()


def _signed_count(svc) -> int:
    return _read(svc, lambda conn: conn.execute(
        "SELECT COUNT(*) FROM signed_records").fetchone()[0])


def _an_incident(node: SigningNode) -> tuple[str, list[dict]]:
    """An alert with its snapshot, another alert in between, and its close: four records."""
    aid = contract.new_id()
    ev = evidence_for(CAM1, aid, JPEG)
    sent = [node.send(ev),
            node.send(alert_for(CAM1, "r2s3", alert_id=aid, evidence=[ev])),
            node.send(alert_for(CAM1, "r1s1")),
            node.send(alert_for(CAM1, "r2s3", event="close", alert_id=aid))]
    return aid, sent


def _bundle(svc, aid: str) -> bytes:
    def build(conn):
        return evidence_bundle.build(conn, aid, alerts.alert_row(conn, aid),
                                     alerts.alert_evidence(conn, aid), svc.evidence, b"%PDF-1.4")
    return _read(svc, build)


def _rezip(data: bytes, change) -> bytes:
    """The bundle with ``change(files)`` applied (name -> bytes; the manifest as a dict)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    files = {n: z.read(n) for n in z.namelist()}
    files["manifest.json"] = json.loads(files["manifest.json"])
    change(files)
    files["manifest.json"] = json.dumps(files["manifest.json"]).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zz:
        for n, b in files.items():
            zz.writestr(n, b)
    return out.getvalue()


def test_the_bundle_of_a_signed_alert_verifies_and_fails_when_tampered(building, tmp_path):
    svc, pki, nodes = building
    node = SigningNode(*nodes["cam1"])
    aid, _ = _an_incident(node)
    assert wait_until(lambda: _signed_count(svc) == 4, 20)
    flags = _read(svc, signed_records.alert_flags, aid)
    assert flags == {"signed": 3, "trust": ["ca"], "missing": [], "gap": False}
    ca = (pki / "ca.crt").read_bytes()
    good = _bundle(svc, aid)
    report = verify_bundle(good, ca)
    assert report.ok, report.problems
    assert (report.records, report.files) == (4, 1)

    def change_a_byte(files):
        name = next(n for n in files if n.startswith("evidence/"))
        files[name] = files[name][:5] + b"X" + files[name][6:]

    def drop_the_record_between(files):
        del files["manifest.json"]["records"][2]

    def sign_the_close_with_cam2s_key(files):
        cam2 = nodes["cam2"][1]
        rec = files["manifest.json"]["records"][3]
        sig = cam2.sign(rec["body"].encode())
        rec["sig"], rec["signer"] = sig.value, signatures.fingerprint(cam2.cert_der)
        files["manifest.json"]["signers"][rec["signer"]] = {"der": sig.cert, "is_cert": True}

    for attack, expected in ((change_a_byte, "sha256 differs"),
                             (drop_the_record_between, "missing"),
                             (sign_the_close_with_cam2s_key, "node.main.a101.cam2")):
        report = verify_bundle(_rezip(good, attack), ca)
        assert not report.ok
        assert any(expected in p for p in report.problems), (attack.__name__, report.problems)

    (tmp_path / "good.zip").write_bytes(good)
    (tmp_path / "bad.zip").write_bytes(_rezip(good, change_a_byte))
    assert kuzet_main(["verify", str(tmp_path / "good.zip"), "--ca", str(pki / "ca.crt")]) == 0
    assert kuzet_main(["verify", str(tmp_path / "bad.zip"), "--ca", str(pki / "ca.crt")]) == 1
    other_ca = CertificateAuthority.create(tmp_path / "other-ca")
    (tmp_path / "other.crt").write_bytes(other_ca.ca_pem)
    assert kuzet_main(["verify", str(tmp_path / "good.zip"), "--ca",
                       str(tmp_path / "other.crt")]) == 1


def test_the_hub_refuses_forged_signatures_and_counts_them(building, tmp_path):
    svc, pki, nodes = building
    client, key = nodes["cam1"]
    node = SigningNode(client, key)

    changed = node.seal(alert_for(CAM1, "r2s3"))
    changed["seat"] = "r1s1"                                # moved to another student's seat
    node.publish(changed)

    other = SigningNode(client, nodes["cam2"][1])           # cam2's key, on cam1's topic
    other.send(alert_for(CAM1, "r2s3"))

    rogue_ca = CertificateAuthority.create(tmp_path / "rogue-ca")
    rogue = rogue_ca.issue(signatures.node_common_name(CAM1))
    rogue_key = NodeKey.from_files(_write(tmp_path / "rogue.crt", rogue.cert_pem),
                                   _write(tmp_path / "rogue.key", rogue.key_pem))
    SigningNode(client, rogue_key).send(alert_for(CAM1, "r2s3"))

    assert wait_until(lambda: svc.ingest.bad_signatures == 3, 20), svc.ingest.bad_signatures
    genuine = node.send(alert_for(CAM1, "r2s3"))
    assert wait_until(lambda: _signed_count(svc) == 1, 20)
    stored = _read(svc, lambda conn: [r["alert_id"] for r in conn.execute(
        "SELECT alert_id FROM alerts")])
    assert stored == [genuine["alert_id"]]
    reasons = _read(svc, lambda conn: [r["reason"] for r in conn.execute(
        "SELECT reason FROM rejected ORDER BY id")])
    assert len(reasons) == 3 and all(r.startswith("bad signature") for r in reasons)
    assert "does not match" in reasons[0]
    assert "node.main.a101.cam2" in reasons[1]
    assert "not issued by the building's CA" in reasons[2]


def test_a_dropped_record_is_flagged_on_the_alert(building):
    svc, pki, nodes = building
    node = SigningNode(*nodes["cam1"])
    node.send(alert_for(CAM1, "r1s1"))
    node.seal(alert_for(CAM1, "r1s2"))                      # sealed, never arrives
    third = node.send(alert_for(CAM1, "r1s3"))
    assert wait_until(lambda: _signed_count(svc) == 2, 20)
    flags = _read(svc, signed_records.alert_flags, third["alert_id"])
    assert flags["gap"] and flags["trust"] == ["ca"]


def test_on_plain_mqtt_records_are_kept_but_reported_unsigned_by_the_ca(tmp_path, broker):
    svc = HubServices(make_config(tmp_path, broker.port)).start(ingest=True)
    try:
        assert svc.ingest.connected.wait(10)
        pub = Client(broker.port, "", None, None).start()
        assert pub.connected.wait(10)
        key = NodeKey.own(tmp_path / "node")
        node = SigningNode(pub, key)
        aid, _ = _an_incident(node)
        pub.c.publish(contract.topic(CAM1, "alert"),
                      contract.encode(alert_for(CAM1, "r3s1")), qos=1)   # an unsigned node
        assert wait_until(lambda: _read(svc, lambda c: c.execute(
            "SELECT COUNT(*) FROM alerts").fetchone()[0]) == 3, 20)
        assert _signed_count(svc) == 4
        report = verify_bundle(_bundle(svc, aid), None)
        assert report.problems == [] and not report.ok
        assert any("unsigned by the CA" in n for n in report.notes)
        pub.stop()
    finally:
        svc.stop()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
