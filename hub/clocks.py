"""Which time to believe: a node's clock, or the hub's when it received the message.

A node's clock can be wrong (no NTP, a dead RTC battery) or set on purpose. The hub keeps the
times a node sends as it sent them, and beside them a trusted time that dates protocols,
finds an alert's exam and ages evidence. A node's time is believed unless the node's clock
is known to be off by more than the bound (its last heartbeat, which is never queued, arrived
that far from its ``sent_at``), the message claims a time later than its arrival, or a time
older than the retention window (evidence dated then would be purged at once: a Pi without a
real-time clock boots in 1970 and may send before its first heartbeat, when its skew is not
known yet). Then the hub's receive time stands in. Other times before the arrival are
believed: a node sends what it queued during an outage when the network comes back.
"""

from __future__ import annotations

from datetime import UTC, datetime


def skew_s(sent_at: datetime, received: float) -> float:
    """How far the node's clock is ahead of the hub's (negative: behind), in seconds, from
    a message sent at ``sent_at`` (the node's clock) received at ``received`` (epoch)."""
    return sent_at.timestamp() - received


def trusted(node_time: datetime, sent_at: datetime, received: float,
            max_skew_s: float | None, node_skew_s: float | None = None,
            max_age_s: float | None = None) -> datetime:
    """``node_time`` if it is believable, else the receive time. ``max_skew_s`` None: times
    ahead and a known skew are believed; ``max_age_s`` (the retention window) None: times
    however old are believed."""
    arrival = datetime.fromtimestamp(received, UTC)
    if max_age_s is not None and received - node_time.timestamp() > max_age_s:
        return arrival
    if max_skew_s is None:
        return node_time
    ahead = max(node_time.timestamp(), sent_at.timestamp()) - received
    if ahead > max_skew_s or (node_skew_s is not None and abs(node_skew_s) > max_skew_s):
        return arrival
    return node_time
