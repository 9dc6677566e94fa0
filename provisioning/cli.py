"""``kuzet provision …``: the technician's commands for the PKI, the broker and enrolment."""

from __future__ import annotations

import argparse
from pathlib import Path

from kuzet.errors import KuzetError

DEFAULT_DIR = "/etc/kuzet/pki"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provision", help="PKI, broker config and node enrolment (example: "
                       "kuzet provision enrol main/a101/cam1 --hub-host hub.local)")
    p.add_argument("--dir", default=DEFAULT_DIR, help=f"provisioning folder ({DEFAULT_DIR})")
    p.add_argument("--broker-host", default="127.0.0.1", help="the broker, for live changes")
    p.add_argument("--broker-port", type=int, default=8883)
    p.add_argument("--reload-cmd", default="systemctl reload mosquitto",
                   help="how to make the broker re-read its CRL")
    p.add_argument("--registry", help="the device registry (default: <dir>/devices.db; on a "
                   "hub with the signer: /var/lib/kuzet-hub/devices.db)")
    p.add_argument("--signer", metavar="SOCKET", help="certificates from the signer service "
                   "on this socket (as the hub does) instead of <dir>/ca.key")
    cmds = p.add_subparsers(dest="provision_command", required=True, metavar="COMMAND")

    c = cmds.add_parser("init", help="new CA, broker and hub certificates, mosquitto.conf "
                        "(example: kuzet provision init --broker-name hub.local)")
    c.add_argument("--broker-name", action="append", required=True,
                   help="a DNS name or IP the nodes use for the broker (repeatable)")
    c.set_defaults(func=_init)

    c = cmds.add_parser("add", help="register a node: kuzet provision add main/a101/cam1")
    c.add_argument("node")
    c.set_defaults(func=_add)

    c = cmds.add_parser("enrol", help="issue a node's certificate and write its one-time "
                        "bundle (example: kuzet provision enrol main/a101/cam1 --hub-host "
                        "hub.local --out cam1.tar.gz)")
    c.add_argument("node")
    c.add_argument("--hub-host", required=True, help="the broker's name as the node sees it")
    c.add_argument("--out", help="bundle file (default: kuzet-<building>-<room>-<name>.tar.gz)")
    c.add_argument("--offline", action="store_true",
                   help="the broker is not running: it picks the node up from its next start")
    c.set_defaults(func=_enrol)

    c = cmds.add_parser("revoke", help="cut a node off at once: kuzet provision revoke "
                        "main/a101/cam1")
    c.add_argument("node")
    c.add_argument("--offline", action="store_true")
    c.set_defaults(func=_revoke)

    c = cmds.add_parser("list", help="the registered nodes and their state")
    c.set_defaults(func=_list)

    c = cmds.add_parser("web", help="the hub's HTTPS front: a web certificate from the CA and "
                        "an nginx site (example: kuzet provision web --name hub.local "
                        "--name 10.0.0.5)")
    c.add_argument("--name", action="append", required=True,
                   help="a DNS name or IP the tablets use for the hub (repeatable)")
    c.add_argument("--hub-port", type=int, default=8080, help="the hub's [web] port on "
                   "127.0.0.1 (8080)")
    c.add_argument("--https-port", type=int, default=443)
    c.add_argument("--http-port", type=int, default=80, help="redirected to HTTPS")
    c.set_defaults(func=_web)

    c = cmds.add_parser("signer", help="run the signer service: the only process that reads "
                        "ca.key, on a unix socket (systemd/kuzet-signer.service)")
    c.add_argument("--socket", required=True, help="the unix socket the hub connects to "
                   "(the registry, --registry, is only read)")
    c.set_defaults(func=_signer)

    c = cmds.add_parser("bridge", help="the building's bridge to the campus broker from the "
                        "campus's bundle: writes <dir>/bridge.conf (example: kuzet provision "
                        "bridge --building main --campus-host campus.example --bundle "
                        "kuzet-bridge-main.tar.gz)")
    c.add_argument("--building", required=True)
    c.add_argument("--campus-host", required=True, help="the campus broker's name or IP")
    c.add_argument("--campus-port", type=int, default=8883)
    c.add_argument("--bundle", required=True, help="from `kuzet provision campus-add`")
    c.add_argument("--protocol", default="mqttv311", choices=("mqttv311", "mqttv50"))
    c.set_defaults(func=_bridge)

    c = cmds.add_parser("campus-init", help="on the campus: a campus CA, the campus broker's "
                        "and campus hub's certificates, its ACL and mosquitto.conf in --dir "
                        "(example: kuzet provision --dir /etc/kuzet/campus-pki campus-init "
                        "--broker-name campus.example)")
    c.add_argument("--broker-name", action="append", required=True,
                   help="a DNS name or IP the buildings use for the campus broker (repeatable)")
    c.set_defaults(func=_campus_init)

    c = cmds.add_parser("campus-add", help="on the campus: a building's bridge certificate "
                        "(CN bridge.<building>) and its ACL block; reloads the campus broker")
    c.add_argument("building")
    c.add_argument("--out", help="bundle file (default: kuzet-bridge-<building>.tar.gz)")
    c.set_defaults(func=_campus_add)

    c = cmds.add_parser("campus-remove", help="on the campus: revoke a building's bridge "
                        "certificate and remove its ACL block; reloads the campus broker")
    c.add_argument("building")
    c.set_defaults(func=_campus_remove)

    c = cmds.add_parser("install", help="on the Pi: unpack an enrolment bundle (example: "
                        "kuzet provision install cam1.tar.gz --to /etc/kuzet)")
    c.add_argument("bundle")
    c.add_argument("--to", default="/etc/kuzet")
    c.set_defaults(func=_install)


