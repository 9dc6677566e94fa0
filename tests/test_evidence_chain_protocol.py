"""The protocol carries the evidence's proof, issued over a real hub fed by enrolled nodes on a
real TLS mosquitto: each evidence file's sha256, the node's signature on it, the SHA-256
fingerprint of the node's certificate and the trust (signed under the building's CA, with the
node's own key, or unsigned), read back from the issued PDF with pdftotext; the evidence
bundle through the real route: its session's proctor and its building's dean get it, not
another room's proctor or a technician; never cached, always audited; it passes
``kuzet verify`` with the very PDF that was issued."""

from __future__ import annotations

import hashlib
import html
import io
import re
import subprocess
import zipfile

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from edge.signing import NodeKey
from hub.services import HubServices
from hub.store import violation_protocols
from hub.web.app import create_app
from kuzet import contract, signatures
from kuzet.bundle import verify_bundle
from kuzet_tools.bench.sim import alert_for, evidence_for
from kuzet_tools.cli import main as kuzet_main
from provisioning.ca import CertificateAuthority
from tests.support.hub_env import login, make_config, seed
from tests.support.wait import wait_until
from tests.test_evidence_chain_hub import (  # noqa: F401  (building: a fixture)
    CAM1,
    JPEG,
    SigningNode,
    _an_incident,
    _read,
    _signed_count,
    building,
)
from tests.test_provisioning import Client

pytestmark = pytest.mark.integration        # a real mosquitto in every test


def _client(svc):
    app = create_app(svc.config, svc)
    app.config["TESTING"] = True
    return app.test_client()


def _issue(svc, client, aid: str) -> dict:
    """The proctor confirms the alert and issues its protocol, in English."""
    token = login(client, "aigerim")
    assert client.post(f"/proctor/alerts/{aid}/confirm", data={"csrf_token": token}
                       ).status_code == 302
    pid = _read(svc, violation_protocols.for_alert, aid)["id"]
    assert client.post(f"/protocols/{pid}", data={"csrf_token": token, "lang": "en",
                                                  "student": "Aliya"}).status_code == 302
    assert client.post(f"/protocols/{pid}/issue", data={"csrf_token": token}
                       ).status_code == 302
    p = _read(svc, violation_protocols.get, pid)
    assert p["status"] == "issued"
    return p


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "protocol.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _issued_text(svc, client, aid: str, tmp_path) -> str:
    """The issued protocol's text, words joined by single spaces."""
    with client.get(f"/protocols/{_issue(svc, client, aid)['id']}.pdf") as r:
        return " ".join(_pdf_text(r.data, tmp_path).split())


def _evidence_page(client, aid: str) -> str:
    """The alert's evidence page (in English) as the proctor reads it."""
    token = login(client, "aigerim")
    client.post("/language", data={"lang": "en", "csrf_token": token})
    r = client.get(f"/evidence/alert/{aid}")
    assert r.status_code == 200
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())


def _signed_incident(svc, node) -> tuple[str, list[dict]]:
    """On the seeded hub, ``node`` (its MQTT client and key) sends a signed incident; its
    alert id and records, once the hub holds all four."""
    seed(svc.writer)
    aid, sent = _an_incident(SigningNode(*node))
    assert wait_until(lambda: _signed_count(svc) == 4, 20)
    return aid, sent


def _evidence_record(svc, evidence_id: str) -> dict:
    return _read(svc, lambda c: dict(c.execute(
        "SELECT sig, signer FROM signed_records WHERE evidence_id = ? AND kind = 'evidence'",
        (evidence_id,)).fetchone()))


