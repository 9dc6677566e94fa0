"""hub.mqtt_fast changes how fast paho reads, never what a packet decodes to; only a hub whose
config asks for it (``[broker] fast_decoder = true``) uses it, and the default hub runs paho as
it is."""

from __future__ import annotations

import threading

import paho.mqtt
import paho.mqtt._packet as paho_packet
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub import mqtt_fast
from hub.mqtt_fast import ReadAheadClient, SharedTablesProperties
from hub.services import HubServices
from tests.support.hub_env import make_config


@pytest.fixture
def paho_restored(monkeypatch):
    """Whatever a test installs into paho is undone after it."""
    monkeypatch.setattr(paho_packet, "Properties", paho_packet.Properties)


def publish_properties(cls) -> Properties:
    props = cls(PacketTypes.PUBLISH)
    props.PayloadFormatIndicator = 1
    props.MessageExpiryInterval = 3600
    props.ContentType = "application/json"
    props.ResponseTopic = "kuzet/v1/main/a101/cam1/reply"
    props.CorrelationData = b"\x00\x01corr"
    props.UserProperty = [("seat", "r2s3"), ("seat", "r2s4")]
    return props


def test_properties_decode_exactly_as_paho_decodes_them():
    packed = publish_properties(Properties).pack()
    theirs, ours = Properties(PacketTypes.PUBLISH), SharedTablesProperties(PacketTypes.PUBLISH)
    assert ours.unpack(packed)[1] == theirs.unpack(packed)[1] == len(packed)
    assert str(ours) == str(theirs) and ours.json() == theirs.json()
    assert ours.pack() == theirs.pack() == packed
    assert publish_properties(SharedTablesProperties).pack() == packed   # set as paho sets
    ours.clear()
    theirs.clear()
    assert ours.isEmpty() and theirs.isEmpty() and str(ours) == str(theirs) == "[]"
    # what a property does not apply to is still refused, as paho refuses it
    for cls in (Properties, SharedTablesProperties):
        try:
            cls(PacketTypes.PUBLISH).ReceiveMaximum = 10
        except paho.mqtt.MQTTException as exc:
            assert "does not apply" in str(exc)
        else:
            raise AssertionError(f"{cls.__name__} took a CONNECT property on a PUBLISH")


def test_a_message_read_ahead_keeps_its_properties(broker, paho_restored):
    assert mqtt_fast.install()
    assert paho_packet.Properties is SharedTablesProperties
    got, ready, arrived = [], threading.Event(), threading.Event()
    sub = ReadAheadClient(CallbackAPIVersion.VERSION2, client_id="fast-sub",
                          protocol=mqtt.MQTTv5)
    sub.on_connect = lambda c, *a: c.subscribe("kuzet/test/#", qos=1)
    sub.on_subscribe = lambda *a: ready.set()

    def on_message(c, userdata, msg):
        got.append(msg)
        if len(got) == 3:
            arrived.set()

    sub.on_message = on_message
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fast-pub", protocol=mqtt.MQTTv5)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        assert ready.wait(10)
        for i in range(3):
            pub.publish(f"kuzet/test/{i}", b"payload %d" % i, qos=1,
                        properties=publish_properties(Properties)).wait_for_publish(10)
        assert arrived.wait(10)
    finally:
        pub.disconnect()
        pub.loop_stop()
        sub.disconnect()
        sub.loop_stop()
    assert [m.payload for m in got] == [b"payload 0", b"payload 1", b"payload 2"]
    for m in got:
        assert isinstance(m.properties, SharedTablesProperties)
        assert m.properties.UserProperty == [("seat", "r2s3"), ("seat", "r2s4")]
        assert (m.properties.ContentType, m.properties.CorrelationData) == \
            ("application/json", b"\x00\x01corr")


def test_an_unchecked_paho_release_is_used_as_it_is(monkeypatch):
    monkeypatch.setattr(paho_packet, "Properties", Properties)
    monkeypatch.setattr(paho.mqtt, "__version__", "3.0.0")
    assert mqtt_fast.install() is False
    assert paho_packet.Properties is Properties
    assert mqtt_fast.client_class() is mqtt.Client
    monkeypatch.setattr(paho.mqtt, "__version__", "2.2.0")
    assert mqtt_fast.client_class() is ReadAheadClient
    assert mqtt_fast.install() is True and paho_packet.Properties is SharedTablesProperties


def ingest_of(tmp_path, broker, **settings) -> HubServices:
    cfg = make_config(tmp_path, broker.port)
    cfg = cfg.model_copy(update={"broker": cfg.broker.model_copy(update=settings)})
    return HubServices(cfg).start(ingest=True)


def test_the_default_hub_runs_paho_as_it_is(tmp_path, broker, paho_restored):
    assert paho_packet.Properties is Properties       # the hub's modules are imported by now
    services = ingest_of(tmp_path, broker)
    try:
        assert services.ingest.connected.wait(10)
        assert type(services.ingest.client) is mqtt.Client
        assert paho_packet.Properties is Properties
    finally:
        services.stop()
    assert paho_packet.Properties is Properties


def test_the_fast_decoder_is_used_when_the_config_asks(tmp_path, broker, paho_restored):
    services = ingest_of(tmp_path, broker, fast_decoder=True)
    try:
        assert services.ingest.connected.wait(10)
        assert type(services.ingest.client) is ReadAheadClient
        assert paho_packet.Properties is SharedTablesProperties
    finally:
        services.stop()
