"""How the pages print a node's numbers, in one place: each function takes the value and the
page's locale (``kk``, ``ru``, ``en``) and returns the text; a missing value is a dash.

Babel's CLDR data gives each language its decimal mark, grouping and unit names
(``9,9`` and ``12,3 ГБ`` in Kazakh and Russian, ``9.9`` and ``12.3 GB`` in English).
``hub.web.app`` registers them as Jinja filters in the page's locale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from babel.dates import format_timedelta
from babel.numbers import format_decimal
from babel.units import format_unit

MISSING = "—"
NBSP = "\N{NO-BREAK SPACE}"    # a number and its unit stay on one line
MB_PER_GB = 1024.0           # the node counts free disk in MiB (edge/system.py)


def fps(value: float | None, locale: str) -> str:
    """Frames per second, one decimal: ``9.9``."""
    return MISSING if value is None else format_decimal(value, "0.0", locale=locale)


def milliseconds(value: float | None, locale: str) -> str:
    """A duration in whole milliseconds: ``101 ms``."""
    if value is None:
        return MISSING
    return _unit(round(value), "duration-millisecond", "#,##0", locale)


def disk(mb: float | None, locale: str) -> str:
    """Free disk from MiB: ``850 MB`` below a gigabyte, ``12.3 GB`` from one."""
    if mb is None:
        return MISSING
    if mb >= MB_PER_GB:
        return _unit(mb / MB_PER_GB, "digital-gigabyte", "#,##0.0", locale)
    return _unit(round(mb), "digital-megabyte", "#,##0", locale)


def count(value: float | None, locale: str) -> str:
    """A whole number with the language's grouping: ``1,234`` / ``1 234``."""
    return MISSING if value is None else format_decimal(round(value), "#,##0", locale=locale)


def temperature(celsius: float | None, locale: str) -> str:
    """Degrees Celsius, whole: ``58 °C``."""
    if celsius is None:
        return MISSING
    return f"{format_decimal(round(celsius), '0', locale=locale)}{NBSP}°C"


def age(seconds: float | None, locale: str) -> str:
    """How long ago, from seconds elapsed: ``3 min. ago``; a clock a little ahead counts as
    now rather than as the future."""
    if seconds is None:
        return MISSING
    return format_timedelta(timedelta(seconds=-max(seconds, 1.0)), add_direction=True,
                            format="short", locale=locale)


def _unit(value: float, unit: str, pattern: str, locale: str) -> str:
    return format_unit(value, unit, length="short", format=pattern,
                       locale=locale).replace(" ", NBSP)


FILTERS: dict[str, Callable[[float | None, str], str]] = {
    "fps": fps, "ms": milliseconds, "disk": disk, "whole": count, "celsius": temperature,
}                            # Jinja's own ``count`` is ``length``: not shadowed
