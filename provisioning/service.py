"""Provisioning as the technician uses it: set up the building's PKI and broker config,
enrol a node (a one-time bundle: config, certificate, key, CA), re-enrol, revoke.

The folder (default ``/etc/kuzet/pki`` on the hub) holds the CA, the broker's and the hub's
certificates, ``devices.db``, ``dynsec.json`` and ``mosquitto.conf``.
"""

from __future__ import annotations

import io
import os
import ssl
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from kuzet.errors import KuzetError
from provisioning.broker import (
    ADMIN_CN,
    EVIDENCE_CN,
    HUB_CN,
    DynsecAdmin,
    dynsec_config,
    mosquitto_conf,
)
from provisioning.ca import CertificateAuthority, write_private
from provisioning.registry import Device, DeviceRegistry

BUNDLE_FILES = ("node.toml", "node.crt", "node.key", "ca.crt")


@dataclass(frozen=True)
class Bundle:
    device: Device
    data: bytes          # tar.gz of BUNDLE_FILES

    @property
    def filename(self) -> str:
        d = self.device
        return f"kuzet-{d.building}-{d.room}-{d.name}.tar.gz"


class Provisioner:
    def __init__(self, folder: str | Path, *, broker_host: str = "127.0.0.1",
                 broker_port: int = 8883, reload_broker: Callable[[], None] | None = None
                 ) -> None:
        self.folder = Path(folder)
        self.broker_host = broker_host
        self.broker_port = broker_port
        self.reload_broker = reload_broker
        self.ca = CertificateAuthority(self.folder)
        self.registry = DeviceRegistry(self.folder / "devices.db")

    @classmethod
    def init(cls, folder: str | Path, *, broker_names: list[str], broker_port: int = 8883,
             **kw) -> Provisioner:
        """A new CA, the broker's and the hub's certificates, dynsec state, mosquitto.conf."""
        folder = Path(folder)
        ca = CertificateAuthority.create(folder)
        for name, issued in (("broker", ca.issue(broker_names[0], server_names=broker_names)),
                             ("hub", ca.issue(HUB_CN)), ("admin", ca.issue(ADMIN_CN)),
                             ("hub-evidence", ca.issue(EVIDENCE_CN))):
            (folder / f"{name}.crt").write_bytes(issued.cert_pem)
            write_private(folder / f"{name}.key", issued.key_pem)
        os.chmod(folder / "broker.key", 0o640)
        (folder / "dynsec.json").write_text(json_dumps(dynsec_config([])))
        (folder / "mosquitto.conf").write_text(mosquitto_conf(
            folder, port=broker_port, dynsec_file=folder / "dynsec.json"))
        return cls(folder, broker_port=broker_port, **kw)

    # -- the hub's own MQTT identity ------------------------------------------------------------
    def hub_tls(self) -> dict:
        return {"ca_certs": str(self.folder / "ca.crt"), "certfile": str(self.folder / "hub.crt"),
                "keyfile": str(self.folder / "hub.key")}

    @contextmanager
    def admin(self) -> Iterator[DynsecAdmin]:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        # Its own certificate: the broker makes the CN the client id, so connecting with the
        # hub's would take over (and end) the running hub's ingest session.
        tls = self.hub_tls()
        if (self.folder / "admin.crt").exists():
            tls.update(certfile=str(self.folder / "admin.crt"),
                       keyfile=str(self.folder / "admin.key"))
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=ADMIN_CN,
                             protocol=mqtt.MQTTv5)
        client.tls_set(**tls, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        connected = threading.Event()
        client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
        try:
            client.connect(self.broker_host, self.broker_port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise KuzetError(f"cannot reach the broker at {self.broker_host}:"
                             f"{self.broker_port}: {exc}") from None
        client.loop_start()
        if not connected.wait(10):
            client.loop_stop()
            raise KuzetError(f"the broker at {self.broker_host}:{self.broker_port} did not "
                             "accept the hub's certificate")
        try:
            yield DynsecAdmin(client)
        finally:
            client.disconnect()
            client.loop_stop()

    # -- nodes ------------------------------------------------------------------------------
    def add_node(self, node_id: str) -> Device:
        return self.registry.add(node_id)

    def enrol(self, node_id: str, *, hub_host: str, live: bool = True) -> Bundle:
        """Issue the node's certificate, allow it on the broker, and build its bundle. An
        enrolled node that is enrolled again gets a new certificate; the old one is revoked."""
        device = self.registry.get(node_id)
        if device.status == "enrolled" and device.serial:
            self.ca.revoke(int(device.serial))
            self._reload()
        issued = self.ca.issue(device.common_name)
        self.registry.set_certificate(node_id, issued.serial)
        device = self.registry.get(node_id)
        if live:
            with self.admin() as admin:
                admin.add_node(device)
        return Bundle(device, self._bundle(device, issued.cert_pem, issued.key_pem, hub_host))

    def revoke(self, node_id: str, live: bool = True) -> Device:
        device = self.registry.revoke(node_id)
        if device.serial:
            self.ca.revoke(int(device.serial))
        self._reload()                   # the broker now refuses its certificate
        if live:
            with self.admin() as admin:
                admin.remove_node(device)  # and drops its connection at once
        return self.registry.get(node_id)

    def _reload(self) -> None:
        if self.reload_broker is not None:
            self.reload_broker()
            time.sleep(0.2)              # mosquitto reloads on its next loop

    def _bundle(self, device: Device, cert: bytes, key: bytes, hub_host: str) -> bytes:
        config = {
            "seat_map": "seats.json",
            "node": {"building": device.building, "room": device.room, "name": device.name,
                     "data_dir": "/var/lib/kuzet"},
            "source": {"type": "picamera2"},
            "broker": {"host": hub_host, "port": self.broker_port, "ca_file": "ca.crt",
                       "cert_file": "node.crt", "key_file": "node.key"},
        }
        files = {"node.toml": tomli_w.dumps(config).encode(), "node.crt": cert,
                 "node.key": key, "ca.crt": self.ca.ca_pem}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name in BUNDLE_FILES:
                info = tarfile.TarInfo(name)
                info.size = len(files[name])
                info.mode = 0o600 if name == "node.key" else 0o644
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(files[name]))
        return buf.getvalue()


def install_bundle(data: bytes, dest: str | Path) -> list[Path]:
    """Unpack a bundle on the node (only the expected names; the key stays private)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        unknown = set(members) - set(BUNDLE_FILES)
        if unknown or set(BUNDLE_FILES) - set(members):
            raise KuzetError(f"not a Kuzet enrolment bundle (files: {sorted(members)})")
        for name in BUNDLE_FILES:
            m = members[name]
            if not m.isfile():
                raise KuzetError(f"bundle entry {name} is not a plain file")
            content = tar.extractfile(m).read()
            path = dest / name
            if name == "node.key":
                write_private(path, content)
            else:
                path.write_bytes(content)
            written.append(path)
    return written


def json_dumps(data) -> str:
    import json

    return json.dumps(data, indent=1)
