"""The federation's provisioning without a broker: the bridge section mosquitto reads, the
campus ACL, the bundle's checks and the CLI's errors for bad input."""

from __future__ import annotations

import io
import stat
import tarfile

import pytest

from kuzet_tools.cli import main
from provisioning.campus import (
    BridgeSettings,
    CampusError,
    CampusPki,
    bridge_conf,
    campus_acl,
    install_bridge,
)


@pytest.fixture
def campus(tmp_path):
    return CampusPki.init(tmp_path / "campus", broker_names=["campus.example", "10.1.0.2"])


def settings(**kw) -> BridgeSettings:
    base = dict(building="main", campus_host="campus.example", campus_port=8883,
                cafile="/etc/kuzet/pki/campus/campus-ca.crt",
                certfile="/etc/kuzet/pki/campus/bridge.crt",
                keyfile="/etc/kuzet/pki/campus/bridge.key")
    return BridgeSettings(**(base | kw))


def test_the_bridge_sends_only_status_and_alert_remapped_under_the_building():
    conf = bridge_conf(settings()).splitlines()
    topics = [line for line in conf if line.startswith("topic ")]
    assert topics == ["topic +/+/status out 1 kuzet/v1/main/ campus/v1/main/",
                      "topic +/+/alert out 1 kuzet/v1/main/ campus/v1/main/"]
    for line in ("connection campus", "address campus.example:8883", "cleansession false",
                 "remote_clientid bridge.main", "bridge_protocol_version mqttv311",
                 "try_private false", "bridge_insecure false",
                 "bridge_cafile /etc/kuzet/pki/campus/campus-ca.crt"):
        assert line in conf
    assert not any(k in line for line in topics for k in ("evidence", "cmd", "reply", "#"))
    assert "bridge_protocol_version mqttv50" in bridge_conf(settings(protocol="mqttv50"))


@pytest.mark.parametrize("bad, message", [
    (dict(building="main/a101"), "building name"),
    (dict(building="../x"), "building name"),
    (dict(building=""), "building name"),
    (dict(campus_host="campus example"), "neither a DNS name"),
    (dict(campus_host="campus.example\ntopic # both"), "neither a DNS name"),
    (dict(campus_port=0), "between 1 and 65535"),
    (dict(campus_port=70000), "between 1 and 65535"),
    (dict(protocol="mqttv31"), "bridge protocol"),
    (dict(cafile="/etc/my ca.crt"), "no spaces"),
])
def test_bad_bridge_settings_are_refused_with_a_clear_error(bad, message):
    with pytest.raises(CampusError, match=message):
        settings(**bad)


def test_each_building_may_write_only_its_own_prefix_and_the_hub_only_read():
    acl = campus_acl(["north", "main"])
    assert acl.strip().split("\n\n")[1:3] == ["user bridge.main\ntopic write campus/v1/main/#",
                                      "user bridge.north\ntopic write campus/v1/north/#"]
    assert "user campus-hub\ntopic read campus/v1/#" in acl
    assert "readwrite" not in acl


def test_adding_a_building_issues_its_certificate_and_reissuing_revokes_the_old(campus):
    first = campus.add_building("main")
    assert "user bridge.main" in (campus.folder / "acl").read_text()
    second = campus.add_building("main")
    assert campus.ca.revoked() == [first.serial]
    assert campus.buildings() == {"main": [second.serial]}
    campus.remove_building("main")
    assert second.serial in campus.ca.revoked()
    assert "bridge.main" not in (campus.folder / "acl").read_text()
    with pytest.raises(CampusError, match="not on this campus"):
        campus.remove_building("main")
    conf = (campus.folder / "mosquitto.conf").read_text()
    assert "require_certificate true" in conf and f"acl_file {campus.folder / 'acl'}" in conf


def test_installing_a_bundle_checks_whose_it_is(campus, tmp_path):
    bundle = campus.add_building("main")
    with pytest.raises(CampusError, match="'bridge.main', not 'bridge.north'"):
        install_bridge(bundle.data, tmp_path / "b", building="north", campus_host="c.example")
    out = install_bridge(bundle.data, tmp_path / "b", building="main", campus_host="c.example")
    assert "address c.example:8883" in out.read_text()
    assert stat.S_IMODE((tmp_path / "b" / "campus" / "bridge.key").stat().st_mode) == 0o600
    other = CampusPki.init(tmp_path / "other", broker_names=["x.example"])
    forged = tarfile.open(fileobj=io.BytesIO(bundle.data))
    files = {m.name: forged.extractfile(m).read() for m in forged.getmembers()}
    files["campus-ca.crt"] = other.ca.ca_pem              # a CA that did not sign it
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(CampusError, match="not signed by its campus CA"):
        install_bridge(buf.getvalue(), tmp_path / "c", building="main", campus_host="c.example")
    with pytest.raises(CampusError, match="not a campus bridge bundle"):
        install_bridge(b"not a tarball", tmp_path / "c", building="main", campus_host="x")


def test_the_cli_builds_both_sides(tmp_path, capsys):
    cdir, bdir = tmp_path / "campus", tmp_path / "building"
    assert main(["provision", "--dir", str(cdir), "campus-init", "--broker-name",
                 "campus.example"]) == 0
    out = tmp_path / "main.tar.gz"
    assert main(["provision", "--dir", str(cdir), "--reload-cmd", "true", "campus-add", "main",
                 "--out", str(out)]) == 0
    assert main(["provision", "--dir", str(bdir), "bridge", "--building", "main",
                 "--campus-host", "campus.example", "--bundle", str(out)]) == 0
    assert "remote_clientid bridge.main" in (bdir / "bridge.conf").read_text()
    capsys.readouterr()
    assert main(["provision", "--dir", str(cdir), "--reload-cmd", "true", "campus-add",
                 "a/b"]) != 0
    assert "building name 'a/b' is not valid" in capsys.readouterr().err
