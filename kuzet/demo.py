"""``kuzet demo``: the main job on embedded defaults, on real footage.

Starts a broker (mosquitto on a free port), an edge node reading Debian opencv-doc's
``vtest.avi`` (a real video of people walking, with a 30-seat map over the walkway and a
running exam session), and shows the alerts as they arrive over MQTT. ``--smoke SECONDS``
runs the same headless and exits 0 only if an alert went all the way through.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the demo: broker + edge node on real footage "
                          "(example: kuzet demo, or kuzet demo --smoke 60)")
    demo.add_argument("--smoke", type=float, metavar="SECONDS", default=None,
                      help="headless check: exit 0 once an alert arrived, 1 after SECONDS")
    demo.add_argument("--workdir", default=None, help="keep the demo's files here")
    demo.set_defaults(func=_demo)


class _AlertPrinter:
    """Subscribes like the hub does and prints each alert as it arrives."""

    def __init__(self, host: str, port: int, quiet: bool) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from kuzet import contract

        self.first_alert = threading.Event()
        self.count = 0
        self.quiet = quiet
        self._contract = contract
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *a: c.subscribe(f"{contract.TOPIC_ROOT}/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            m = self._contract.decode(msg.payload, expected_topic=msg.topic)
        except self._contract.ContractError as exc:
            log.warning("invalid message on %s: %s", msg.topic, exc)
            return
        if m.type == "alert":
            self.count += 1
            self.first_alert.set()
            if not self.quiet:
                print(f"{m.sent_at:%H:%M:%S} {m.origin.room} seat {m.seat or '-':6} "
                      f"{m.rule.value:20} {m.event.value:6} score {m.score:.2f} "
                      f"{json.dumps(m.detail)}", flush=True)
        elif m.type == "status" and not self.quiet:
            print(f"status {m.origin.node}: {m.state} {'; '.join(m.reasons)}", flush=True)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _demo(args) -> int:
    from edge.config import load_config
    from edge.examples import VTEST, write_vtest_node
    from edge.node import EdgeNode
    from kuzet.broker import MosquittoBroker
    from kuzet.errors import KuzetError

    if not VTEST.exists():
        raise KuzetError(f"{VTEST} is missing: install Debian's opencv-doc (./demo does)")
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        raise KuzetError("mosquitto is missing: install Debian's mosquitto (./demo does)")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="kuzet-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    with MosquittoBroker(work / "broker") as broker:
        printer = _AlertPrinter(broker.host, broker.port, quiet=args.smoke is not None)
        cfg = load_config(write_vtest_node(work / "node", broker_port=broker.port, loop=True))
        node = EdgeNode(cfg)
        runner = threading.Thread(target=node.run, name="edge-node", daemon=True)
        runner.start()
        print(f"Kuzet demo: broker on {broker.host}:{broker.port}, node {cfg.node.name} in room "
              f"{cfg.node.room} reading {VTEST.name} with {len(node.seat_spec.seats)} seats; "
              f"files in {work}. Ctrl-C stops.", flush=True)
        try:
            if args.smoke is not None:
                ok = printer.first_alert.wait(args.smoke)
                print(json.dumps({"ok": ok, "alerts": printer.count,
                                  "reason": "" if ok else f"no alert within {args.smoke} s"}))
                return 0 if ok else 1
            while runner.is_alive():
                time.sleep(0.5)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            node.stop_event.set()
            runner.join(15)
            printer.close()


