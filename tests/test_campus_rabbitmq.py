"""Debian's RabbitMQ (3.10, MQTT plugin) as the campus broker behind the same mosquitto
bridge: MQTT 3.1.1 over TLS with the building's campus certificate (RabbitMQ 3.10 has no
MQTT 5.0), topic permissions as the campus ACL, the bridge's queue across a cut link, and the
campus hub's durable queue across a RabbitMQ restart. About 60 s (two RabbitMQ boots)."""

from __future__ import annotations

import time

import pytest

from tests.support import rabbit
from tests.support.campus import Delivery, Federation, TlsClient
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(rabbit.available() is not None,
                                 reason=str(rabbit.available()))]


def test_rabbitmq_as_the_campus_broker(tmp_path):
    fed = Federation(tmp_path, campus_broker="rabbitmq")
    try:
        campus = fed.campus_hub()
        node = fed.node("a101")
        node.client.publish("kuzet/v1/main/a101/cam1/evidence", b'{"evidence": 1}')
        node.status("online")
        assert campus.wait_for(lambda m: m, 15)
        assert [t for t, _, _ in campus.messages] == ["campus/v1/main/a101/cam1/status"]

        # an identity without write rights on main's prefix (the campus hub's: topic write
        # '^$'; a building's user has only its own prefix, the same regex) is refused
        other = TlsClient(fed.campus.port, fed.campus_pki.campus_hub_tls(),
                          protocol=rabbit.RabbitBroker.mqtt_protocol)
        other.c.publish("campus/v1/main/a101/cam1/alert", b'{"forged": 1}', qos=1)
        time.sleep(1)
        assert not campus.on("alert")
        other.close()

        # the link cut: the bridge queues, RabbitMQ gets everything once it is back
        fed.link.cut()
        queued = [node.alert() for _ in range(30)]
        time.sleep(3)
        fed.link.restore()
        restored = time.monotonic()
        assert wait_until(lambda: not Delivery.of(campus, [node]).missing, 30)
        got = Delivery.of(campus, [node])
        print(f"\nrabbitmq {rabbit.version()}, link cut: {len(queued)} queued, duplicates "
              f"{got.duplicates}, caught up {got.last_arrival - restored:.2f} s after")
        assert got.in_order([node])

        # the campus hub away, RabbitMQ restarted: its durable queue kept the alerts
        campus.close()
        away = [node.alert() for _ in range(20)]
        time.sleep(2)
        fed.campus.stop()
        fed.campus.start()
        back = fed.campus_hub()
        assert wait_until(lambda: all(i in {a for _, a, _ in back.alerts()} for i in away), 60), \
            "alerts queued for the campus hub were lost across RabbitMQ's restart"
        print(f"rabbitmq restart: {len(away)} queued for the campus hub, all delivered")
    finally:
        fed.close()
