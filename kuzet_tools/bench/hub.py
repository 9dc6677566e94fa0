"""``kuzet bench hub --json``: the hub measured on this machine with a real mosquitto.

The hub runs as its own process (``kuzet hub run``: ingest + writer + waitress, with the
evidence topics in a second process, ``[broker] evidence_process = true``, as advised for a
hub with two or more cores), as in production; this process plays the nodes and the pages.

* ``ingest_per_s``: alerts per second stored, each with its evidence file (a real JPEG, saved,
  fsynced and recorded), sustained over ``alerts`` alerts published as fast as QoS 1 allows by
  4 nodes (``mosquitto_pub`` processes, see ``_ingest``); from the first publish until the
  last evidence row is committed.
* ``latency_p50_ms`` / ``latency_p99_ms``: from a node's publish of an alert to the moment the
  live page of its room receives it over SSE, with ``nodes`` nodes (2 per room, each also
  sending a heartbeat every second) and ``pages`` open live pages (one per room).
* ``evidence_fs``: the filesystem the evidence files were written to (``filesystem_of``): on
  ext4 without a journal, file creation is several times slower for minutes after many
  files were deleted (for example by the previous bench run or the test suite).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

TARGETS = {"ingest_per_s": 2000.0, "latency_p99_ms": 250.0}
PASSWORD = "bench password 1"


def write_hub_config(tmp: Path, broker_port: int, web_port: int, threads: int = 96,
                     evidence_process: bool = False, fast_decoder: bool = False) -> Path:
    """A hub config; every open live page holds one of the web server's ``threads``;
    ``fast_decoder`` turns on the opt-in paho speed-ups (``hub.mqtt_fast``)."""
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
fast_decoder = {str(fast_decoder).lower()}
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


class SseReader(threading.Thread):
    """One open live page: reads the room's stream and notes when each alert first arrives."""

    def __init__(self, port: int, path: str, cookie: str, seen: dict, lock) -> None:
        super().__init__(daemon=True, name=f"sse{path}")
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                          f"Accept: text/event-stream\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        self.seen, self.lock = seen, lock
        self.opened = threading.Event()

    def run(self) -> None:
        event = None
        for line in self.file:
            if line.startswith(b": open"):
                self.opened.set()
            elif line.startswith(b"event: "):
                event = line[7:].strip()
            elif line.startswith(b"data: ") and event == b"alert":
                now = time.perf_counter()
                alert_id = json.loads(line[6:])["alert_id"]
                with self.lock:
                    self.seen.setdefault(alert_id, now)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _nodes(host: str, port: int, n: int, rooms: int):
    from kuzet import contract
    from kuzet_tools.bench.sim import NodeSim

    return [NodeSim(host, port, contract.Origin(building="bench", room=f"r{i % rooms:03d}",
                                                node=f"cam{i:03d}"), client_id=f"bench-{i}")
            for i in range(n)]


