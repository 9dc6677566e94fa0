"""The hub's config: strict TOML, errors that name the file and the key, no default secret."""

from __future__ import annotations

import pytest

from hub.config import SECRET_ENV, load_config
from kuzet.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return path


def test_minimal_config_resolves_paths(tmp_path):
    cfg = load_config(write(tmp_path, '[hub]\ndata_dir = "data"\n'))
    assert cfg.hub.db_path == tmp_path / "data" / "hub.db"
    assert cfg.hub.evidence_path == tmp_path / "data" / "evidence"
    assert cfg.hub.default_language == "kk" and cfg.broker.session_expiry_s > 0
    assert cfg.broker.orphan_max_bytes == 64 * 2**20


@pytest.mark.parametrize("text, where", [
    ("[hub]\nbogus = 1\n", "hub.bogus"),
    ("[web]\nport = 99999\n", "web.port"),
    ("[liveness]\nmax_clock_skew_s = 0\n", "liveness.max_clock_skew_s"),
    ("[hub]\ntimezone = \"Mars/Olympus\"\n", "hub.timezone"),
    ("[hub]\ndefault_language = \"de\"\n", "hub.default_language"),
    ("[broker]\ncert_file = \"c.pem\"\n", "broker"),
    ("[web]\nsecret_key = \"short\"\n", "web.secret_key"),
    ("nonsense = [\n", "not valid TOML"),
    ('[broker]\nevidence_process = true\nca_file = "a"\ncert_file = "c"\nkey_file = "k"\n',
     "evidence_cert_file"),
    ('[broker]\nevidence_process = true\nevidence_client_id = "kuzet-hub"\n',
     "evidence_client_id"),
    ("[broker]\norphan_max_bytes = 0\n", "broker.orphan_max_bytes"),
    ("[broker]\norphan_max_bytes = 8388608\n", "orphan_max_bytes"),   # below the clip cap
])
def test_errors_name_the_file_and_the_key(tmp_path, text, where):
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    assert str(tmp_path / "hub.toml") in str(exc.value) and where in str(exc.value)


def test_secret_key_has_no_default(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv("KUZET_SECRET_KEY_FILE", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    cfg = load_config(write(tmp_path, "[hub]\n"))
    with pytest.raises(ConfigError, match="web.secret_key"):
        cfg.secret_key()
    monkeypatch.setenv(SECRET_ENV, "e" * 40)
    assert cfg.secret_key() == "e" * 40


@pytest.mark.parametrize("source", ["file", "env_file", "credentials"])
def test_secret_key_from_a_file(tmp_path, monkeypatch, source):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv("KUZET_SECRET_KEY_FILE", raising=False)
    (tmp_path / "hub-secret-key").write_text("f" * 48 + "\n")
    if source == "file":
        cfg = load_config(write(tmp_path, '[web]\nsecret_key_file = "hub-secret-key"\n'))
    elif source == "env_file":
        monkeypatch.setenv("KUZET_SECRET_KEY_FILE", str(tmp_path / "hub-secret-key"))
        cfg = load_config(write(tmp_path, "[hub]\n"))
    else:
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
        cfg = load_config(write(tmp_path, "[hub]\n"))
    assert cfg.secret_key() == "f" * 48
