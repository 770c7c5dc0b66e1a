"""`osm-l2sm switch up|down`: what the node DaemonSet (or the sandbox, per node netns) runs."""
from __future__ import annotations

import argparse
import json
import os

from osm_l2sm.controller.main import TOKEN_ENV

from .agent import DEFAULT_BRIDGE, switch_down, switch_up


def _peer(value: str) -> tuple[str, str]:
    name, sep, ip = value.partition("=")
    if not sep or not name or not ip:
        raise argparse.ArgumentTypeError(f"expected NAME=IP, got {value!r}")
    return name, ip


def register(sub) -> None:
    switch = sub.add_parser("switch", help="the node switch: OVS bridge, tunnels, controller registration")
    ssub = switch.add_subparsers(dest="switch_command", metavar="ACTION")
    ssub.required = True

    up = ssub.add_parser("up", help="start OVS if needed, ensure bridge and tunnels, register with the controller")
    up.add_argument("--node", required=True, help="this node's switch name")
    up.add_argument("--run-dir", required=True, help="OVS run directory (database, sockets, logs)")
    up.add_argument("--controller", required=True, help="OpenFlow target, e.g. tcp:10.0.0.1:6653")
    up.add_argument("--rest", required=True, help="controller REST URL, e.g. http://10.0.0.1:8181")
    up.add_argument("--local-ip", required=True, help="this node's underlay address")
    up.add_argument("--underlay-dev", required=True, help="interface the tunnels leave by")
    up.add_argument("--peer", action="append", type=_peer, default=[], metavar="NAME=IP",
                    help="a peer node and its underlay address (repeat)")
    up.add_argument("--bridge", default=DEFAULT_BRIDGE, help=f"bridge name (default {DEFAULT_BRIDGE})")
    up.add_argument("--tunnel-mtu", type=int, default=1500, help="MTU of the VXLAN devices (default 1500)")
    up.set_defaults(func=_up)

    down = ssub.add_parser("down", help="unregister, remove tunnels and bridge, stop OVS")
    down.add_argument("--node", required=True)
    down.add_argument("--run-dir", required=True)
    down.add_argument("--rest", help="controller REST URL (omit to skip unregistering)")
    down.set_defaults(func=_down)


def _up(args) -> int:
    view = switch_up(args.node, args.run_dir, args.controller, args.rest, args.local_ip, args.underlay_dev,
                     dict(args.peer), bridge=args.bridge, token=os.environ.get(TOKEN_ENV), mtu=args.tunnel_mtu)
    print(json.dumps(view, sort_keys=True))
    return 0


def _down(args) -> int:
    switch_down(args.node, args.run_dir, args.rest, token=os.environ.get(TOKEN_ENV))
    return 0