def _rss_mb(pid: int) -> float:
    """The hub process's resident memory (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


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


def _evidence_count(db_path: Path) -> int:
    from hub.store.alerts import evidence_count
    from hub.store.db import connect

    conn = connect(db_path, readonly=True)
    try:
        return evidence_count(conn)
    finally:
        conn.close()


def _ingest(broker, nodes, db_path: Path, alerts: int, jpeg: bytes,
            series: list | None = None) -> float:
    """Publish ``alerts`` alerts with evidence as the first 4 nodes; alerts per second.

    The load is published by Debian's ``mosquitto_pub`` (C, QoS 1, MQTT 5), one process per
    node and topic, fed the payloads encoded by the contract module, so that the load
    generator takes little of the 2 cores the hub is measured on (in production the nodes
    are other machines; a Python paho publisher costs about 6 times as much CPU per message).
    ``series`` gets ``(seconds since start, alerts stored)`` samples for the plot."""
    from kuzet import contract
    from kuzet_tools.bench.sim import alert_for, evidence_for

    pub_cli = shutil.which("mosquitto_pub")
    if pub_cli is None:
        raise RuntimeError("mosquitto_pub not found: install the Debian package "
                           "mosquitto-clients (scripts/bootstrap does)")
    lines: dict[str, list[bytes]] = {}
    for i in range(alerts):
        origin = nodes[i % 4].origin
        aid = contract.new_id()
        ev = evidence_for(origin, aid, jpeg, kind="crop")
        al = alert_for(origin, f"s{i % 30}", alert_id=aid, evidence=[ev])
        lines.setdefault(contract.topic(origin, "alert"), []).append(contract.encode(al))
        lines.setdefault(contract.topic(origin, "evidence"), []).append(contract.encode(ev))
    base = _evidence_count(db_path)
    t0 = time.perf_counter()
    procs = [subprocess.Popen([pub_cli, "-h", broker.host, "-p", str(broker.port),
                               "-V", "mqttv5", "-q", "1", "-M", "500", "-i", f"bench-load-{k}",
                               "-t", topic, "-l"], stdin=subprocess.PIPE)
             for k, topic in enumerate(lines)]
    feeders = [threading.Thread(target=_feed, args=(p, lines[t]), daemon=True)
               for p, t in zip(procs, lines, strict=True)]
    for f in feeders:
        f.start()
    deadline = time.monotonic() + 300
    while (done := _evidence_count(db_path) - base) < alerts \
            and time.monotonic() < deadline:
        if series is not None:
            series.append((time.perf_counter() - t0, done))
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    for p in procs:
        if p.wait(timeout=30) != 0:
            raise RuntimeError(f"mosquitto_pub exited with {p.returncode}")
    if done < alerts:
        raise RuntimeError(f"only {done} of {alerts} alerts were stored within 300 s")
    if series is not None:
        series.append((elapsed, alerts))
    return alerts / elapsed


def _feed(proc: subprocess.Popen, payloads: list[bytes]) -> None:
    """One payload per line (the contract's JSON has no raw newlines), then end of input."""
    proc.stdin.write(b"\n".join(payloads) + b"\n")
    proc.stdin.close()


def _latency(nodes, readers, seen, lock, seconds: float, rate: float, jpeg: bytes) -> list:
    from kuzet import contract
    from kuzet_tools.bench.sim import alert_for, evidence_for

    sent: dict[str, float] = {}
    stop = threading.Event()

    def heartbeats():
        while not stop.wait(1.0):
            for n in nodes:
                n.heartbeat()

    hb = threading.Thread(target=heartbeats, daemon=True)
    hb.start()
    i, t_end = 0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        node = nodes[i % len(nodes)]
        aid = contract.new_id()
        ev = evidence_for(node.origin, aid, jpeg, kind="crop")
        payload = contract.encode(alert_for(node.origin, "s1", alert_id=aid, evidence=[ev]))
        sent[aid] = time.perf_counter()
        node.client.publish(contract.topic(node.origin, "alert"), payload, qos=1)
        node.client.publish(contract.topic(node.origin, "evidence"), contract.encode(ev), qos=1)
        i += 1
        time.sleep(max(0.0, sent[aid] + 1 / rate - time.perf_counter()))
    time.sleep(2.0)
    stop.set()
    with lock:
        return [(t, 1000 * (seen[a] - t)) for a, t in sent.items() if a in seen], len(sent)


def bench_hub(alerts: int = 10000, nodes: int = 100, pages: int = 50,
              seconds: float = 10.0, rate: float = 20.0, series: dict | None = None,
              evidence_process: bool = True, fast_decoder: bool = False) -> dict:
    """The hub's figures; ``series`` (if given) gets ``ingest`` and ``latency`` samples.
    By default the hub runs stock paho, as it does in production; ``fast_decoder`` measures
    the opt-in speed-ups."""
    from kuzet_tools.bench.sim import snapshot_jpeg
    from kuzet_tools.broker import MosquittoBroker, free_port

    jpeg = snapshot_jpeg(160, 160, [[20, 20], [140, 20], [140, 140], [20, 140]], quality=90)
    with tempfile.TemporaryDirectory(prefix="kuzet-hub-bench-") as tmp:
        tmp = Path(tmp)
        evidence_fs = filesystem_of(tmp)
        with MosquittoBroker(tmp / "mq", persistence=True,
                             extra_conf="max_inflight_messages 1000") as broker:
            web_port = free_port()
            cfg = write_hub_config(tmp, broker.port, web_port, threads=max(96, pages + 32),
                                   evidence_process=evidence_process,
                                   fast_decoder=fast_decoder)
            seed_users(cfg)
            log = open(tmp / "hub.log", "wb")
            hub = subprocess.Popen([sys.executable, "-m", "kuzet_tools.cli", "hub", "run",
                                    "--config", str(cfg)], stdout=log, stderr=log)
            sims, readers = [], []
            try:
                wait_for_port(web_port, hub)
                sims = _nodes(broker.host, broker.port, nodes, pages)
                for s in sims:
                    s.status("online")
                db_path = tmp / "hub" / "hub.db"
                ingest_series: list = []
                ingest = _ingest(broker, sims, db_path, alerts, jpeg, ingest_series)
                cookie = _login(f"http://127.0.0.1:{web_port}")
                seen: dict[str, float] = {}
                lock = threading.Lock()
                for r in range(pages):
                    reader = SseReader(web_port, f"/live/bench/r{r:03d}/stream", cookie, seen,
                                       lock)
                    reader.start()
                    readers.append(reader)
                for reader in readers:
                    if not reader.opened.wait(10):
                        raise RuntimeError("a live page did not open")
                rss_start = _rss_mb(hub.pid)
                timed, published = _latency(sims, readers, seen, lock, seconds, rate, jpeg)
                rss_end = _rss_mb(hub.pid)
            finally:
                for reader in readers:
                    reader.close()
                for s in sims:
                    s.close()
                hub.terminate()
                hub.wait(timeout=20)
                log.close()
    if series is not None:
        t0 = min((t for t, _ in timed), default=0.0)
        series["ingest"] = ingest_series
        series["latency"] = [(t - t0, ms) for t, ms in timed]
    lat = sorted(ms for _, ms in timed)
    result = {
        "ingest_per_s": round(ingest, 1),
        "latency_p50_ms": round(statistics.median(lat), 1) if lat else None,
        "latency_p99_ms": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1) if lat
        else None,
        "nodes": nodes, "pages": pages,
        "alerts_ingested": alerts, "evidence_bytes": len(jpeg),
        "ingest_load": "mosquitto_pub, QoS 1, MQTT 5, 4 nodes",
        "evidence_process": evidence_process,
        "fast_decoder": fast_decoder,
        "evidence_fs": evidence_fs,
        "latency_samples": len(lat), "latency_published": published,
        "hub_rss_mb_start": rss_start, "hub_rss_mb_end": rss_end,
        "targets": TARGETS,
    }
    result["pass"] = {
        "ingest_per_s": result["ingest_per_s"] >= TARGETS["ingest_per_s"],
        "latency_p99_ms": result["latency_p99_ms"] is not None
        and result["latency_p99_ms"] <= TARGETS["latency_p99_ms"]
        and len(lat) == published,
    }
    return result
