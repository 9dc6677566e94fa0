"""Debian's rabbitmq-server (3.10) with its MQTT plugin as a campus broker, run as a plain
local process (no systemd, no /var/lib/rabbitmq): its own node name, Erlang distribution and
epmd ports, data folder and cookie, TLS on the MQTT listener with the campus CA's
certificates and the client certificate's CN as the user (``mqtt.ssl_cert_login``).

Each building's user may publish only under ``campus/v1/<building>/`` and the campus hub read
only ``campus/v1/`` (RabbitMQ's topic permissions on ``amq.topic``, which the MQTT plugin
checks against the routing key, ``/`` read as ``.``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from kuzet_tools.broker import free_port

RABBIT_HOME = next(iter(sorted(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*"))), None) \
    if Path("/usr/lib/rabbitmq/lib").exists() else None


def available() -> str | None:
    """Why RabbitMQ cannot run here, or None."""
    if RABBIT_HOME is None or not (RABBIT_HOME / "plugins").exists():
        return "Debian's rabbitmq-server is not installed (apt-get install rabbitmq-server)"
    if not list((RABBIT_HOME / "plugins").glob("rabbitmq_mqtt-*")):
        return "rabbitmq-server has no MQTT plugin"
    if shutil.which("erl") is None:
        return "no Erlang runtime (erl)"
    return None


def version() -> str:
    return RABBIT_HOME.name.split("-", 1)[1] if RABBIT_HOME else "?"


class RabbitBroker:
    mqtt_protocol = 4                # MQTT 3.1.1: 3.10's plugin has no 5.0 (3.13 has)

    def __init__(self, workdir: Path, pki: Path, buildings: list[str]) -> None:
        self.workdir = Path(workdir)
        self.pki = Path(pki)
        self.buildings = buildings
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"kuzet{self.port}@localhost"
        self.proc: subprocess.Popen | None = None
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        (self.workdir / "rabbitmq-env.conf").write_text("")
        (self.workdir / "rabbitmq.conf").write_text("\n".join([
            "listeners.tcp = none",
            "mqtt.listeners.tcp = none",
            f"mqtt.listeners.ssl.default = 127.0.0.1:{self.port}",
            f"ssl_options.cacertfile = {self.pki / 'ca.crt'}",
            f"ssl_options.certfile = {self.pki / 'broker.crt'}",
            f"ssl_options.keyfile = {self.pki / 'broker.key'}",
            "ssl_options.verify = verify_peer",
            "ssl_options.fail_if_no_peer_cert = true",
            "mqtt.ssl_cert_login = true",
            "ssl_cert_login_from = common_name",
            "mqtt.allow_anonymous = false",
            "loopback_users = none",
            f"load_definitions = {self.workdir / 'definitions.json'}",
            "",
        ]))
        (self.workdir / "definitions.json").write_text(json.dumps(self.definitions()))

    def env(self) -> dict:
        w = self.workdir
        return os.environ | {
            "RABBITMQ_HOME": str(RABBIT_HOME), "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(self.dist_port), "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_MNESIA_BASE": str(w / "mnesia"), "RABBITMQ_LOG_BASE": str(w / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(w / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(w / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(w / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(w / "pid"), "HOME": str(w), "LANG": "C.UTF-8",
        }

    def ctl(self, *args: str, timeout: float = 60) -> str:
        out = subprocess.run([str(RABBIT_HOME / "sbin" / "rabbitmqctl"), "-n", self.node, *args],
                             env=self.env(), capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {out.stderr.strip()[-500:]}")
        return out.stdout

    def start(self, timeout: float = 120) -> None:
        log = open(self.workdir / "server.log", "ab")
        self.proc = subprocess.Popen([str(RABBIT_HOME / "sbin" / "rabbitmq-server")],
                                     env=self.env(), stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        # The MQTT listener opens once the node has booted (definitions loaded); rabbitmqctl
        # would cost 10-20 s of Erlang start per call here.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"rabbitmq-server exited ({self.proc.returncode}); "
                                       f"see {self.workdir / 'log'}") from None
                time.sleep(0.3)
        raise RuntimeError(f"rabbitmq-server did not open its MQTT port in {timeout} s")

    def definitions(self) -> dict:
        """The users named by the certificates (no password: they log in by certificate
        only), with topic permissions as the mosquitto campus broker's ACL."""
        users = {"campus-hub": ("^$", r"^campus\.v1\.")}
        users |= {f"bridge.{b}": (rf"^campus\.v1\.{b}\.", "^$") for b in self.buildings}
        return {
            "users": [{"name": u, "password_hash": "", "hashing_algorithm":
                       "rabbit_password_hashing_sha256", "tags": []} for u in users],
            "vhosts": [{"name": "/"}],
            # MQTT needs configure/write/read on its own queues and on amq.topic
            "permissions": [{"user": u, "vhost": "/", "configure": ".*", "write": ".*",
                             "read": ".*"} for u in users],
            "topic_permissions": [{"user": u, "vhost": "/", "exchange": "amq.topic",
                                   "write": w, "read": r} for u, (w, r) in users.items()],
        }

    def stop(self) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)      # a clean shutdown since 3.8
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def close(self) -> None:
        self.stop()
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], capture_output=True,
                       timeout=10, env=self.env())
