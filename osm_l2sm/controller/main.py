"""Run the controller: os-ken OpenFlow app and Flask REST API in one process.

Used by ``osm-l2sm controller run`` and ``python -m osm_l2sm.controller``.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading

from osm_l2sm.errors import L2smError

LOG = logging.getLogger("osm_l2sm.controller")
TOKEN_ENV = "L2SM_CONTROLLER_TOKEN"


def host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--of-listen", type=host_port, default=("0.0.0.0", 6653), metavar="HOST:PORT",
                        help="OpenFlow listen address (default 0.0.0.0:6653)")
    parser.add_argument("--rest-listen", type=host_port, default=("127.0.0.1", 8181), metavar="HOST:PORT",
                        help="REST listen address (default 127.0.0.1:8181)")
    parser.add_argument("--role", choices=("cluster", "provider"), default="cluster",
                        help="cluster: a cluster's controller; provider: the registry of inter-domain networks, "
                             "whose network ids are their global tags: REST only, no OpenFlow listener (no switch "
                             "connects to it; --of-listen is ignored)")
    parser.add_argument("--state", required=True, metavar="FILE", help="state file (created when missing)")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                        help=f"bearer token the REST API requires (default ${TOKEN_ENV}; none: no auth)")


def check_free(address: tuple[str, int], what: str) -> None:
    """Fail with one line when we cannot listen on ``address`` (the servers would only log it, or exit)."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as err:
            raise L2smError(f"cannot listen for {what} on {address[0]}:{address[1]}: {err.strerror}") from err


def run(args) -> int:
    """Serve until SIGTERM/SIGINT. Everything is persisted on each change, so stopping loses nothing."""
    from os_ken import cfg
    from os_ken.base import app_manager
    from prometheus_client import disable_created_metrics
    from werkzeug.serving import make_server

    from . import ofapp
    from .core import Controller
    from .rest import create_app
    from .state import State

    disable_created_metrics()  # the *_created series only add noise to scrapes
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is too much
    controller = Controller(State(args.state))
    provider = getattr(args, "role", "cluster") == "provider"
    if not provider:
        check_free(args.of_listen, "OpenFlow")
    check_free(args.rest_listen, "REST")
    server = make_server(args.rest_listen[0], args.rest_listen[1], create_app(controller, args.token), threaded=True)

    def stop(signum, _frame):
        LOG.info("stopping on signal %d", signum)
        server.shutdown()
        sys.stderr.flush()
        os._exit(0)  # os-ken's hub threads cannot be joined from outside

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=server.serve_forever, name="rest", daemon=True).start()
    if provider:  # the registry of inter-domain tags: switches connect to their clusters' controllers only
        LOG.info("provider controller: REST on http://%s:%d, state %s", *args.rest_listen, args.state)
        while True:
            signal.pause()  # until stop() exits
    LOG.info("cluster controller: REST on http://%s:%d, OpenFlow on %s:%d, state %s",
             *args.rest_listen, *args.of_listen, args.state)

    cfg.CONF(args=["--ofp-listen-host", args.of_listen[0], "--ofp-tcp-listen-port", str(args.of_listen[1])],
             project="os_ken")
    ofapp.serve(controller)
    app_manager.AppManager.run_apps([ofapp.__name__])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m osm_l2sm.controller", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except L2smError as err:
        print(f"osm-l2sm: error: {err}", file=sys.stderr)
        return 1
