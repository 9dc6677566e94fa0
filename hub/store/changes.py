"""What a write changed that the live pages show: one alert or one node, in its room.

Every store function the writer runs for a message or a page action returns the changes it
made; once the batch commits, the writer reads each changed thing's view once and publishes
it to the pages watching its room (``hub.writer``, ``hub.bus``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Change:
    """``key`` is the alert id (``kind="alert"``) or the node's name (``kind="node"``)."""

    kind: Literal["alert", "node"]
    building: str
    room: str
    key: str
