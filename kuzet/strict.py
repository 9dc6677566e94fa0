"""Base for every config and message model (unknown keys are errors), and reading and
validating config files so that every error names the file and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kuzet.errors import ConfigError


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys and is immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)


def read_toml(path: Path) -> dict:
    """A TOML file as a dict; ConfigError names the file and what is wrong with it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def validate(model: type[M], data: object, where: str) -> M:
    """``model`` validated from ``data``; ConfigError lists each bad key as
    ``<where>: <dotted.key>: <reason>`` (the first five)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
            msgs.append(f"{where}: {loc or '(top level)'}: {err['msg']}")
        raise ConfigError("\n".join(msgs)) from None


class BrokerAccess(StrictModel):
    """How to reach the MQTT broker, for the node and the hub alike: address, and password or
    client-certificate (TLS) authentication. The password may come from a file (e.g. one that
    systemd puts in ``$CREDENTIALS_DIRECTORY``)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    username: str | None = None
    password: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 30

    @model_validator(mode="after")
    def _pairs(self) -> BrokerAccess:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.cert_file is not None and self.ca_file is None:
            raise ValueError("a client certificate needs ca_file (TLS)")
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        return self

    def secret(self) -> str | None:
        if self.password_file is None:
            return self.password
        try:
            return self.password_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"broker.password_file: cannot read {self.password_file}: "
                              f"{exc.strerror}") from None
