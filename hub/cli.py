"""``kuzet hub …``: run the hub, check its config, migrate, add users, sessions and seat maps.

Examples::

    kuzet hub run --config /etc/kuzet/hub.toml
    kuzet hub check --config hub.toml
    kuzet hub user add --config hub.toml aigerim --role proctor --name "Айгерім Сейітова"
    kuzet hub user passwd --config hub.toml aigerim       # ends her logins
    kuzet hub user deactivate --config hub.toml aigerim
    kuzet hub room load --config hub.toml --building main --room a101 a101-seats.json
    kuzet hub dismissals --config hub.toml --json     # for the detection work
    kuzet hub session add --config hub.toml --building main --room a101 --proctor aigerim \\
        --start 2026-11-26T09:00 --end 2026-11-26T12:00
"""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from kuzet.errors import ConfigError, KuzetError


def register(sub: argparse._SubParsersAction) -> None:
    hub = sub.add_parser("hub", help="the hub: MQTT ingest, SQLite and the web pages")
    cmds = hub.add_subparsers(dest="hub_command", required=True, metavar="COMMAND")

    run = cmds.add_parser("run", help="run the hub (example: kuzet hub run --config hub.toml)")
    run.add_argument("--config", required=True, help="hub config file (TOML)")
    run.add_argument("--no-ingest", action="store_true", help="web pages only, no MQTT")
    run.set_defaults(func=_run)

    check = cmds.add_parser("check", help="validate the config and the secret key, migrate "
                            "the database (example: kuzet hub check --config hub.toml)")
    check.add_argument("--config", required=True)
    check.set_defaults(func=_check)

    user = cmds.add_parser("user", help="users").add_subparsers(
        dest="user_command", required=True, metavar="COMMAND")
    add = _user_command(user, "add", "add a user; the password comes from "
                        "$KUZET_HUB_PASSWORD or a prompt (example: kuzet hub user add "
                        "--config hub.toml aigerim --role proctor)", _user_add)
    add.add_argument("--role", required=True, choices=["proctor", "dean", "technician", "admin",
                                                  "office"])
    add.add_argument("--name", default="", help="the name shown on the pages")
    add.add_argument("--buildings", default="", help="a dean's buildings, comma-separated "
                     "(required for a dean: a dean sees only these)")
    blds = _user_command(user, "buildings", "set the buildings a dean oversees (example: "
                         "kuzet hub user buildings --config hub.toml dean1 main,east)",
                         _user_buildings)
    blds.add_argument("buildings", help="comma-separated building names")
    _user_command(user, "passwd", "set a user's password and end their logins; the "
                  "password comes from $KUZET_HUB_PASSWORD or a prompt (example: "
                  "kuzet hub user passwd --config hub.toml aigerim)", _user_passwd)
    for name, what in (("deactivate", "end a user's logins; they cannot log in until "
                                      "activated"), ("activate", "let a deactivated user log in "
                                                                 "again")):
        _user_command(user, name, f"{what} (example: kuzet hub user {name} --config "
                      "hub.toml aigerim)", _user_active, active=name == "activate")

    session = cmds.add_parser("session", help="exam sessions").add_subparsers(
        dest="session_command", required=True, metavar="COMMAND")
    sadd = session.add_parser("add", help="give a proctor a room for a time (example: kuzet "
                              "hub session add --config hub.toml --building main --room a101 "
                              "--proctor aigerim --start 2026-11-26T09:00 "
                              "--end 2026-11-26T12:00)")
    sadd.add_argument("--config", required=True)
    sadd.add_argument("--building", required=True)
    sadd.add_argument("--room", required=True)
    sadd.add_argument("--proctor", required=True, help="a user with the proctor role")
    sadd.add_argument("--start", required=True, help="ISO time; the hub's time zone if none")
    sadd.add_argument("--end", required=True, help="ISO time; the hub's time zone if none")
    sadd.add_argument("--title", default="")
    sadd.set_defaults(func=_session_add)

    ret = cmds.add_parser("retention", help="delete evidence older than retention.evidence_days "
                          "after its exam, except what a protocol holds; logs each deletion "
                          "(example: kuzet hub retention --config hub.toml)")
    ret.add_argument("--config", required=True)
    ret.set_defaults(func=_retention)

    imp = cmds.add_parser("import", help="import a timetable or group rosters from CSV, all "
                          "or nothing (example: kuzet hub import --config hub.toml --roster "
                          "groups.csv --timetable exams.csv); columns: docs/workflow.md")
    imp.add_argument("--config", required=True)
    imp.add_argument("--roster", help="CSV: group,student_no,name[,seat,photo]")
    imp.add_argument("--timetable", help="CSV: exam_code,discipline,groups,building,room,"
                     "date,start,end,proctors[,allowed_aids,examiner,head_of_department,seating]")
    imp.add_argument("--photos", help="a folder or a zip of roster photos, named by student "
                     "number or in the roster's photo column")
    imp.set_defaults(func=_import)

    pho = cmds.add_parser("import-photos", help="import roster photos from a folder or a zip "
                          "of JPEG/PNG files named by student number (S12345.jpg): each "
                          "checked (format, size, exactly one face), all or nothing, errors "
                          "by file name; a student's new photo replaces the old (example: "
                          "kuzet hub import-photos --config hub.toml photos.zip)")
    pho.add_argument("--config", required=True)
    pho.add_argument("path", help="a folder or a .zip of photos")
    pho.set_defaults(func=_import_photos)

    dis = cmds.add_parser("dismissals", help="what the proctors' dismissals say about the "
                          "detector: alerts per rule confirmed and dismissed, by reason, overall "
                          "and per room (example: kuzet hub dismissals --config hub.toml --json)")
    dis.add_argument("--config", required=True)
    dis.add_argument("--json", action="store_true", help="JSON (else a table)")
    dis.add_argument("--building", action="append", help="only this building (repeatable)")
    dis.set_defaults(func=_dismissals)

    room = cmds.add_parser("room", help="rooms").add_subparsers(
        dest="room_command", required=True, metavar="COMMAND")
    load = room.add_parser("load", help="store a room's seat map (JSON as the node's) "
                           "(example: kuzet hub room load --config hub.toml --building main "
                           "--room a101 seats.json)")
    load.add_argument("--config", required=True)
    load.add_argument("--building", required=True)
    load.add_argument("--room", required=True)
    load.add_argument("--title", default="")
    load.add_argument("seatmap", help="seat map JSON file")
    load.set_defaults(func=_room_load)


