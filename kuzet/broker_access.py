"""How the node and the hub reach the MQTT broker (their configs' ``[broker]`` section)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from kuzet.errors import ConfigError
from kuzet.strict import StrictModel


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
