"""``kuzet bench campus --json``: a campus of buildings on this machine, at a busy exam's alert
rate times ten, with real-sized evidence. The hub's benchmark (it replaced the synthetic
2,000 alerts/s of ``kuzet bench hub``, decision 50).

Each building is its own mosquitto and its own hub process (``kuzet hub run``: ingest, writer,
waitress; ``evidence_process`` off, as a building runs it) pinned to one core
(``taskset``, util-linux); on a machine with fewer cores than buildings the hubs share the
cores in turn (the JSON says which core each had): harsher than a campus, where each building
hub has a machine of its own. Every room has one simulated node (``NodeSim``) that sends its
retained status at the start, a heartbeat every ``HEARTBEAT_S`` (the node's default), and one
alert a minute (a busy exam's rate times ten), each with the evidence the node makes on the
classroom footage (``footage_evidence``: a snapshot and the seat's crop with the alert, the
clip ``clip_after_s`` later with the alert's close). Each building's broker bridges its status
and alert topics (mosquitto's own bridge, QoS 1, a persistent session, remapped to
``campus/v1/<building>/…``; without TLS in the bench) to a campus mosquitto.

Measured in the same run:

* ``bare_broker``: a plain paho publisher and subscriber through one mosquitto, QoS 1,
  alert-sized messages, messages per second.
* ``building.p99_ms``: a node's publish of an alert to its room's live page (the building
  hub's SSE stream, one open per room) showing it; target ≤ 250 ms.
* ``campus.p99_ms``: the same publish to its arrival at the campus (a subscriber on the
  campus broker until a campus hub is part of the bench: ``campus.measured_at`` says which);
  target ≤ 2 s.
* ``lost`` / ``duplicated``: by alert id, at the building hubs (their databases: every alert
  and each of its evidence files) and on campus (every open and close, counted as delivered).
* ``hubs``: per hub CPU seconds (user + system, ``/proc``) and bytes added to its data folder
  during the run, each also scaled to an exam-hour from the run's length; RSS at the start of
  the load and at its end.
"""

from __future__ import annotations

import heapq
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kuzet.errors import ConfigError
from kuzet_tools.bench.hub import (
    _login,
    filesystem_of,
    seed_users,
    wait_for_port,
    write_hub_config,
)

TARGETS = {"building_p99_ms": 250.0, "campus_p99_ms": 2000.0, "lost": 0, "duplicated": 0}
HEARTBEAT_S = 10.0                       # edge.config.NodeConfig.heartbeat_s
ALERT_EVERY_S = 60.0                     # one alert per room per minute
SETTLE_S = 30.0              # at most, after the last publish: until every hub and the campus
                             # have all (the last clips, the bridge)
TICK = os.sysconf("SC_CLK_TCK")