def _user_command(user: argparse._SubParsersAction, name: str, help_: str, func,
                  **defaults) -> argparse.ArgumentParser:
    """A ``kuzet hub user`` command on one user: ``--config`` and the username."""
    cmd = user.add_parser(name, help=help_)
    cmd.add_argument("--config", required=True)
    cmd.add_argument("username")
    cmd.set_defaults(func=func, **defaults)
    return cmd


def _config(args):
    from hub.config import load_config

    return load_config(args.config)


def _run(args) -> int:
    from hub.server import HubServer

    cfg = _config(args)
    cfg.secret_key()                          # fail now, not on the first request
    server = HubServer(cfg, ingest=False if args.no_ingest else None).start()
    # What is loaded by now (Flask, pydantic, the app) lives as long as the process: keep it
    # out of the garbage collector's full passes, which otherwise stall ingest and pages.
    gc.freeze()

    def stop(*_: object) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


def _check(args) -> int:
    from hub.store.migrations import current_version, open_database

    cfg = _config(args)
    cfg.secret_key()
    db = open_database(cfg.hub.db_path)
    print(json.dumps({"config": args.config, "database": str(cfg.hub.db_path),
                      "schema_version": current_version(db),
                      "evidence": str(cfg.hub.evidence_path)}))
    db.close()
    return 0


def _write(cfg, fn, *a):
    from hub.store.db import transaction
    from hub.store.migrations import open_database

    db = open_database(cfg.hub.db_path)
    try:
        with transaction(db.conn) as conn:
            result = fn(conn, *a)
    except (ValueError, Exception) as exc:    # sqlite3 integrity, validation
        if isinstance(exc, KuzetError):
            raise
        raise KuzetError(str(exc)) from None
    finally:
        db.close()
    return result


def _password(username: str) -> str:
    password = os.environ.get("KUZET_HUB_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise ConfigError("no password: set $KUZET_HUB_PASSWORD or run in a terminal")
        password = getpass.getpass(f"password for {username}: ")
    return password


def _user_add(args) -> int:
    from hub.store import users

    cfg = _config(args)
    buildings = _names(args.buildings)
    try:
        users.check_buildings(args.role, buildings)     # before asking for the password
    except ValueError:
        raise KuzetError("a dean needs --buildings (and only a dean has buildings)") from None
    uid = _write(cfg, users.add_with_buildings, args.username, _password(args.username),
                 args.role, args.name, buildings)
    print(json.dumps({"id": uid, "username": args.username, "role": args.role,
                      **({"buildings": buildings} if buildings else {})}))
    return 0


def _names(text: str) -> list[str]:
    return sorted({n.strip() for n in text.split(",") if n.strip()})


def _user_buildings(args) -> int:
    from hub.store import users

    cfg = _config(args)
    buildings = _names(args.buildings)

    _write(cfg, lambda conn: users.set_buildings(conn, users.id_of(conn, args.username),
                                                 buildings))
    print(json.dumps({"username": args.username, "buildings": buildings}))
    return 0


def _user_passwd(args) -> int:
    from hub.store import logins

    cfg = _config(args)
    ended = _write(cfg, logins.set_password, args.username, _password(args.username))
    print(json.dumps({"username": args.username, "logins_ended": ended}))
    return 0


def _user_active(args) -> int:
    from hub.store import logins

    ended = _write(_config(args), logins.set_active, args.username, args.active)
    print(json.dumps({"username": args.username, "active": args.active,
                      "logins_ended": ended}))
    return 0


def _when(value: str, tz: str) -> datetime:
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(tz))


