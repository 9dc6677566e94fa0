"""Reading what a browser or a script sends: what cannot be read is refused with a clear
reason (a ``ValueError``), never an exception the page did not expect (a 500).

Found by ``tests/test_fuzz_forms.py``: JSON nested deeper than Python's parser goes raises
``RecursionError``, which is not a ``ValueError``."""

from __future__ import annotations

import json
from typing import Any

from flask_babel import gettext as _


def parse_json(data: str | bytes) -> Any:
    """``json.loads``, with JSON nested too deeply refused like any other bad JSON."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError(_("The JSON is nested too deeply.")) from None


def json_object(data: str | bytes, key: str) -> dict[str, Any]:
    """The object under ``key`` of a JSON object (``{key: {…}}``); else a ``ValueError``."""
    try:
        body = parse_json(data)
    except ValueError:
        body = None
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise ValueError(_("Send a JSON object with \"%(key)s\": {…}.", key=key))
    return value
