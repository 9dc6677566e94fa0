"""The benchmark's hub helpers (kuzet_tools/bench/hub.py): the filesystem its evidence goes to is
named in the JSON. The hub's benchmark itself is ``kuzet bench campus``
(tests/test_bench_campus.py)."""

from __future__ import annotations

from pathlib import Path

from kuzet_tools.bench.hub import filesystem_of


def test_the_bench_names_the_filesystem_it_measures_on(tmp_path):
    fs = filesystem_of(tmp_path)
    assert fs["type"] and (Path(fs["mount"]) == tmp_path or Path(fs["mount"]) in tmp_path.parents)
    if fs["type"] == "ext4":
        assert isinstance(fs["journal"], bool)
    assert filesystem_of(Path("/proc/self"))["type"] == "proc"    # the innermost mount wins
