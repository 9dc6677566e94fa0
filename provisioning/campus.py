"""Federation: a building's mosquitto bridges its status and alert topics to a campus broker.

Campus side (``CampusPki``, a folder of its own, e.g. ``/etc/kuzet/campus-pki``): a campus CA
(``provisioning.ca.CertificateAuthority``), the campus broker's server certificate, the campus
hub's client certificate (CN ``campus-hub``), one client certificate per building (CN
``bridge.<building>``), the ACL file that lets ``bridge.<building>`` publish only under
``campus/v1/<building>/#`` and the campus hub read ``campus/v1/#``, and the campus broker's
mosquitto config (the same TLS listener as the building's: ``provisioning.broker``).

Building side (``bridge_conf``): the ``connection campus`` section for the building's
mosquitto: TLS with the building's campus certificate, a persistent session, and only
``kuzet/v1/<building>/+/+/{status,alert}`` sent out at QoS 1, remapped to
``campus/v1/<building>/…``. Evidence, commands and replies never leave the building.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from kuzet.contract import NAME_RE, TOPIC_ROOT
from kuzet.errors import KuzetError
from provisioning.broker import size_limits_conf, tls_listener_conf
from provisioning.ca import CertificateAuthority, write_private

CAMPUS_ROOT = "campus/v1"
BRIDGED_KINDS = ("status", "alert")       # never evidence, heartbeat, cmd or reply
CAMPUS_HUB_CN = "campus-hub"
CONNECTION = "campus"                     # the bridge's name in the building's mosquitto
PROTOCOLS = ("mqttv311", "mqttv50")
BRIDGE_FILES = ("campus-ca.crt", "bridge.crt", "bridge.key")
# A DNS name (labels of letters, digits and hyphens) or an IP address, nothing mosquitto's
# config parser could read as a second option.
_DNS_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                     r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


class CampusError(KuzetError):
    pass


def bridge_cn(building: str) -> str:
    return f"bridge.{check_building(building)}"


def check_building(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CampusError(f"building name {name!r} is not valid: letters, digits, '-' and "
                          "'_', starting with a letter or digit, at most 64 (as in node ids)")
    return name


def check_host(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not isinstance(host, str) or not _DNS_RE.match(host):
        raise CampusError(f"campus broker address {host!r} is neither a DNS name nor an IP "
                          "address")
    return host


def check_port(port: int) -> int:
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise CampusError(f"port {port!r} is not between 1 and 65535")
    return port


# -- building side ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BridgeSettings:
    """What the building's bridge needs. ``try_private`` (mosquitto's bridge flag in the
    protocol version byte) is off: the campus broker treats the bridge as the ordinary
    client its certificate names, under the same ACL, and brokers other than mosquitto
    (RabbitMQ, EMQX) accept the connection."""

    building: str
    campus_host: str
    campus_port: int
    cafile: Path
    certfile: Path
    keyfile: Path
    protocol: str = "mqttv311"
    keepalive_s: int = 30
    restart_base_s: int = 1
    restart_cap_s: int = 10

    def __post_init__(self) -> None:
        check_building(self.building)
        check_host(self.campus_host)
        check_port(self.campus_port)
        if self.protocol not in PROTOCOLS:
            raise CampusError(f"bridge protocol {self.protocol!r}: one of {PROTOCOLS}")
        for p in (self.cafile, self.certfile, self.keyfile):
            if any(c.isspace() for c in str(p)):
                raise CampusError(f"{p}: mosquitto's config takes no spaces in a file path")


def bridge_topics(building: str) -> list[str]:
    """The bridge's ``topic`` lines: pattern, direction, QoS, local prefix, remote prefix."""
    check_building(building)
    return [f"topic +/+/{kind} out 1 {TOPIC_ROOT}/{building}/ {CAMPUS_ROOT}/{building}/"
            for kind in BRIDGED_KINDS]