# -- the machine's view of a process ----------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its waited-for children (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def written_bytes(pid: int) -> int:
    """Bytes the process caused to be written to storage (``/proc/<pid>/io`` write_bytes)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _max(values: list[float]) -> float | None:
    return round(max(values), 1) if values else None


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(0.99 * len(values)))], 1)


# -- brokers ----------------------------------------------------------------------------------
def bridge_conf(building: str, campus_port: int) -> str:
    """The building broker's bridge to the campus broker, as the topic scheme has it (no TLS
    here)."""
    return "\n".join([
        f"connection campus-{building}",
        f"address 127.0.0.1:{campus_port}",
        f"remote_clientid bridge.{building}",
        "cleansession false",
        "bridge_protocol_version mqttv311",
        "notifications false",
        "restart_timeout 1 5",
        f"topic +/+/status out 1 kuzet/v1/{building}/ campus/v1/{building}/",
        f"topic +/+/alert out 1 kuzet/v1/{building}/ campus/v1/{building}/",
    ])


def bare_broker_rate(workdir: Path, payload: bytes, count: int = 5000) -> dict:
    """A paho publisher and subscriber through one fresh mosquitto, QoS 1: messages/s from
    the first publish to the last message received."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from kuzet_tools.broker import MosquittoBroker

    with MosquittoBroker(workdir) as broker:
        got, done, ready = [0], threading.Event(), threading.Event()
        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare-sub",
                          protocol=mqtt.MQTTv5)
        sub.on_connect = lambda c, *a: c.subscribe("bare/#", qos=1)
        sub.on_subscribe = lambda *a: ready.set()

        def on_message(*a):
            got[0] += 1
            if got[0] == count:
                done.set()

        sub.on_message = on_message
        sub.connect(broker.host, broker.port)
        sub.loop_start()
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare-pub",
                          protocol=mqtt.MQTTv5)
        pub.max_inflight_messages_set(100)
        pub.max_queued_messages_set(0)
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        try:
            if not ready.wait(10):
                raise RuntimeError("the bare broker's subscriber did not subscribe")
            t0 = time.perf_counter()
            for _ in range(count):
                pub.publish("bare/a", payload, qos=1)
            if not done.wait(120):
                raise RuntimeError(f"bare broker: {got[0]} of {count} messages arrived")
            elapsed = time.perf_counter() - t0
        finally:
            for c in (pub, sub):
                c.disconnect()
                c.loop_stop()
    return {"messages_per_s": round(count / elapsed, 1), "messages": count,
            "payload_bytes": len(payload), "qos": 1, "client": "paho (Python), one each"}


# -- the pages and the campus -----------------------------------------------------------------
class LivePages(threading.Thread):
    """Every room's open live page, on one thread (a selector over the SSE sockets): the
    moment each alert id first shows on its building's page."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="live-pages")
        self.sel = selectors.DefaultSelector()
        self.seen: dict[str, float] = {}
        self.opened = 0
        self.lock = threading.Lock()
        self._stopping = False

    def open(self, port: int, path: str, cookie: str) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                     f"Accept: text/event-stream\r\n\r\n".encode())
        sock.setblocking(False)
        self.sel.register(sock, selectors.EVENT_READ, {"buf": b"", "event": None})

    def run(self) -> None:
        while not self._stopping:
            for key, _ in self.sel.select(timeout=0.2):
                now = time.perf_counter()
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.sel.unregister(key.fileobj)
                    key.fileobj.close()
                    continue
                state = key.data
                *lines, state["buf"] = (state["buf"] + data).split(b"\n")
                for line in lines:
                    if line.startswith(b": open"):
                        with self.lock:
                            self.opened += 1
                    elif line.startswith(b"event: "):
                        state["event"] = line[7:].strip()
                    elif line.startswith(b"data: ") and state["event"] == b"alert":
                        alert_id = json.loads(line[6:])["alert_id"]
                        with self.lock:
                            self.seen.setdefault(alert_id, now)

    def close(self) -> None:
        self._stopping = True
        self.join(timeout=5)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


class CampusWatcher:
    """A subscriber on the campus broker: every alert message's arrival, by (alert id,
    event), and any whose topic names another building than its origin."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.first: dict[str, float] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.statuses = 0
        self.other_kinds = 0                 # evidence, commands, heartbeats: never bridged
        self.wrong_building = 0
        self.lock = threading.Lock()
        ready = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="campus-watch",
                        protocol=mqtt.MQTTv5)
        c.on_connect = lambda cl, *a: cl.subscribe("campus/v1/#", qos=1)
        c.on_subscribe = lambda *a: ready.set()
        c.on_message = self._on_message
        c.connect(host, port)
        c.loop_start()
        if not ready.wait(10):
            raise RuntimeError("the campus subscriber did not subscribe")
        self.client = c

    def _on_message(self, client, userdata, msg) -> None:
        now = time.perf_counter()
        parts = msg.topic.split("/")
        body = json.loads(msg.payload) if parts[-1] in ("status", "alert") else {}
        with self.lock:
            if body and body.get("origin", {}).get("building") != parts[2]:
                self.wrong_building += 1
            if parts[-1] == "status":
                self.statuses += 1
                return
            if parts[-1] != "alert":
                self.other_kinds += 1
                return
            key = (body["alert_id"], body["event"])
            self.counts[key] = self.counts.get(key, 0) + 1
            if body["event"] == "open":
                self.first.setdefault(body["alert_id"], now)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# -- one building -----------------------------------------------------------------------------
