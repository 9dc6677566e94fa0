"""Start and stop a real mosquitto on a free port (tests, benchmarks and the demo)."""

from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from provisioning.broker import size_limits_conf


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free TCP port below the kernel's ephemeral range. A port the kernel hands out
    (bind to 0) is one an outgoing connection may take as its own source port later, so a
    broker started on it after a while (an outage, a node that connects first) could find it
    in use; a node reconnecting to a port with no listener can even connect to itself there."""
    high = max(_ephemeral_low(), 12000)
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class MosquittoBroker:
    """A mosquitto process with its own config. ``stop()``/``start()`` simulate an outage on
    the same port. Without ``persistence`` a restart is a broker that forgot every session;
    with it, sessions and their queued QoS 1 messages survive (as on the hub's broker)."""

    def __init__(self, workdir: Path, port: int | None = None, extra_conf: str = "",
                 persistence: bool = False, conf_text: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra_conf = extra_conf
        self.persistence = persistence
        self.conf_text = conf_text          # a whole config of one's own (TLS tests)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        persist = (f"persistence true\npersistence_location {self.workdir}/\n"
                   if self.persistence else "persistence false\n")
        # Started as root, mosquitto drops to the "mosquitto" user unless told otherwise, and
        # could then not write its persistence file in our folder.
        user = f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
        if self.conf_text is not None:
            conf.write_text(f"{user}{self.conf_text}\n")
        else:
            limits = "\n".join(size_limits_conf())   # as ``kuzet provision`` writes them
            conf.write_text(
                f"{user}listener {self.port} 127.0.0.1\nallow_anonymous true\n{persist}"
                f"{limits}\n{self.extra_conf}\n"
            )
        with open(self.workdir / "mosquitto.log", "ab") as log:
            self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    log = (self.workdir / "mosquitto.log").read_text()
                    raise RuntimeError(f"mosquitto exited: {log}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not open its port within 10 s")

    def reload(self) -> None:
        """SIGHUP: mosquitto re-reads its config, ACLs and CRL."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