def bridge_conf(s: BridgeSettings) -> str:
    """The building mosquitto's bridge section (a drop-in for /etc/mosquitto/conf.d/, read
    after the building's own config). Its queue while the link is down is the bridge's
    local session: bounded by the building's ``max_queued_messages``/``max_queued_bytes``
    (``provisioning.broker.size_limits_conf``: 200,000 messages, 2 GiB), and kept across a
    restart of the building's broker with mosquitto's ``persistence true``."""
    return "\n".join([
        f"# Generated by `kuzet provision bridge`: building {s.building} -> the campus broker.",
        "# Only status and alert, QoS 1, remapped under campus/v1/<building>/; never evidence,",
        "# commands or replies. Queued in the bridge's persistent session while the link is",
        "# down (the building's max_queued_messages / max_queued_bytes bound it).",
        f"connection {CONNECTION}",
        f"address {s.campus_host}:{s.campus_port}",
        f"bridge_protocol_version {s.protocol}",
        "try_private false",
        "cleansession false",
        "local_cleansession false",
        f"remote_clientid {bridge_cn(s.building)}",
        f"local_clientid bridge.{CONNECTION}.local",
        "start_type automatic",
        f"restart_timeout {s.restart_base_s} {s.restart_cap_s}",
        f"keepalive_interval {s.keepalive_s}",
        "# The link's state stays in the building ($SYS/broker/connection/campus/state).",
        "notifications true",
        "notifications_local_only true",
        "bridge_attempt_unsubscribe false",
        f"bridge_cafile {s.cafile}",
        f"bridge_certfile {s.certfile}",
        f"bridge_keyfile {s.keyfile}",
        "bridge_insecure false",
        "bridge_tls_version tlsv1.2",
        *bridge_topics(s.building),
        "",
    ])


def install_bridge(bundle: bytes, folder: str | Path, *, building: str, campus_host: str,
                   campus_port: int = 8883, protocol: str = "mqttv311") -> Path:
    """Unpack the campus's bundle for ``building`` into ``folder/campus`` (the key 0600) and
    write ``folder/bridge.conf``. Refuses a bundle whose certificate is not
    ``bridge.<building>``'s or not issued by the bundle's campus CA."""
    check_building(building)
    dest = Path(folder) / "campus"
    files = _read_bundle(bundle)
    cert = x509.load_pem_x509_certificate(files["bridge.crt"])
    ca = x509.load_pem_x509_certificate(files["campus-ca.crt"])
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    if cn != bridge_cn(building):
        raise CampusError(f"the bundle's certificate is {cn!r}, not {bridge_cn(building)!r}: "
                          f"ask the campus for building {building}'s bundle")
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:
        raise CampusError("the bundle's certificate is not signed by its campus CA") from None
    settings = BridgeSettings(building, campus_host, campus_port, dest / "campus-ca.crt",
                              dest / "bridge.crt", dest / "bridge.key", protocol)
    dest.mkdir(parents=True, exist_ok=True)
    for name in BRIDGE_FILES:
        if name.endswith(".key"):
            write_private(dest / name, files[name])
        else:
            (dest / name).write_bytes(files[name])
    out = Path(folder) / "bridge.conf"
    out.write_text(bridge_conf(settings))
    return out


def _read_bundle(data: bytes) -> dict[str, bytes]:
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
    except (tarfile.TarError, OSError, EOFError):
        raise CampusError("not a campus bridge bundle (not a tar.gz)") from None
    with tar:
        members = {m.name: m for m in tar.getmembers()}
        if set(members) != set(BRIDGE_FILES) or not all(m.isfile() and m.size < 64 * 1024
                                                         for m in members.values()):
            raise CampusError(f"not a campus bridge bundle (files: {sorted(members)}; "
                              f"expected {list(BRIDGE_FILES)})")
        return {n: tar.extractfile(m).read() for n, m in members.items()}


# -- campus side -----------------------------------------------------------------------------
def campus_acl(buildings: list[str]) -> str:
    """mosquitto's ``acl_file``: each building's bridge writes only its own prefix (no read),
    the campus hub reads everything under ``campus/v1`` and writes nothing."""
    lines = ["# Generated by `kuzet provision campus-add`: one block per building.",
             f"user {CAMPUS_HUB_CN}", f"topic read {CAMPUS_ROOT}/#", ""]
    for b in sorted(buildings):
        lines += [f"user {bridge_cn(b)}", f"topic write {CAMPUS_ROOT}/{b}/#", ""]
    return "\n".join(lines)