def test_the_issued_protocol_prints_each_files_hash_signature_and_node_certificate(
        building, tmp_path):  # noqa: F811
    svc, pki, nodes = building
    aid, sent = _signed_incident(svc, nodes["cam1"])
    _, key = nodes["cam1"]
    client = _client(svc)
    p = _issue(svc, client, aid)

    with client.get(f"/protocols/{p['id']}.pdf") as r:
        issued = r.data
    assert hashlib.sha256(issued).hexdigest() == p["pdf_sha256"]
    text = _pdf_text(issued, tmp_path)
    flat = "".join(text.split())                 # long values wrap over lines
    evidence = sent[0]
    record = _evidence_record(svc, evidence["evidence_id"])
    cert_fp = hashlib.sha256(key.cert_der).hexdigest()
    assert record["signer"] == cert_fp
    assert evidence["sha256"] in flat
    assert record["sig"] == evidence["sig"]["value"] and record["sig"] in flat
    assert f"Nodecertificate(SHA-256fingerprint):{cert_fp}" in flat
    assert "Trust: signed by node.main.a101.cam1 with its certificate from the building's CA" \
        in " ".join(text.split())
    assert "Record chain: complete" in text
    assert "evidence bundle" in text and "kuzet verify" in text

    page = _evidence_page(client, aid)
    assert "Signed by node.main.a101.cam1 (the building's CA) · Record chain: complete" in page
    assert f"{evidence['sha256']} CA" in page                 # the file's row: its trust


def test_the_bundle_route_is_the_protocols_own_uncached_audited_and_verifies(
        building, tmp_path):  # noqa: F811
    svc, pki, nodes = building
    aid, _ = _signed_incident(svc, nodes["cam1"])
    client = _client(svc)
    p = _issue(svc, client, aid)
    url = f"/protocols/{p['id']}/bundle.zip"

    r = client.get(url)
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert r.headers["Cache-Control"] == "no-store"
    assert "attachment" in r.headers["Content-Disposition"]
    report = verify_bundle(r.data, (pki / "ca.crt").read_bytes())
    assert report.ok, report.problems
    pdf = zipfile.ZipFile(io.BytesIO(r.data)).read("protocol.pdf")
    assert hashlib.sha256(pdf).hexdigest() == p["pdf_sha256"]      # the PDF that was issued

    dean = _client(svc)
    login(dean, "dean")                                    # the dean of building main
    assert dean.get(url).status_code == 200
    for other, status in (("bolat", 404), ("dana", 404), ("tech", 403), ("admin", 403)):
        c = _client(svc)
        login(c, other)
        assert c.get(url).status_code == status, other
    audited = _read(svc, lambda c: [tuple(r) for r in c.execute(
        "SELECT username, action, target FROM audit WHERE action = 'protocol.bundle'"
        " ORDER BY id")])
    assert audited == [("aigerim", "protocol.bundle", str(p["id"])),
                       ("dean", "protocol.bundle", str(p["id"]))]


