"""``kuzet verify BUNDLE --ca ca.crt``: an appeal committee's check of an alert's evidence,
offline, with nothing but the bundle the hub's protocol page gives and the building's CA
certificate (``kuzet.bundle`` says what is checked). A revocation list is used where there
is one: the bundle's, ``--crl``, and ``crl.pem`` beside the CA certificate (where provisioning
writes it on every revocation); a revoked node certificate fails. Exit 0: every record signed
by the node's certificate from that CA, the chain unbroken, every file the one the node
signed; exit 1 otherwise, with each problem on its own line."""

from __future__ import annotations

import argparse
from pathlib import Path

from kuzet.bundle import CRL, Report, verify_bundle
from kuzet.errors import KuzetError


def register(sub) -> None:
    p = sub.add_parser("verify", help="check an evidence bundle offline against the "
                       "building's CA", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", type=Path, help="the evidence bundle (.zip) from the hub")
    p.add_argument("--ca", type=Path, help="the building's CA certificate (ca.crt)")
    p.add_argument("--crl", type=Path, action="append", default=[],
                   help="the CA's revocation list (default: crl.pem beside --ca, if there)")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        data = args.bundle.read_bytes()
        ca = args.ca.read_bytes() if args.ca else None
        crl_files = list(args.crl)
        beside = args.ca.parent / CRL if args.ca else None
        if not crl_files and beside is not None and beside.is_file():
            crl_files.append(beside)
        crls = [f.read_bytes() for f in crl_files]
    except OSError as exc:
        raise KuzetError(str(exc)) from None
    report = verify_bundle(data, ca, crls)
    print(describe(report))
    return 0 if report.ok else 1


def describe(report: Report) -> str:
    lines = [f"alert {report.alert_id}: {report.records} signed records, "
             f"{report.files} evidence files checked"]
    lines += [f"  PROBLEM: {p}" for p in report.problems]
    lines += [f"  note: {n}" for n in report.notes]
    if report.ok:
        lines.append("VERIFIED: signed by the node's certificate from the building's CA, "
                     "chain unbroken, files unchanged")
    elif not report.problems:
        lines.append("NOT PROVEN: the records are intact, but unsigned by the CA")
    else:
        lines.append("FAILED")
    return "\n".join(lines)
