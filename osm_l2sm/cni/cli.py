"""`osm-l2sm switch daemon`: the node daemon the l2sm-cni plugin talks to, run next to the node's switch (in the
switch pod on Kubernetes, in each node's netns on the sandbox)."""
from __future__ import annotations

import logging
import os
import signal
import sys

from osm_l2sm.constants import BRIDGE
from osm_l2sm.protocol import TOKEN_ENV

from .config import NodeConfig
from .daemon import DEFAULT_SOCKET, serve


def register(switch_actions) -> None:
    """Add the ``daemon`` action to the ``switch`` command's ``switch_actions`` (its sub-parsers)."""
    daemon = switch_actions.add_parser("daemon",
                                       help="serve the l2sm-cni plugin of this node on a root-only unix socket")
    daemon.add_argument("--node", required=True, help="this node's switch name")
    daemon.add_argument("--run-dir", required=True, help="the node's OVS run directory (its db.sock)")
    daemon.add_argument("--rest", required=True,
                        help=f"controller REST URL; the only place the token ({TOKEN_ENV}) is sent")
    daemon.add_argument("--bridge", default=BRIDGE, help=f"bridge name (default {BRIDGE})")
    daemon.add_argument("--socket", default=DEFAULT_SOCKET, help=f"socket path (default {DEFAULT_SOCKET})")
    daemon.set_defaults(func=_daemon)


def _daemon(args) -> int:
    root = logging.getLogger()
    root.setLevel(min(root.level, logging.INFO))  # a daemon logs where it listens and what it could not release
    main_pid = os.getpid()
    # leave through serve()'s cleanup; a forked child (none expected) must not unwind the server's stack
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0) if os.getpid() == main_pid else os._exit(0))
    node = NodeConfig(switch=args.node, controller=args.rest, bridge=args.bridge,
                      ovs_rundir=os.path.abspath(args.run_dir), token=os.environ.get(TOKEN_ENV))
    serve(node, args.socket)
    return 0