def _prov(args):
    from provisioning.service import Provisioner, command_reload

    signer = None
    if args.signer:
        from provisioning.signer_service import SignerClient

        signer = SignerClient(args.signer)
    return Provisioner(args.dir, broker_host=args.broker_host, broker_port=args.broker_port,
                       reload_broker=command_reload(args.reload_cmd), signer=signer,
                       registry=args.registry)


def _init(args) -> int:
    from provisioning.service import Provisioner

    Provisioner.init(args.dir, broker_names=args.broker_name, broker_port=args.broker_port)
    print(f"made {args.dir}: CA, broker and hub certificates, dynsec.json, mosquitto.conf")
    print(f"next: link {Path(args.dir) / 'mosquitto.conf'} into /etc/mosquitto/conf.d/ "
          "and restart mosquitto")
    return 0


def _add(args) -> int:
    d = _prov(args).add_node(args.node)
    print(f"added {d.node_id} ({d.common_name})")
    return 0


def _enrol(args) -> int:
    bundle = _prov(args).enrol(args.node, hub_host=args.hub_host, live=not args.offline)
    out = Path(args.out or bundle.filename)
    out.write_bytes(bundle.data)
    out.chmod(0o600)
    print(f"enrolled {bundle.device.node_id}; bundle (holds the node's private key): {out}")
    return 0


def _revoke(args) -> int:
    done = _prov(args).revoke(args.node, live=not args.offline)
    node = done.device.node_id
    for failure in done.retried:
        print(f"retried after: {failure}")
    if done.problems:
        raise KuzetError(f"{node} is revoked in the registry and cannot enrol again, but "
                         f"{'; '.join(done.problems)}. Run the same command again to finish.")
    print(f"{node} was already revoked; every step done again" if done.already
          else f"revoked {node}")
    return 0


def _list(args) -> int:
    for d in _prov(args).registry.all():
        print(f"{d.node_id:30} {d.status:9} serial {d.serial or '-'}")
    return 0


def _install(args) -> int:
    from provisioning.service import install_bundle

    for path in install_bundle(Path(args.bundle).read_bytes(), args.to):
        print(f"wrote {path}")
    return 0


def _signer(args) -> int:
    import logging

    from provisioning.ca import CertificateAuthority
    from provisioning.registry import DeviceRegistry
    from provisioning.signer import Signer
    from provisioning.signer_service import SignerService

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    registry = DeviceRegistry(args.registry or Path(args.dir) / "devices.db", readonly=True)
    service = SignerService(Signer(CertificateAuthority(args.dir), registry), args.socket)
    print(f"signer listening on {args.socket}", flush=True)
    try:
        service.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        service.server_close()
    return 0


def _web(args) -> int:
    from provisioning.web_front import WebFront, hub_settings, write_web_front

    front = WebFront(tuple(args.name), hub_port=args.hub_port, https_port=args.https_port,
                     http_port=args.http_port)
    cert, _key, site = write_web_front(args.dir, front)
    print(f"wrote {cert} (for {', '.join(args.name)}) and {site}")
    print(f"next: sudo ln -s {site} /etc/nginx/sites-enabled/kuzet && sudo systemctl reload "
          "nginx")
    print(f"in hub.toml: [web] {hub_settings(front)}")
    return 0


def _bridge(args) -> int:
    from provisioning.campus import install_bridge

    out = install_bridge(Path(args.bundle).read_bytes(), args.dir, building=args.building,
                         campus_host=args.campus_host, campus_port=args.campus_port,
                         protocol=args.protocol)
    print(f"wrote {out} and {Path(args.dir) / 'campus'}/ (the campus CA, bridge.crt/.key)")
    print(f"next: sudo ln -s {out} /etc/mosquitto/conf.d/kuzet-bridge.conf && sudo systemctl "
          "restart mosquitto (persistence must stay on: the bridge's queue is in it)")
    return 0


def _campus_init(args) -> int:
    from provisioning.campus import CampusPki

    CampusPki.init(args.dir, broker_names=args.broker_name, port=args.broker_port)
    print(f"made {args.dir}: campus CA, broker and campus-hub certificates, acl, "
          "mosquitto.conf")
    print(f"next: link {Path(args.dir) / 'mosquitto.conf'} into /etc/mosquitto/conf.d/ and "
          "restart mosquitto; add each building with `campus-add`")
    return 0


def _campus_reload(args) -> None:
    from provisioning.service import command_reload

    try:
        command_reload(args.reload_cmd)()
    except KuzetError as exc:
        print(f"the campus broker was not reloaded ({exc}): reload it to apply the ACL")


def _campus_add(args) -> int:
    from provisioning.campus import CampusPki

    bundle = CampusPki(args.dir).add_building(args.building)
    out = Path(args.out or bundle.filename)
    out.write_bytes(bundle.data)
    out.chmod(0o600)
    _campus_reload(args)
    print(f"building {args.building}: bridge certificate serial {bundle.serial}; bundle (holds "
          f"its private key): {out}")
    return 0


def _campus_remove(args) -> int:
    from provisioning.campus import CampusPki

    CampusPki(args.dir).remove_building(args.building)
    _campus_reload(args)
    print(f"building {args.building}: certificates revoked, ACL block removed")
    return 0
