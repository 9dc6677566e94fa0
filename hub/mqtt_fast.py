"""Two changes to how paho reads, for a hub that takes thousands of messages a second: off
unless the config asks for them (``[broker] fast_decoder = true``); the hub otherwise runs
paho as it is, and importing this module changes nothing.

Measured with ``kuzet bench hub`` (docs/reliability.md, Load), paho spent most of the hub's
MQTT time on two things that are not MQTT:

* **Properties tables.** paho builds its MQTT 5 property tables (three dicts and lists of
  about 30 entries each) anew for every packet it decodes, PUBLISH included: 50–77 µs
  per message here, as much as the rest of its decoding together. ``SharedTablesProperties`` is
  paho's ``Properties`` with those constant tables built once; every method, and so what a
  packet decodes to, is paho's own (``tests/test_hub_mqtt_fast.py`` compares the two).
  ``install()`` makes paho's packet decoder use it, for the whole process.
* **Reading.** ``ReadAheadClient`` reads what the socket has in one ``recv`` and hands paho
  every whole packet in it, instead of three or more ``recv`` calls and a ``select`` round
  per packet.

Both reach into paho's internals, so even when asked for they are used only on the paho
releases they were read against (``CHECKED_PAHO``); on any other, the hub runs paho as it is.
"""

from __future__ import annotations

import logging

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)
CHECKED_PAHO = ("2.2.",)                 # the paho releases whose internals this was read against
_OWN = frozenset(("packetType", "types", "names", "properties"))   # Properties' own fields


class SharedTablesProperties(Properties):
    """paho's ``Properties``, its constant tables shared instead of built per packet."""

    _tables: tuple | None = None

    def __init__(self, packetType) -> None:              # noqa: N803 (paho's name)
        tables = SharedTablesProperties._tables
        if tables is None:
            made = Properties(PacketTypes.PUBLISH)     # the tables do not depend on the type
            tables = SharedTablesProperties._tables = (made.types, made.names, made.properties)
        fields = self.__dict__                   # paho's __setattr__ would check each name
        fields["packetType"] = packetType
        fields["types"], fields["names"], fields["properties"] = tables

    def clear(self) -> None:
        """Remove every property set (paho tries each of the ~30 names in turn)."""
        for name in [n for n in self.__dict__ if n not in _OWN]:
            delattr(self, name)


def checked() -> bool:
    """Is the installed paho one of the releases this module was read against?"""
    return paho.mqtt.__version__.startswith(CHECKED_PAHO)


def install() -> bool:
    """Make paho's packet decoder use ``SharedTablesProperties``; False (and nothing changed)
    on a paho release it was not read against."""
    if not checked():
        log.info("paho-mqtt %s: its own Properties kept", paho.mqtt.__version__)
        return False
    import paho.mqtt._packet as paho_packet  # paho 2.2's decoder module

    if paho_packet.Properties is Properties:
        paho_packet.Properties = SharedTablesProperties
    return paho_packet.Properties is SharedTablesProperties


def client_class() -> type[mqtt.Client]:
    """``ReadAheadClient`` on a checked paho release, else paho's own ``Client``."""
    return ReadAheadClient if checked() else mqtt.Client


def fast_client_class() -> type[mqtt.Client]:
    """Install ``SharedTablesProperties`` and give the client class to use with it (both only
    on a checked paho release; else paho's own ``Client``, nothing changed)."""
    install()
    return client_class()


class ReadAheadClient(mqtt.Client):
    """paho's client, reading ahead: one ``recv`` of up to 64 KiB, then every whole packet in
    it, per wake-up of the network loop.

    paho reads a packet with three or more ``recv`` calls (the type byte, each length byte,
    the rest) and goes once round its ``select`` loop per packet; a hub taking thousands of
    messages a second spends about a fifth of its MQTT time there (``kuzet bench hub``,
    docs/reliability.md). Only the reading changes: what is read is parsed and handled by
    paho as before. The buffer is dropped with the connection (``reconnect``)."""

    READ_SIZE = 65536
    MAX_PACKETS = 200                 # per wake-up, once the buffer is used up

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ahead = bytearray()

    def reconnect(self) -> MQTTErrorCode:
        self._ahead.clear()
        return super().reconnect()

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self._ahead:
            data = super()._sock_recv(max(bufsize, self.READ_SIZE))   # or BlockingIOError
            if not data:
                return data                   # the broker closed the connection
            self._ahead += data
        out = bytes(self._ahead[:bufsize])
        del self._ahead[:bufsize]
        return out

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Handle packets until the socket has nothing more (paho's own stops after one or
        two), but never leave read-ahead bytes behind: ``select`` cannot see them."""
        handled = 0
        while self._sock is not None:
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            handled += 1
            if handled >= self.MAX_PACKETS and not self._ahead:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return MQTTErrorCode.MQTT_ERR_NO_CONN
