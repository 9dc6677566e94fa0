"""The fault-injection report: each fault test records, per scenario, how many alerts were
produced (accepted by the node), delivered, duplicated and lost; the session prints the table
and writes ``var/fault-report.json``."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPORT: dict[str, dict[str, int]] = {}
PATH = Path(__file__).resolve().parents[2] / "var" / "fault-report.json"


def record(scenario: str, produced: set[str], delivered: list[str]) -> dict[str, int]:
    """``produced``: ids the node accepted; ``delivered``: ids received (with repeats)."""
    unique = set(delivered)
    row = {"produced": len(produced), "delivered": len(unique & produced),
           "duplicated": len(delivered) - len(unique), "lost": len(produced - unique)}
    REPORT[scenario] = row
    return row


def write_and_format() -> str:
    if not REPORT:
        return ""
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(json.dumps(REPORT, indent=1))
    lines = [f"{'scenario':44} produced delivered duplicated lost"]
    for name, r in sorted(REPORT.items()):
        lines.append(f"{name:44} {r['produced']:8} {r['delivered']:9} {r['duplicated']:10} "
                     f"{r['lost']:4}")
    return "\n".join(lines)


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. "4M") mounted at ``path``, to fill; needs root (CI is)."""
    if os.getuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until its filesystem has not a byte left. Unbuffered: a buffered file
    would raise ENOSPC again when it is closed, with what the last write left behind."""
    with open(path, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
