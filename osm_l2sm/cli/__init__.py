"""The `osm-l2sm` command. Each area registers its sub-commands from its own module.

A command is a function ``run(args) -> int``; an :class:`~osm_l2sm.errors.L2smError` (or a ``KeyboardInterrupt``)
becomes one line on stderr and a non-zero exit.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from osm_l2sm import __version__
from osm_l2sm.errors import L2smError

from . import controller, demo, descriptors, k8s, osm, sandbox

AREAS = (sandbox, controller, descriptors, osm, k8s, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="osm-l2sm",
        description="Isolated link-layer networks for OSM network services: a local sandbox cluster, "
        "descriptor planning, OSM and Kubernetes adapters, and the data plane.",
    )
    parser.add_argument("--version", action="version", version=f"osm-l2sm {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    osm.add_global_options(parser)  # osmclient's `osm --hostname H <command>` form
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for area in AREAS:
        area.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except L2smError as err:
        print(f"osm-l2sm: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("osm-l2sm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
