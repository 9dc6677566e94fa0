"""The building's one time zone (``hub.timezone``), named wherever a time is printed.

The hub stores times in UTC (ISO ``…Z`` or epoch seconds); every page, CSV and PDF prints them
in the zone the hub is configured with, and says which: ``Asia/Almaty (UTC+05:00)``. No Flask,
so the PDF and the CSV use it as the pages do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def parse(value: str | float | datetime | None) -> datetime | None:
    """An aware datetime from an ISO text (``Z`` or an offset), epoch seconds or a datetime
    (naive means UTC); None for None or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def utc_offset(zone: str, at: datetime | None = None) -> str:
    """The zone's offset from UTC at ``at`` (default now) as ``+05:00``."""
    minutes = round((at or datetime.now(UTC)).astimezone(ZoneInfo(zone)).utcoffset()
                    .total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def label(zone: str, at: datetime | None = None) -> str:
    """The zone named for a reader: ``Asia/Almaty (UTC+05:00)``."""
    return f"{zone} (UTC{utc_offset(zone, at)})"


def local_text(value: str | float | datetime | None, zone: str, seconds: bool = True) -> str:
    """``value`` in ``zone`` as ``2026-12-02 09:44:05 +05:00`` (empty for no time): the offset
    printed with it, so the text stays right on its own (in a CSV cell, a PDF line)."""
    dt = parse(value)
    if dt is None:
        return ""
    local = dt.astimezone(ZoneInfo(zone))
    return (local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
            + " " + utc_offset(zone, dt))
