"""``kuzet hub …`` commands: check, user add, room load, session add; bad input is a clear
error naming what is wrong."""

from __future__ import annotations

import json

import pytest

from hub.store.db import connect
from kuzet_tools.cli import main
from tests.support.hub_env import seatmap


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("KUZET_HUB_SECRET_KEY", "k" * 40)
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\ndata_dir = "data"\n')
    return path


def test_setup_commands(config, tmp_path, monkeypatch, capsys):
    assert main(["hub", "check", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["schema_version"] >= 4
    monkeypatch.setenv("KUZET_HUB_PASSWORD", "a long password")
    assert main(["hub", "user", "add", "--config", str(config), "aigerim", "--role",
                 "proctor", "--name", "Айгерім"]) == 0
    seats = tmp_path / "seats.json"
    seats.write_text(json.dumps(seatmap()))
    assert main(["hub", "room", "load", "--config", str(config), "--building", "main",
                 "--room", "a101", str(seats)]) == 0
    assert main(["hub", "session", "add", "--config", str(config), "--building", "main",
                 "--room", "a101", "--proctor", "aigerim", "--start", "2026-11-26T09:00",
                 "--end", "2026-11-26T12:00"]) == 0
    conn = connect(tmp_path / "data" / "hub.db", readonly=True)
    s = conn.execute("SELECT starts_at, ends_at FROM sessions").fetchone()
    conn.close()
    assert tuple(s) == ("2026-11-26T04:00:00Z", "2026-11-26T07:00:00Z")   # Asia/Almaty


@pytest.mark.parametrize("argv, message", [
    (["session", "add", "--building", "main", "--room", "a101", "--proctor", "nobody",
      "--start", "2026-11-26T09:00", "--end", "2026-11-26T12:00"], "not a proctor"),
    (["session", "add", "--building", "main", "--room", "a101", "--proctor", "x",
      "--start", "yesterday", "--end", "2026-11-26T12:00"], "--start/--end"),
    (["room", "load", "--building", "main", "--room", "a101", "/nonexistent.json"],
     "/nonexistent.json"),
])
def test_bad_input_is_a_clear_error(config, capsys, argv, message):
    assert main(["hub", *argv[:2], "--config", str(config), *argv[2:]]) == 2
    assert message in capsys.readouterr().err


def test_missing_secret_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KUZET_HUB_SECRET_KEY", raising=False)
    path = tmp_path / "hub.toml"
    path.write_text("[hub]\n")
    assert main(["hub", "check", "--config", str(path)]) == 2
    assert "web.secret_key" in capsys.readouterr().err


def test_every_hub_command_has_help_with_an_example(capsys):
    for argv in (["hub", "--help"], ["hub", "user", "--help"], ["hub", "session", "--help"],
                 ["hub", "room", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = capsys.readouterr().out
        for line in out.split("{", 1)[-1].splitlines()[1:]:
            if line.startswith("    ") and line.strip() and not line.strip().startswith("-"):
                name = line.split()[0]
                if name in ("run", "check", "add", "load"):
                    assert "example" in out, (argv, name)
