"""A building's PKI made by ``kuzet provision init`` and a real mosquitto running the TLS
config it wrote (listening on 127.0.0.1 only), for the tests that need certificates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kuzet_tools.broker import MosquittoBroker, free_port
from provisioning.service import Provisioner


@contextmanager
def provisioned_broker(root: Path) -> Iterator[tuple[Provisioner, MosquittoBroker, Path]]:
    """``(provisioner, broker, pki folder)``: the PKI in ``root/pki``, the broker's files in
    ``root/mq``; the provisioner reloads this broker (SIGHUP) on revocation."""
    port = free_port()
    pki = root / "pki"
    prov = Provisioner.init(pki, broker_names=["localhost", "127.0.0.1"], broker_port=port)
    conf = (pki / "mosquitto.conf").read_text().replace(f"listener {port}",
                                                        f"listener {port} 127.0.0.1")
    with MosquittoBroker(root / "mq", port=port, conf_text=conf) as broker:
        prov.reload_broker = broker.reload
        yield prov, broker, pki
