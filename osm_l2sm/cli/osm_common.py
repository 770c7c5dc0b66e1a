"""What the OSM commands share: osmclient's NBI options (also before the command) and the NBI client they give."""
from __future__ import annotations

import argparse
import os

import yaml

from osm_l2sm.errors import L2smError

DEFAULT_WAIT = 600.0  # seconds --wait waits when no --timeout is given


# osmclient's global options (before the command, as `osm --hostname H ns-create ...`), each with its environment
# variable; given after the command they win. Stored under their own names: a sub-command's defaults would
# overwrite the same names.
GLOBAL_OSM = (("--hostname", "osm_host", "OSM_HOSTNAME", None), ("--user", "user", "OSM_USER", "admin"),
              ("--password", "password", "OSM_PASSWORD", "admin"), ("--project", "project", "OSM_PROJECT", "admin"))


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """osmclient's ``--hostname/--user/--password/--project`` before the command."""
    for flag, dest, env, _ in GLOBAL_OSM:
        parser.add_argument(flag, dest=f"global_{dest}", default=None, metavar=flag[2:].upper(),
                            help=f"OSM NBI {flag[2:]} for the OSM commands, as in osmclient (env {env})")


def resolve_osm_options(args) -> None:
    """Each OSM option: after the command, else before it, else its environment variable, else its default."""
    for _, dest, env, default in GLOBAL_OSM:
        value = getattr(args, dest, None) or getattr(args, f"global_{dest}", None) or os.environ.get(env) or default
        setattr(args, dest, value)


def osm_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("OSM NBI")
    group.add_argument("--osm-host", "--hostname", dest="osm_host", default=None,
                       help="OSM NBI host, host:port or URL (env OSM_HOSTNAME; https unless the URL says http://; "
                       "default port 9999, path /osm); osmclient's --hostname before the command works too")
    group.add_argument("--user", default=None, help="env OSM_USER (default admin)")
    group.add_argument("--password", default=None, help="env OSM_PASSWORD (default admin)")
    group.add_argument("--project", default=None, help="env OSM_PROJECT (default admin)")
    group.add_argument("--insecure", action="store_true", help="do not verify the NBI's TLS certificate")
    group.add_argument("--nbi-timeout", type=float, default=30.0, help="seconds per NBI request")
    return parent


def nbi_from_args(args):
    resolve_osm_options(args)
    if not args.osm_host:
        return None
    from osm_l2sm.osm.nbi import connect_nbi

    return connect_nbi(args.osm_host, args.user, args.password, args.project, insecure=args.insecure,
                       timeout=args.nbi_timeout)


def yaml_option(text: str, option: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise L2smError(f"{option}: not valid YAML: {str(err).splitlines()[0]}") from None