class Building:
    """A building's mosquitto (bridged to the campus) and its hub process on ``core``."""

    def __init__(self, root: Path, name: str, campus_port: int, core: int,
                 rooms: int) -> None:
        from kuzet_tools.broker import MosquittoBroker, free_port

        self.name, self.core, self.root = name, core, root
        self.broker = MosquittoBroker(root / "mq", persistence=True,
                                      extra_conf=bridge_conf(name, campus_port))
        self.broker.start()
        self.web_port = free_port()
        cfg = write_hub_config(root, self.broker.port, self.web_port, threads=rooms + 16)
        cfg.write_text(cfg.read_text().replace('client_id = "kuzet-hub-bench"',
                                               f'client_id = "kuzet-hub-{name}"')
                       .replace("[broker]", "sse_max_age_s = 86400\n[broker]"))
        seed_users(cfg, building=name)
        self.data = root / "hub"
        self.log = open(root / "hub.log", "wb")
        # taskset: the process is on ``core`` from its first instruction, every thread too
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(core), sys.executable, "-m", "kuzet_tools.cli", "hub", "run",
             "--config", str(cfg)], stdout=self.log, stderr=self.log)
        self.nodes: list = []

    def sample(self) -> dict:
        return {"cpu_s": cpu_seconds(self.proc.pid), "rss_mb": rss_mb(self.proc.pid),
                "folder_bytes": folder_bytes(self.data),
                "written_bytes": written_bytes(self.proc.pid)}

    def stored(self) -> tuple[set[str], dict[str, int], int]:
        """The alert ids in the hub's database, its evidence rows by kind, and rows beyond one
        per (alert, kind) of evidence."""
        from hub.store.db import connect

        conn = connect(self.data / "hub.db", readonly=True)
        try:
            ids = {r[0] for r in conn.execute("SELECT alert_id FROM alerts")}
            kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM evidence GROUP BY kind"))
            extra = conn.execute("SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) n FROM"
                                 " evidence GROUP BY alert_id, kind)").fetchone()[0]
        finally:
            conn.close()
        return ids, kinds, extra

    def stop(self) -> None:
        for n in self.nodes:
            n.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.broker.stop()