def test_own_key_and_unsigned_evidence_say_so_on_the_protocol(tmp_path, broker):
    """On plain MQTT a node signs with its own key; an older node signs nothing."""
    svc = HubServices(make_config(tmp_path, broker.port)).start(ingest=True)
    try:
        assert svc.ingest.connected.wait(10)
        seed(svc.writer)
        pub = Client(broker.port, "", None, None).start()
        assert pub.connected.wait(10)
        own = NodeKey.own(tmp_path / "node")
        aid, _ = _an_incident(SigningNode(pub, own))
        old_aid = contract.new_id()                         # an older node: nothing signed
        ev = evidence_for(CAM1, old_aid, JPEG)
        for msg, kind in ((ev, "evidence"),
                          (alert_for(CAM1, "r3s1", alert_id=old_aid, evidence=[ev]), "alert")):
            pub.c.publish(contract.topic(CAM1, kind), contract.encode(msg), qos=1
                          ).wait_for_publish(10)
        assert wait_until(lambda: _read(svc, lambda c: c.execute(
            "SELECT COUNT(*) FROM evidence").fetchone()[0]) == 2, 20)
        client = _client(svc)
        own_text = _issued_text(svc, client, aid, tmp_path)
        assert "Trust: signed with the node's own key, not under the building's CA" in own_text
        own_fp = signatures.fingerprint(own.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        assert f"Node'sownkey(SHA-256fingerprint):{own_fp}" in "".join(own_text.split())
        old_text = _issued_text(svc, client, old_aid, tmp_path)
        assert ev.sha256 in old_text
        assert "Trust: not signed by the node" in old_text
        assert "Record chain" not in old_text
        page = _evidence_page(client, aid)
        assert "Signed with the node's own key, not under the building's CA · Record chain:" \
            " complete" in page and "own key" in page
        assert "Unsigned: the node did not sign these records" in _evidence_page(client, old_aid)
        pub.stop()
    finally:
        svc.stop()


def test_a_dropped_record_and_a_forged_one_show_where_people_look(building):  # noqa: F811
    """The proctor sees the gap on the alert's evidence page; the technician sees the node's
    gap and its refused signature on the devices page."""
    svc, pki, nodes = building
    seed(svc.writer)
    node = SigningNode(*nodes["cam1"])
    node.send(alert_for(CAM1, "r1s1"))
    node.seal(alert_for(CAM1, "r1s2"))                      # sealed, never arrives
    third = node.send(alert_for(CAM1, "r1s3"))
    forged = node.seal(alert_for(CAM1, "r2s3"))
    forged["seat"] = "r1s1"
    node.publish(forged)
    assert wait_until(lambda: _signed_count(svc) == 2 and _read(svc, lambda c: c.execute(
        "SELECT COUNT(*) FROM rejected").fetchone()[0]) == 1, 20)
    page = _evidence_page(_client(svc), third["alert_id"])
    assert "Signed by node.main.a101.cam1 (the building's CA) · Record chain: records" \
        " missing: 1" in page

    tech = _client(svc)
    token = login(tech, "tech")
    tech.post("/language", data={"lang": "en", "csrf_token": token})
    r = tech.get("/tech/")
    assert r.status_code == 200
    row = re.search(r'<tr class="node[^"]*" data-node="main/a101/cam1">(.*?)</tr>', r.text,
                    re.S)
    assert row and "record chain gaps: 1; bad signatures: 1" in row.group(1)
    assert "Signed records: bad signatures 1, chain gaps 1, chain breaks 0" in r.text
    other = re.search(r'data-node="main/a101/cam2">(.*?)</tr>', r.text, re.S)
    assert other and 'data-f="signing"' not in other.group(1)


def test_a_revoked_node_certificate_fails_verification(building, tmp_path):  # noqa: F811
    """The bundle carries the CA's revocation list; ``kuzet verify`` also takes the one beside
    the CA certificate; a list another CA signed is no list."""
    svc, pki, nodes = building
    aid, _ = _signed_incident(svc, nodes["cam1"])
    _, key = nodes["cam1"]
    client = _client(svc)
    url = f"/protocols/{_issue(svc, client, aid)['id']}/bundle.zip"
    ca = (pki / "ca.crt").read_bytes()
    before = client.get(url).data
    assert "crl.pem" in zipfile.ZipFile(io.BytesIO(before)).namelist()
    assert verify_bundle(before, ca).ok

    CertificateAuthority(pki).revoke(x509.load_der_x509_certificate(key.cert_der).serial_number)
    report = verify_bundle(client.get(url).data, ca)
    assert not report.ok and any("revoked" in p for p in report.problems), report.problems

    (tmp_path / "before.zip").write_bytes(before)             # its CRL predates the revocation
    assert kuzet_main(["verify", str(tmp_path / "before.zip"), "--ca", str(pki / "ca.crt")]) == 1
    rogue = CertificateAuthority.create(tmp_path / "rogue-ca")
    assert kuzet_main(["verify", str(tmp_path / "before.zip"), "--ca", str(pki / "ca.crt"),
                       "--crl", str(rogue.crl_path)]) == 1
    report = verify_bundle(before, ca, [rogue.crl_path.read_bytes()])
    assert report.problems == ["the revocation list is not signed by the building's CA"]
