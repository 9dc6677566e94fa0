"""Small facts about the machine the node runs on, and systemd's notify protocol."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    """This boot's id (Linux): monotonic times compare only within one boot."""
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return "unknown"


def cpu_temp_c(path: Path = THERMAL) -> float | None:
    """The SoC temperature on a Pi (millidegrees in sysfs); None where there is none."""
    try:
        return int(path.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def disk_free_mb(path: Path) -> float:
    try:
        return shutil.disk_usage(path).free / 2**20
    except OSError:
        return 0.0


def sd_notify(message: str) -> bool:
    """Tell systemd (``READY=1``, ``WATCHDOG=1``, ``STATUS=…``); a no-op outside systemd."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(addr)
            s.sendall(message.encode())
        return True
    except OSError:
        return False


def watchdog_interval_s() -> float | None:
    """Half of systemd's WatchdogSec (``WATCHDOG_USEC``), or None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or (os.environ.get("WATCHDOG_PID") not in (None, str(os.getpid()))):
        return None
    return int(usec) / 2e6