# -- the load ---------------------------------------------------------------------------------
class Load:
    """Every node's schedule: heartbeats, one alert a minute (snapshot and crop with it), the
    clip and the close ``clip_after_s`` later. Publishes from one thread, in time order."""

    def __init__(self, nodes: list, evidence: list, seconds: float, clip_after_s: float) -> None:
        self.nodes, self.evidence = nodes, evidence
        self.seconds, self.clip_after = seconds, clip_after_s
        self.sent: dict[str, float] = {}
        self.by_building: dict[str, set[str]] = {}
        self.closes = 0
        self.errors: list[str] = []

    def run(self) -> None:
        from kuzet_tools.bench.sim import alert_for, evidence_for

        n = len(self.nodes)
        t0 = time.perf_counter()
        heap: list = []
        for i in range(n):
            heapq.heappush(heap, (i * HEARTBEAT_S / n, 0, i, "heartbeat", None))
            heapq.heappush(heap, (i * ALERT_EVERY_S / n, 1, i, "alert", None))
        count = 0
        while heap:
            at, _, i, what, extra = heapq.heappop(heap)
            if what != "clip" and at >= self.seconds:
                continue
            delay = t0 + at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            node = self.nodes[i]
            if what == "heartbeat":
                node.heartbeat()
                heapq.heappush(heap, (at + HEARTBEAT_S, 0, i, "heartbeat", None))
            elif what == "alert":
                ev = self.evidence[count % len(self.evidence)]
                count += 1
                alert, snap, crop = self._open(node, ev, alert_for, evidence_for)
                heapq.heappush(heap, (at + self.clip_after, 2, i, "clip", (alert, ev)))
                heapq.heappush(heap, (at + ALERT_EVERY_S, 1, i, "alert", None))
            else:
                alert, ev = extra
                clip = evidence_for(node.origin, alert.alert_id, ev.clip, kind="clip",
                                    content_type="video/x-msvideo")
                node.publish(clip, wait=False)
                close = alert_for(node.origin, alert.seat, alert_id=alert.alert_id,
                                  event="close", duration_s=self.clip_after,
                                  evidence=[clip], started_at=alert.started_at)
                node.publish(close, wait=False)
                self.closes += 1

    def _open(self, node, ev, alert_for, evidence_for):
        from kuzet import contract

        aid = contract.new_id()
        snap = evidence_for(node.origin, aid, ev.snapshot, kind="snapshot")
        crop = evidence_for(node.origin, aid, ev.crop, kind="crop")
        alert = alert_for(node.origin, "s1", alert_id=aid, evidence=[snap, crop])
        self.sent[aid] = time.perf_counter()
        self.by_building.setdefault(node.origin.building, set()).add(aid)
        node.publish(alert, wait=False)
        node.publish(snap, wait=False)
        node.publish(crop, wait=False)
        return alert, snap, crop


# -- the bench --------------------------------------------------------------------------------
def bench_campus(minutes: float = 3.0, buildings: int = 10, rooms: int = 20,
                 series: dict | None = None) -> dict:
    """The campus's figures, compared with ``TARGETS`` in ``pass``; ``series`` (if given)
    gets ``latency``: (seconds into the load, ms to the building's page) per alert."""
    from edge.config import EvidenceSection
    from kuzet import contract
    from kuzet_tools.bench.footage_evidence import footage_evidence
    from kuzet_tools.bench.sim import NodeSim, alert_for
    from kuzet_tools.broker import MosquittoBroker

    if minutes <= 0 or not 1 <= buildings <= 99 or not 1 <= rooms <= 99:
        raise ConfigError("--minutes must be above 0, --buildings and --rooms from 1 to 99")
    seconds = minutes * 60
    clip_after = EvidenceSection().clip_after_s
    evidence = footage_evidence()
    cores = sorted(os.sched_getaffinity(0))
    probe = contract.encode(alert_for(contract.Origin(building="b01", room="r01",
                                                      node="cam1"), "s1"))
    load_avg_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kuzet-campus-bench-") as tmp:
        tmp = Path(tmp)
        bare = bare_broker_rate(tmp / "bare", probe)
        campus = MosquittoBroker(tmp / "campus-mq", persistence=True)
        campus.start()
        blds: list[Building] = []
        pages = LivePages()
        watcher = None
        try:
            watcher = CampusWatcher(campus.host, campus.port)
            for b in range(buildings):
                name = f"b{b + 1:02d}"
                blds.append(Building(tmp / name, name, campus.port, cores[b % len(cores)],
                                     rooms))
            for bld in blds:                     # started together, waited for in turn
                wait_for_port(bld.web_port, bld.proc, timeout=60)
            for bld in blds:
                cookie = _login(f"http://127.0.0.1:{bld.web_port}")
                for r in range(rooms):
                    origin = contract.Origin(building=bld.name, room=f"r{r + 1:02d}",
                                             node="cam1")
                    bld.nodes.append(NodeSim(bld.broker.host, bld.broker.port, origin,
                                             client_id=f"node-{bld.name}-{origin.room}"))
                    pages.open(bld.web_port, f"/live/{bld.name}/{origin.room}/stream", cookie)
            pages.start()
            deadline = time.monotonic() + 30
            while pages.opened < buildings * rooms and time.monotonic() < deadline:
                time.sleep(0.1)
            if pages.opened < buildings * rooms:
                raise RuntimeError(f"only {pages.opened} live pages opened")
            # the rooms' minutes interleave the buildings: each gets its share from the start
            nodes = [bld.nodes[r] for r in range(rooms) for bld in blds]
            for n in nodes:
                n.status("online")
            time.sleep(1.0)
            before = [bld.sample() for bld in blds]
            load = Load(nodes, evidence, seconds, clip_after)
            t_load = time.perf_counter()
            load.run()
            load_s = time.perf_counter() - t_load
            settle_s = _settle(blds, load, watcher)
            after = [bld.sample() for bld in blds]
            stored = [bld.stored() for bld in blds]
        finally:                    # every process stopped, whatever failed before
            for step in ([pages.close] + ([watcher.close] if watcher else [])
                         + [bld.stop for bld in blds] + [campus.stop]):
                try:
                    step()
                except Exception as exc:    # noqa: BLE001 (the next must still stop)
                    print(f"campus bench: stopping: {exc}", file=sys.stderr)
        evidence_fs = filesystem_of(tmp)
    if series is not None:
        series["latency"] = [(t - t_load, 1000 * (pages.seen[a] - t))
                             for a, t in load.sent.items() if a in pages.seen]
    return _report(locals())


