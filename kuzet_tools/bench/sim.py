"""A node simulator for tests, the benchmark and demos: publishes status, heartbeats, alerts
and evidence through the same schema module (``kuzet.contract``) and MQTT settings as a node
(QoS 1, retained status with an ``offline`` last will)."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kuzet import contract


def snapshot_jpeg(width: int = 800, height: int = 600, seat: list | None = None,
                  quality: int = 80) -> bytes:
    """A real JPEG: a drawn classroom-ish picture with the seat outlined (OpenCV)."""
    import cv2
    import numpy as np

    img = np.full((height, width, 3), 235, np.uint8)
    for x in range(0, width, 40):
        cv2.line(img, (x, 0), (x, height), (210, 215, 220), 1)
    for y in range(0, height, 40):
        cv2.line(img, (0, y), (width, y), (210, 215, 220), 1)
    if seat:
        pts = np.array(seat, np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(img, [pts], (180, 200, 250))
        cv2.polylines(img, [pts], True, (0, 0, 255), 3)
        cx, cy = pts[:, 0, 0].mean(), pts[:, 0, 1].mean()
        cv2.circle(img, (int(cx), int(cy)), max(6, width // 60), (40, 40, 40), -1)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def evidence_for(origin: contract.Origin, alert_id: str, data: bytes, kind: str = "snapshot",
                 content_type: str = "image/jpeg") -> contract.EvidenceMessage:
    import base64

    return contract.EvidenceMessage(
        origin=origin, alert_id=alert_id, evidence_id=contract.new_id(), kind=kind,
        content_type=content_type, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
        captured_at=contract.utcnow(), data=base64.b64encode(data).decode())


def alert_for(origin: contract.Origin, seat: str | None, rule: str = "device",
              event: str = "open", alert_id: str | None = None,
              evidence: list[contract.EvidenceMessage] = (), started_at=None,
              duration_s: float = 2.0) -> contract.AlertMessage:
    now = contract.utcnow()
    started = started_at or now - timedelta(seconds=duration_s)
    return contract.AlertMessage(
        origin=origin, alert_id=alert_id or contract.new_id(), event=event, rule=rule,
        advisory=rule in contract.ADVISORY_RULES, seat=seat, session_id="sim-session",
        started_at=started, ended_at=now if event == "close" else None, duration_s=duration_s,
        score=0.8, detail={"label": "cell phone"} if rule == "device" else {},
        evidence=[contract.EvidenceRef(evidence_id=e.evidence_id, kind=e.kind, sha256=e.sha256,
                                       size=e.size) for e in evidence])


class NodeSim:
    """One simulated node connected to a broker."""

    def __init__(self, host: str, port: int, origin: contract.Origin,
                 client_id: str | None = None) -> None:
        self.origin = origin
        self._connected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2,
                        client_id=client_id or f"sim-{origin.room}-{origin.node}",
                        protocol=mqtt.MQTTv5)
        c.max_inflight_messages_set(100)
        offline = contract.StatusMessage(origin=origin, state="offline", since=contract.utcnow())
        c.will_set(contract.topic(origin, "status"), contract.encode(offline), qos=1, retain=True)
        c.on_connect = lambda *a: self._connected.set()
        c.connect(host, port)
        c.loop_start()
        if not self._connected.wait(10):
            raise RuntimeError("simulated node could not connect")
        self.client = c

    def publish(self, message, kind: str | None = None, qos: int = 1, retain: bool = False,
                wait: bool = True) -> mqtt.MQTTMessageInfo:
        kind = kind or {"alert": "alert", "evidence": "evidence", "status": "status",
                        "heartbeat": "heartbeat", "reply": "reply"}[message.type]
        info = self.client.publish(contract.topic(self.origin, kind), contract.encode(message),
                                   qos=qos, retain=retain)
        if wait:
            info.wait_for_publish(10)
        return info

    def publish_raw(self, kind: str, payload: bytes) -> None:
        self.client.publish(f"{contract.TOPIC_ROOT}/{self.origin.building}/{self.origin.room}/"
                            f"{self.origin.node}/{kind}", payload, qos=1).wait_for_publish(10)

    def status(self, state: str = "online", reasons: list[str] | None = None):
        msg = contract.StatusMessage(origin=self.origin, state=state, since=contract.utcnow(),
                                     reasons=reasons or [], version="sim")
        self.publish(msg, retain=True)
        return msg

    def heartbeat(self, fps: float = 10.0, disk_free_mb: float = 20000.0,
                  outbox_depth: int = 0):
        msg = contract.HeartbeatMessage(
            origin=self.origin, fps=fps, inference_ms=20.0, worst_seat_revisit_s=1.0,
            cpu_temp_c=55.0, disk_free_mb=disk_free_mb, outbox_depth=outbox_depth,
            software_version="sim", model_versions={"detector": "sim"}, uptime_s=100.0)
        self.publish(msg, qos=0)
        return msg

    def alert_with_evidence(self, seat: str | None, rule: str = "device",
                            jpeg: bytes | None = None) -> tuple[contract.AlertMessage,
                                                                list[contract.EvidenceMessage]]:
        """Open an alert and send its snapshot, as a node does."""
        alert_id = contract.new_id()
        ev = [evidence_for(self.origin, alert_id, jpeg)] if jpeg else []
        alert = alert_for(self.origin, seat, rule, alert_id=alert_id, evidence=ev)
        self.publish(alert)
        for e in ev:
            self.publish(e)
        return alert, ev

    def answer_check_ins(self, jpeg: bytes, seated: contract.Seated) -> list[str]:
        """Answer every ``check_in`` command as ``edge.commands`` does: ``jpeg`` as the seat's
        check-in crop under the command's id, saying ``seated``, then the reply. Returns the
        ids of the commands answered (growing as they come)."""
        answered: list[str] = []

        def on_message(client, userdata, msg):
            cmd = contract.decode(msg.payload)
            if isinstance(cmd, contract.CommandMessage) \
                    and cmd.action == contract.Action.CHECK_IN:
                crop = evidence_for(self.origin, cmd.id, jpeg, kind="check-in")
                self.publish(crop.model_copy(update={"seated": seated}), wait=False)
                self.publish(contract.CommandReply(
                    origin=self.origin, command_id=cmd.id, ok=True, sent_at=contract.utcnow(),
                    detail=f"seat {cmd.seat}: check-in crop {crop.evidence_id}"), wait=False)
                answered.append(cmd.id)

        self.client.on_message = on_message
        self.client.subscribe(contract.topic(self.origin, "cmd"), qos=1)
        return answered

    def close(self, clean: bool = True) -> None:
        if clean:
            self.client.disconnect()
        else:                                  # as a crash: the broker sends the last will
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.reasoncodes import ReasonCode

            self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
        self.client.loop_stop()