def campus_mosquitto_conf(folder: Path, *, port: int = 8883, bind: str = "") -> str:
    return "\n".join([
        "# Generated by `kuzet provision campus-init`: the campus broker, TLS with client",
        "# certificates of the campus CA, an ACL per building (acl). Keep Debian's",
        "# `persistence true` (/etc/mosquitto/mosquitto.conf): the campus hub's session and",
        "# its queued messages must survive a restart of this broker.",
        "per_listener_settings false",
        *tls_listener_conf(folder, port=port, bind=bind),
        *size_limits_conf(),
        f"acl_file {folder / 'acl'}",
        "",
    ])


@dataclass(frozen=True)
class BridgeBundle:
    building: str
    serial: int
    data: bytes             # tar.gz of BRIDGE_FILES

    @property
    def filename(self) -> str:
        return f"kuzet-bridge-{self.building}.tar.gz"


class CampusPki:
    """The campus's folder: ``ca.*``, ``broker.*``, ``campus-hub.*``, ``buildings.json``
    (building -> certificate serials), ``acl``, ``mosquitto.conf``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.ca = CertificateAuthority(self.folder)

    @classmethod
    def init(cls, folder: str | Path, *, broker_names: list[str], port: int = 8883
             ) -> CampusPki:
        if not broker_names:
            raise CampusError("name the campus broker (--broker-name), as the buildings "
                              "reach it")
        for n in broker_names:
            check_host(n)
        check_port(port)
        folder = Path(folder)
        ca = CertificateAuthority.create(folder, name="Kuzet campus CA")
        for name, issued in (("broker", ca.issue(broker_names[0], server_names=broker_names)),
                             ("campus-hub", ca.issue(CAMPUS_HUB_CN))):
            (folder / f"{name}.crt").write_bytes(issued.cert_pem)
            write_private(folder / f"{name}.key", issued.key_pem)
        (folder / "broker.key").chmod(0o640)
        (folder / "buildings.json").write_text("{}")
        pki = cls(folder)
        pki._write_acl()
        (folder / "mosquitto.conf").write_text(campus_mosquitto_conf(folder, port=port))
        return pki

    def buildings(self) -> dict[str, list[int]]:
        raw = json.loads((self.folder / "buildings.json").read_text())
        return {b: [int(s) for s in serials] for b, serials in raw.items()}

    def _save(self, buildings: dict[str, list[int]]) -> None:
        (self.folder / "buildings.json").write_text(json.dumps(
            {b: [str(s) for s in serials] for b, serials in sorted(buildings.items())},
            indent=1))
        self._write_acl()

    def _write_acl(self) -> None:
        tmp = self.folder / "acl.tmp"
        tmp.write_text(campus_acl(list(self.buildings())))
        tmp.chmod(0o644)
        tmp.replace(self.folder / "acl")

    def add_building(self, building: str) -> BridgeBundle:
        """Issue ``bridge.<building>``'s certificate (a building's earlier ones are revoked)
        and allow it its prefix in the ACL. Reload the campus broker afterwards (SIGHUP)."""
        check_building(building)
        buildings = self.buildings()
        for serial in buildings.get(building, []):
            self.ca.revoke(serial)
        issued = self.ca.issue(bridge_cn(building))
        buildings[building] = [issued.serial]
        self._save(buildings)
        files = {"campus-ca.crt": self.ca.ca_pem, "bridge.crt": issued.cert_pem,
                 "bridge.key": issued.key_pem}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name in BRIDGE_FILES:
                info = tarfile.TarInfo(name)
                info.size = len(files[name])
                info.mode = 0o600 if name.endswith(".key") else 0o644
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(files[name]))
        return BridgeBundle(building, issued.serial, buf.getvalue())

    def remove_building(self, building: str) -> None:
        """Revoke the building's certificates (CRL) and take its block out of the ACL."""
        buildings = self.buildings()
        if check_building(building) not in buildings:
            raise CampusError(f"building {building!r} is not on this campus")
        for serial in buildings.pop(building):
            self.ca.revoke(serial)
        self._save(buildings)

    def campus_hub_tls(self) -> dict:
        return {"ca_certs": str(self.folder / "ca.crt"),
                "certfile": str(self.folder / "campus-hub.crt"),
                "keyfile": str(self.folder / "campus-hub.key")}