def _settle(blds: list, load: Load, watcher: CampusWatcher) -> float:
    """Wait until every building hub holds each of its alerts with their three files and the
    campus has each open and close (at most ``SETTLE_S``); the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < SETTLE_S:
        with watcher.lock:
            campus_done = all((a, e) in watcher.counts for a in load.sent
                              for e in ("open", "close"))
        if campus_done and all(_complete(b, load.by_building.get(b.name, set()))
                               for b in blds):
            break
        time.sleep(0.5)
    return round(time.monotonic() - t0, 1)


def _complete(bld: Building, mine: set[str]) -> bool:
    ids, kinds, _ = bld.stored()
    return mine <= ids and all(kinds.get(k, 0) >= len(mine) for k in ("snapshot", "crop", "clip"))


def _report(run: dict) -> dict:
    load, pages, watcher, blds = run["load"], run["pages"], run["watcher"], run["blds"]
    sent = load.sent
    building_ms = [1000 * (pages.seen[a] - t) for a, t in sent.items() if a in pages.seen]
    campus_ms = [1000 * (watcher.first[a] - t) for a, t in sent.items() if a in watcher.first]
    hour = 3600 / run["seconds"]      # the alerts came over ``seconds``; their work is counted
                                      # until every hub and the campus had all of it
    hubs, lost_b, dup_b = [], 0, 0
    kinds = {"snapshot": 0, "crop": 0, "clip": 0}
    for bld, b0, b1, (ids, by_kind, extra) in zip(blds, run["before"], run["after"],
                                                  run["stored"], strict=True):
        mine = load.by_building.get(bld.name, set())
        missing = len(mine - ids)
        lost_b += missing + sum(max(0, len(mine) - by_kind.get(k, 0)) for k in kinds)
        dup_b += len(ids - mine) + extra
        for k in kinds:
            kinds[k] += by_kind.get(k, 0)
        cpu = b1["cpu_s"] - b0["cpu_s"]
        disk = b1["folder_bytes"] - b0["folder_bytes"]
        hubs.append({"building": bld.name, "core": bld.core, "cpu_s": round(cpu, 2),
                     "cpu_s_per_exam_hour": round(cpu * hour, 1),
                     "disk_bytes": disk, "disk_bytes_per_exam_hour": round(disk * hour),
                     "written_bytes_per_exam_hour": round(
                         (b1["written_bytes"] - b0["written_bytes"]) * hour),
                     "rss_mb_start": b0["rss_mb"], "rss_mb_end": b1["rss_mb"]})
    opens = {a: watcher.counts.get((a, "open"), 0) for a in sent}
    closes = [watcher.counts.get((a, "close"), 0) for a in sent]
    lost_c = sum(1 for n in opens.values() if n == 0) + sum(1 for n in closes if n == 0)
    dup_c = sum(max(0, n - 1) for n in opens.values()) + sum(max(0, n - 1) for n in closes)
    dup_c += watcher.wrong_building
    alerts = len(sent)
    building = {"p50_ms": round(statistics.median(building_ms), 1) if building_ms else None,
                "p99_ms": p99(building_ms), "max_ms": _max(building_ms),
                "shown": len(building_ms), "lost": lost_b, "duplicated": dup_b,
                "evidence_stored": kinds, "measured_at": "each room's live page (SSE)"}
    campus = {"p50_ms": round(statistics.median(campus_ms), 1) if campus_ms else None,
              "p99_ms": p99(campus_ms), "max_ms": _max(campus_ms),
              "arrived": len(campus_ms), "lost": lost_c, "duplicated": dup_c,
              "statuses": watcher.statuses, "other_kinds": watcher.other_kinds,
              "measured_at": "a subscriber on the campus broker (campus/v1/#, QoS 1)"}
    cpu_hour = [h["cpu_s_per_exam_hour"] for h in hubs]
    disk_hour = [h["disk_bytes_per_exam_hour"] for h in hubs]
    result = {
        "buildings": len(blds), "rooms_per_building": len(blds[0].nodes) if blds else 0,
        "minutes": run["minutes"], "load_s": round(run["load_s"], 1),
        "settle_s": run["settle_s"],
        "alerts": alerts, "alerts_per_min": round(60 * alerts / run["seconds"], 1),
        "evidence_bytes": run["evidence"][0].sizes(),
        "evidence_from": "kuzet_tools/footage/classroom.gif through edge.evidence "
                         "(EvidenceStore.snapshot/clip at the node's defaults)",
        "mqtt_client": "paho as it is",
        "cores": run["cores"],
        "pinning": f"{len(blds)} hubs on {len(run['cores'])} cores, each pinned to one "
                   "(taskset), in turn; brokers and the load unpinned",
        "load_average_start": [round(x, 2) for x in run["load_avg_start"]],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "bridge": "mosquitto bridge per building, QoS 1, cleansession false, no TLS",
        "bare_broker": run["bare"],
        "building": building, "campus": campus,
        "hub_cpu_s_per_exam_hour": {"max": max(cpu_hour), "mean": round(
            statistics.mean(cpu_hour), 1)},
        "hub_disk_bytes_per_exam_hour": {"max": max(disk_hour), "mean": round(
            statistics.mean(disk_hour))},
        "hub_rss_mb": {"start_max": max(h["rss_mb_start"] for h in hubs),
                       "end_max": max(h["rss_mb_end"] for h in hubs)},
        "per_exam_hour": "the run's CPU and disk (from the first alert until every hub and the "
                         "campus had the last) scaled from its alerts' minutes to 60",
        "hubs": hubs,
        "evidence_fs": run["evidence_fs"],
        "targets": TARGETS,
    }
    result["pass"] = {
        "building_p99_ms": building["p99_ms"] is not None and len(building_ms) == alerts
        and building["p99_ms"] <= TARGETS["building_p99_ms"],
        "campus_p99_ms": campus["p99_ms"] is not None and len(campus_ms) == alerts
        and campus["p99_ms"] <= TARGETS["campus_p99_ms"],
        "lost": lost_b == lost_c == TARGETS["lost"],
        "duplicated": dup_b == dup_c == TARGETS["duplicated"],
    }
    return result
