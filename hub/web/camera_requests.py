"""A proctor asking the room's camera for a fresh picture (the seat page's "Fresh picture",
the check-in view's crop of a seat): at most one per ``key`` every ``every_s`` seconds, the
command queued in the writer and published, each request audited; the answer is JSON for
the page's script (``X-Requested-With: fetch``) or a flash and a redirect back. The picture
itself is served with ``private_jpeg``: never cached on a shared tablet."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, flash, jsonify, redirect, request, send_file
from flask_babel import gettext as _

from hub.web import node_commands, seat_view
from hub.web.security import audit, clock, writer
from kuzet import contract


def ask_camera(*, kind: str, key: tuple, every_s: float, building: str, room: str,
               action: str, target: str, queue: Callable, status_url: Callable[[str], str],
               back: str):
    """``queue(conn, origin)`` records the command (the store's function, in the writer's
    transaction) and returns the ``(topic, payload, msg_id)`` to publish; ``status_url``
    gives the URL the page polls for the command's picture; ``back`` where a form returns."""
    fetch = request.headers.get("X-Requested-With") == "fetch"
    asked = current_app.extensions.setdefault(f"kuzet_asked_{kind}", {})
    now = clock()
    wait = every_s - (now - asked.get(key, float("-inf")))
    if wait > 0:
        audit(action, target, building, room, refused="too soon")
        return _answer(fetch, back, 429, error=_("A picture was just asked for: wait a few "
                                                 "seconds."), retry_after=round(wait, 1))
    node = seat_view.room_node(building, room)
    if node is None:
        audit(action, target, building, room, refused="no node")
        return _answer(fetch, back, 409, error=_("No camera node is known in this room."))
    if len(asked) > 10_000:
        asked.clear()
    asked[key] = now
    commands = writer().call(queue, contract.Origin(building=building, room=room, node=node))
    sent = node_commands.publish(commands)
    command_id = commands[0][2]
    audit(action, target, building, room, node=node, command=command_id, sent=sent)
    if not sent:
        return _answer(fetch, back, 503, error=_("The camera cannot be reached now; try again."))
    return _answer(fetch, back, 202, command=command_id, status_url=status_url(command_id))


def _answer(fetch: bool, back: str, status: int, **body):
    if fetch:
        return jsonify(body), status
    if "error" in body:
        flash(body["error"], "error")
    else:
        flash(_("A fresh picture was asked for; it appears here in a few seconds."), "ok")
    return redirect(back)


def private_jpeg(relative_file: str) -> Response:
    """A stored picture of the evidence folder, never kept by the browser."""
    response = send_file(current_app.extensions["kuzet"].evidence.resolve(relative_file),
                         mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response
