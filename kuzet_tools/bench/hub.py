"""A hub in its own process (``kuzet hub run``) for the benchmark (``kuzet_tools/bench/campus.py``)
and the fault tests: its config, its dean, waiting for its port, a login, and the filesystem
its evidence goes to. (The synthetic ``kuzet bench hub``, 2,000 alerts/s with 4 KB of
evidence, was replaced by ``kuzet bench campus``: decision 50.)
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

PASSWORD = "bench password 1"


def write_hub_config(tmp: Path, broker_port: int, web_port: int, threads: int = 96,
                     evidence_process: bool = False) -> Path:
    """A hub config; every open live page holds one of the web server's ``threads``."""
    key = os.urandom(24).hex()
    cfg = tmp / "hub.toml"
    cfg.write_text(f"""
[hub]
data_dir = "{tmp / 'hub'}"
[web]
host = "127.0.0.1"
port = {web_port}
threads = {threads}
secret_key = "{key}"
cookie_secure = false
[broker]
host = "127.0.0.1"
port = {broker_port}
client_id = "kuzet-hub-bench"
evidence_process = {str(evidence_process).lower()}
# The bench publishes each topic from its own process, so evidence can run hundreds of
# messages ahead of the alerts that name it (a node sends them milliseconds apart); the
# hub may hold as many as the broker lets it leave unacknowledged (receive_maximum 1000).
orphan_max = 999
""")
    return cfg


def seed_users(cfg_path: Path, building: str = "bench") -> None:
    """The bench's dean of ``building`` (the user its live pages log in as) in ``cfg_path``'s
    database."""
    from hub.config import load_config
    from hub.store.db import transaction
    from hub.store.migrations import open_database
    from hub.store.users import add_user, set_buildings

    db = open_database(load_config(cfg_path).hub.db_path)
    with transaction(db.conn) as conn:
        set_buildings(conn, add_user(conn, "dean", PASSWORD, "dean"), [building])
    db.close()


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Until ``port`` on loopback accepts connections; RuntimeError if ``proc`` exits first or
    ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the hub exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the hub did not open its port")


def _login(base: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": "dean", "password": PASSWORD,
                                   "csrf_token": token}).encode()
    opener.open(f"{base}/login", body).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def filesystem_of(path: Path) -> dict:
    """The filesystem holding ``path`` (Linux ``/proc``): its mount point, type and, for ext4,
    whether it keeps a journal. On ext4 without one, the kernel looks through every recently
    freed inode of a block group before it reuses one, so creating files costs about 0.3 ms
    each for some minutes after many were deleted (docs/reliability.md, Load)."""
    path = path.resolve()
    best = ("", "", "")
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        mount = fields[4]
        fs_type, source = line.split(" - ", 1)[1].split()[:2]
        inside = path == Path(mount) or Path(mount) in path.parents
        if inside and len(mount) >= len(best[0]):
            best = (mount, fs_type, source)
    mount, fs_type, source = best
    found: dict = {"mount": mount, "type": fs_type}
    if fs_type == "ext4":
        options = Path("/proc/fs/ext4") / Path(source).name / "options"
        if options.exists():
            found["journal"] = any(o.startswith("data=") for o in options.read_text().split())
    return found
