"""Sending the commands a store function queued (``hub.store.sessions.queue_commands``) to
the nodes, after the writer's commit: the one place the web app publishes them."""

from __future__ import annotations

from flask import current_app

from hub.store import sessions
from hub.web.security import writer


def publish(commands: list[tuple[str, bytes, str]]) -> int:
    """Publish ``(topic, payload, msg_id)`` commands; returns how many went out (the others
    stay recorded, unpublished: the broker is not reachable now)."""
    ingest = current_app.extensions["kuzet"].ingest
    sent = [mid for topic, payload, mid in commands
            if ingest is not None and ingest.publish(topic, payload)]
    if sent:
        writer().call(sessions.mark_published, sent)
    return len(sent)
