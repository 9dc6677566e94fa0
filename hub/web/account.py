"""The signed-in user's own account: changing their password, which ends every login of
theirs (a copied cookie too) and keeps this browser signed in with a new one."""

from __future__ import annotations

import math

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from hub.store import logins, users
from hub.web.auth import begin_login, login_limits
from hub.web.security import audit, clock, db, writer

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.before_request
def _signed_in():
    if g.user is None:
        return redirect(url_for("auth.login", next=request.full_path))
    return None


@bp.route("/password", methods=["GET", "POST"])
def password():
    if request.method == "GET":
        return render_template("account_password.html", error=None)
    f = request.form
    client, name = request.remote_addr or "?", g.user.username
    limits = login_limits()          # guessing the current password counts as a login
    wait = limits.retry_after(client, name)
    if wait > 0:
        error = _("Too many failed attempts. Try again in %(minutes)d min.",
                  minutes=max(1, math.ceil(wait / 60)))
        return render_template("account_password.html", error=error), 429
    if users.check_login(db(), name, f.get("current", "")) is None:
        limits.failed(client, name)
        audit("password.failed")
        error = _("The current password is wrong.")
    elif len(f.get("new", "")) < 8:
        error = _("The new password needs at least 8 characters.")
    elif f.get("new") != f.get("again"):
        error = _("The two new passwords differ.")
    else:
        begin_login(writer().call(logins.change_password, g.user.id, f["new"], clock()))
        audit("password.change")
        flash(_("Password changed. Every other login of yours has ended."), "ok")
        return redirect(url_for("auth.home"))
    return render_template("account_password.html", error=error), 400
