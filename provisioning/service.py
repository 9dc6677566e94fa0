"""Provisioning as the technician uses it: set up the building's PKI and broker config,
enrol a node (a one-time bundle: config, certificate, key, CA), re-enrol, revoke.

The folder (default ``/etc/kuzet/pki`` on the hub) holds the CA, the broker's and the hub's
certificates, ``devices.db``, ``dynsec.json`` and ``mosquitto.conf``.
"""

from __future__ import annotations

import io
import logging
import os
import shlex
import ssl
import subprocess
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
from provisioning.signer import NodeSigner, local_signer

BUNDLE_FILES = ("node.toml", "node.crt", "node.key", "ca.crt")
RELOAD_ATTEMPTS = 3
RELOAD_RETRY_S = 1.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bundle:
    device: Device
    data: bytes          # tar.gz of BUNDLE_FILES

    @property
    def filename(self) -> str:
        d = self.device
        return f"kuzet-{d.building}-{d.room}-{d.name}.tar.gz"


@dataclass(frozen=True)
class Revocation:
    """What a revoke did: ``already`` when the node was revoked before (this run completed
    whatever was left); ``problems`` are the steps that failed (run revoke again);
    ``retried`` the reload failures that a later attempt made good."""

    device: Device
    already: bool
    problems: tuple[str, ...] = ()
    retried: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.problems


def command_reload(cmd: str) -> Callable[[], None]:
    """A broker reload that runs ``cmd`` (e.g. ``systemctl reload mosquitto``)."""

    def reload() -> None:
        try:
            out = subprocess.run(shlex.split(cmd), capture_output=True, text=True, timeout=30,
                                 check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KuzetError(f"`{cmd}` failed: {exc}") from None
        if out.returncode != 0:
            raise KuzetError(f"`{cmd}` failed (exit {out.returncode}): "
                             f"{out.stderr.strip()[:300]}")

    return reload


class Provisioner:
    """``signer`` holds the CA key: by default this process's own (``Signer`` on
    ``folder``); the hub passes a ``SignerClient`` so that it never reads ``ca.key``.
    ``registry`` is the device registry's file (default ``folder/devices.db``)."""

    def __init__(self, folder: str | Path, *, broker_host: str = "127.0.0.1",
                 broker_port: int = 8883, reload_broker: Callable[[], None] | None = None,
                 signer: NodeSigner | None = None, registry: str | Path | None = None,
                 reload_retry_s: float = RELOAD_RETRY_S) -> None:
        self.folder = Path(folder)
        self.broker_host = broker_host
        self.broker_port = broker_port
        self.reload_broker = reload_broker
        self.reload_retry_s = reload_retry_s
        self.registry = DeviceRegistry(registry or self.folder / "devices.db")
        self.signer = signer or local_signer(self.folder, self.registry)

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
        enrolled node that is enrolled again gets a new certificate; the old one is revoked.
        A revoked node is refused (the signer issues it nothing)."""
        device = self.registry.get(node_id)
        if device.status == "revoked":
            raise KuzetError(f"node {node_id} is revoked: add it again under a new name")
        issued = self.signer.issue(node_id)          # earlier certificates revoked first
        if device.status == "enrolled":
            self.reload()                            # the old certificate stops verifying
        self.registry.set_certificate(node_id, issued.serial)
        device = self.registry.get(node_id)
        if live:
            with self.admin() as admin:
                admin.add_node(device)
        return Bundle(device, self._bundle(device, issued.cert_pem, issued.key_pem, hub_host))

    def revoke(self, node_id: str, live: bool = True,
               cut_off: Callable[[Device], None] | None = None) -> Revocation:
        """Cut the node off, in the order that leaves it cut off whichever step fails:

        1. the registry marks it revoked (it can never be enrolled again);
        2. the signer puts its certificates on the CRL;
        3. its broker client and role are deleted (``cut_off``, default: through this
           process's own admin connection when ``live``), which drops its connection at once
           and leaves it no right to publish even if it reconnects;
        4. the broker reloads the CRL (retried), after which its certificate is refused.

        Each step is tried even when an earlier one failed, and repeating a revoke repeats
        every step, so a second run completes a half-done one."""
        before = self.registry.get(node_id)
        already = before.status == "revoked"
        device = before if already else self.registry.revoke(node_id)
        problems: list[str] = []
        try:
            self.signer.revoke(node_id)
        except KuzetError as exc:
            problems.append(f"the revocation list was not written: {exc}")
        if cut_off is None and live:
            cut_off = self._remove_live
        if cut_off is not None:
            try:
                cut_off(device)
            except KuzetError as exc:
                problems.append(f"its broker account was not removed: {exc}")
        retried: list[str] = []
        try:
            self.reload(retried)
        except KuzetError as exc:
            problems.append(f"the broker did not reload its CRL: {exc}")
        return Revocation(self.registry.get(node_id), already, tuple(problems), tuple(retried))

    def _remove_live(self, device: Device) -> None:
        with self.admin() as admin:
            admin.remove_node(device)

    def reload(self, failures: list[str] | None = None) -> None:
        """Make the broker re-read its CRL; a failed reload is retried
        (``RELOAD_ATTEMPTS`` in all), each failure logged and added to ``failures``."""
        if self.reload_broker is None:
            return
        failures = [] if failures is None else failures
        for attempt in range(1, RELOAD_ATTEMPTS + 1):
            try:
                self.reload_broker()
            except KuzetError as exc:
                failures.append(str(exc))
                log.warning("broker reload %d/%d failed: %s", attempt, RELOAD_ATTEMPTS, exc)
                if attempt == RELOAD_ATTEMPTS:
                    raise KuzetError(f"{RELOAD_ATTEMPTS} attempts failed; the last: {exc}") \
                        from None
                time.sleep(self.reload_retry_s)
                continue
            time.sleep(0.2)              # mosquitto reloads on its next loop
            return

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
                 "node.key": key, "ca.crt": self.signer.ca_pem}
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