def _session_add(args) -> int:
    from hub.store import sessions

    cfg = _config(args)
    try:
        start, end = _when(args.start, cfg.hub.timezone), _when(args.end, cfg.hub.timezone)
    except ValueError as exc:
        raise KuzetError(f"--start/--end: {exc}") from None
    sid = _write(cfg, sessions.add_session, args.building, args.room, args.proctor, start, end,
                 args.title)
    print(json.dumps({"id": sid}))
    return 0


def _room_load(args) -> int:
    from hub.store import rooms

    cfg = _config(args)
    try:
        data = json.loads(Path(args.seatmap).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KuzetError(f"{args.seatmap}: {exc}") from None
    _write(cfg, rooms.load_seatmap, args.building, args.room, data, args.title)
    print(json.dumps({"room": f"{args.building}/{args.room}", "seats": len(data["seats"])}))
    return 0


def _retention(args) -> int:
    from hub.retention_job import run

    print(json.dumps(run(_config(args)).as_dict()))
    return 0


def _dismissals(args) -> int:
    from hub.store.db import connect
    from hub.store.dismissals import dismissal_counts
    from hub.store.migrations import open_database

    cfg = _config(args)
    open_database(cfg.hub.db_path).close()          # migrated, as every command leaves it
    conn = connect(cfg.hub.db_path, readonly=True)
    try:
        counts = dismissal_counts(conn, args.building)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(counts.as_json(), ensure_ascii=False, indent=1))
        return 0
    print(f"{'rule':<22}{'alerts':>7}{'confirmed':>10}{'dismissed':>10}  reasons")
    for t in counts.by_rule:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(t.reasons.items()))
        print(f"{t.rule:<22}{t.alerts:>7}{t.confirmed:>10}{t.dismissed:>10}  {reasons}")
    return 0


def _import(args) -> int:
    from hub.roster import ImportRefused, parse_roster, parse_timetable
    from hub.store import sessions

    cfg = _config(args)
    if not (args.roster or args.timetable or args.photos):
        raise KuzetError("give --roster, --timetable and/or --photos")
    out: dict[str, object] = {}
    try:                                  # every file read and checked before anything is written
        rows = parse_roster(Path(args.roster).read_text(encoding="utf-8")) \
            if args.roster else None
        exams = parse_timetable(Path(args.timetable).read_text(encoding="utf-8"),
                                cfg.hub.timezone) if args.timetable else None
        if args.roster or args.photos:
            out.update(_write_roster_and_photos(cfg, rows, args.photos))
    except ImportRefused as exc:
        raise KuzetError("nothing imported: " + str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KuzetError(str(exc)) from None
    if exams is not None:
        try:
            out["sessions"] = _write(cfg, sessions.import_timetable, exams)
        except ImportRefused as exc:
            done = f" (imported: {json.dumps(out)})" if out else ""
            raise KuzetError(f"the timetable was not imported{done}: {exc}") from None
    print(json.dumps(out))
    return 0


def _write_roster_and_photos(cfg, rows, photos_path: str | None) -> dict[str, int]:
    """The roster (if any) and its photos (if any) in one transaction, all or nothing."""
    from hub import photos
    from hub.evidence import EvidenceFolder
    from hub.store import photos as photo_store
    from hub.store import sessions
    from hub.store.db import connect
    from hub.store.migrations import open_database

    by_column = {r.student_no: r.photo for r in rows or [] if r.photo}
    checked: list = []
    if photos_path:
        open_database(cfg.hub.db_path).close()
        conn = connect(cfg.hub.db_path, readonly=True)
        try:
            known = photo_store.known_students(conn) | {r.student_no for r in rows or []}
        finally:
            conn.close()
        try:
            checked = photos.prepare(photos.read_path(Path(photos_path)), known, by_column)
        except photos.PhotosRefused as exc:
            raise KuzetError("nothing imported: " + "; ".join(map(str, exc.errors[:30]))) \
                from None
    elif by_column:
        raise KuzetError("nothing imported: the roster's photo column names photos: give "
                         "--photos too")

    def both(conn, stored):
        if rows is not None:
            sessions.import_roster(conn, rows)
        return photo_store.replace(conn, stored, None)

    photos.store_all(EvidenceFolder(cfg.hub.photos_path), checked,
                     lambda stored: _write(cfg, both, stored))
    return {**({"students": len(rows)} if rows is not None else {}),
            **({"photos": len(checked)} if photos_path else {})}


def _import_photos(args) -> int:
    """``kuzet hub import-photos PATH``: photos of students already on the hub."""
    cfg = _config(args)
    try:
        out = _write_roster_and_photos(cfg, None, args.path)
    except OSError as exc:
        raise KuzetError(str(exc)) from None
    print(json.dumps(out))
    return 0
