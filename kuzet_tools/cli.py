"""The one command-line entry point, ``kuzet``, with a subcommand per area.

Each area registers its own subcommands (``register(subparsers)``), so this module stays a
thin dispatcher: ``kuzet edge …``, ``kuzet models …``, ``kuzet bench …``, ``kuzet demo``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from kuzet.errors import KuzetError

# Modules that expose ``register(subparsers)``; imported lazily so that ``kuzet --help`` works
# even where an optional extra (the edge's OpenCV, the hub's Flask) is not installed.
AREAS = (
    "edge.cli",
    "kuzet_tools.models.cli",
    "hub.cli",
    "kuzet_tools.bench.cli",
    "kuzet_tools.demo",
    "provisioning.cli",
    "kuzet_tools.verify",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kuzet",
        description="Kuzet: in-classroom exam proctoring on the edge.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in AREAS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an extra that is not installed
            logging.getLogger(__name__).debug("area %s unavailable: %s", name, exc)
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KuzetError as exc:
        print(f"kuzet: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
