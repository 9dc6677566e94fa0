"""Reading and validating config files, so that every error names the file and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from kuzet.errors import ConfigError

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
