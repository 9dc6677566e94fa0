"""Debian's nginx as the hub's TLS front, run by a test as an ordinary process: its own prefix
and config in a temp folder, loopback ports of its own, the site that ``kuzet provision web``
writes included as it is."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def nginx_path() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        pytest.fail("nginx is missing (Debian package nginx; scripts/bootstrap installs it)")
    return path


class NginxFront:
    """``with NginxFront(folder, site, ports):`` nginx in the foreground, one process,
    logs and temp files in ``folder``."""

    def __init__(self, folder: Path, site: Path, ports: tuple[int, ...]) -> None:
        self.folder = Path(folder)
        self.site = site
        self.ports = ports
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        f = self.folder
        temps = "\n".join(f"    {kind}_temp_path {f / kind};"
                          for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return (f"daemon off;\nmaster_process off;\npid {f / 'nginx.pid'};\n"
                f"error_log {f / 'error.log'} info;\nevents {{ worker_connections 64; }}\n"
                f"http {{\n    access_log {f / 'access.log'};\n{temps}\n"
                f"    include {self.site};\n}}\n")

    def __enter__(self) -> NginxFront:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "nginx.conf"
        conf.write_text(self.config())
        self.proc = subprocess.Popen([nginx_path(), "-p", str(self.folder), "-c", str(conf),
                                      "-e", str(self.folder / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        for port in self.ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if self.proc.poll() is not None:
                        raise RuntimeError(f"nginx exited: {self.proc.stderr.read()}") from None
                    if time.monotonic() > deadline:
                        raise RuntimeError("nginx did not open its ports") from None
                    time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc.stderr.close()
