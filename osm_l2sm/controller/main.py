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
from osm_l2sm.protocol import OPENFLOW_PORT, REST_PORT, TOKEN_ENV

LOG = logging.getLogger("osm_l2sm.controller")
# A GET /sync?wait=S holds a worker up to 60 s: enough workers that a few waiters leave room for the rest.
REST_THREADS = 16
REST_TIMEOUT = 30
REST_CONNECTIONS = 1000  # beyond this waitress stops accepting until some close (idle ones close after the timeout)
ECHO_INTERVAL = 5.0  # seconds between OpenFlow echo requests to a switch
ECHO_MISSES = 2  # unanswered echo requests after which its connection is closed


def host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--of-listen", type=host_port, default=("0.0.0.0", OPENFLOW_PORT), metavar="HOST:PORT",
                        help=f"OpenFlow listen address (default 0.0.0.0:{OPENFLOW_PORT})")
    parser.add_argument("--rest-listen", type=host_port, default=("127.0.0.1", REST_PORT), metavar="HOST:PORT",
                        help=f"REST listen address (default 127.0.0.1:{REST_PORT})")
    parser.add_argument("--role", choices=("cluster", "provider"), default="cluster",
                        help="cluster: a cluster's controller; provider: the registry of inter-domain networks, "
                             "whose network ids are their global tags: REST only, no OpenFlow listener (no switch "
                             "connects to it; --of-listen is ignored)")
    parser.add_argument("--state", required=True, metavar="FILE", help="state file (created when missing)")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                        help=f"bearer token the REST API requires (default ${TOKEN_ENV}; none: no auth)")
    parser.add_argument("--rest-threads", type=positive, default=REST_THREADS, metavar="N",
                        help=f"REST worker threads; more requests wait in a queue (default {REST_THREADS})")
    parser.add_argument("--rest-timeout", type=positive, default=REST_TIMEOUT, metavar="SECONDS",
                        help="close a REST connection that sends nothing for this long, mid-request included "
                             f"(default {REST_TIMEOUT})")
    tls = parser.add_argument_group(
        "OpenFlow TLS", "all three, or none: with them the OpenFlow port accepts only TLS from switches whose "
        "certificate the CA signed, and a switch's datapath id must be the one of its certificate's common name "
        "(its node name); without them any process that reaches the port can claim to be a switch")
    tls.add_argument("--of-tls-key", metavar="FILE", help="the controller's private key (PEM)")
    tls.add_argument("--of-tls-cert", metavar="FILE", help="the controller's certificate (PEM)")
    tls.add_argument("--of-tls-ca", metavar="FILE", help="the CA certificate the switches' certificates chain to")
    election = parser.add_argument_group(
        "leader election", "several replicas, one leader: a standby answers only /healthz until it holds the Lease, "
        "then labels its pod (l2sm.k8s.local/controller-leader=true) for the Service to select; needs $POD_NAME, "
        "$POD_NAMESPACE and the Kubernetes API (in-cluster, or $KUBECONFIG)")
    election.add_argument("--leader-lease", metavar="NAME", help="the coordination.k8s.io Lease to hold (default: "
                          "no election, this process leads)")
    election.add_argument("--leader-lease-seconds", type=positive, default=6, metavar="SECONDS",
                          help="lease duration: a dead leader is replaced after about this long (default 6)")


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {value!r}")
    return int(value)


def tls_files(args) -> tuple[str, str, str] | None:
    """(key, cert, CA) when TLS is asked for; one clear line when only some are given or one is unreadable."""
    files = (getattr(args, "of_tls_key", None), getattr(args, "of_tls_cert", None), getattr(args, "of_tls_ca", None))
    if not any(files):
        return None
    names = ("--of-tls-key", "--of-tls-cert", "--of-tls-ca")
    missing = [n for n, f in zip(names, files) if not f]
    if missing:
        raise L2smError(f"OpenFlow TLS needs --of-tls-key, --of-tls-cert and --of-tls-ca; missing {', '.join(missing)}")
    for name, path in zip(names, files):
        if not os.access(path, os.R_OK):
            raise L2smError(f"{name} {path}: not a readable file")
    return files


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
    from prometheus_client import disable_created_metrics
    from waitress import create_server

    from . import ofapp
    from .core import Controller
    from .rest import MAX_BODY, JsonErrorChannel, create_app
    from .state import State

    disable_created_metrics()  # the *_created series only add noise to scrapes
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" is normal under load
    from .leader import Leadership

    tls = tls_files(args)
    leadership = Leadership.from_args(args)
    if leadership:  # a standby waits here; the state is read once it leads
        leadership.wait(args.rest_listen)
    controller = Controller(State(args.state))
    provider = getattr(args, "role", "cluster") == "provider"
    if not provider:
        check_free(args.of_listen, "OpenFlow")
    check_free(args.rest_listen, "REST")
    # waitress reads requests in one event loop (a slow or silent client holds no worker, and is closed after
    # --rest-timeout), answers 413 itself above MAX_BODY before reading the body, and runs the app on a fixed pool
    timeout = args.rest_timeout
    server = create_server(create_app(controller, args.token), host=args.rest_listen[0], port=args.rest_listen[1],
                           threads=args.rest_threads, channel_timeout=timeout,
                           cleanup_interval=max(1, min(30, timeout // 2)), connection_limit=REST_CONNECTIONS,
                           max_request_body_size=MAX_BODY, asyncore_use_poll=True, ident="osm-l2sm")
    server.channel_class = JsonErrorChannel  # waitress's own errors in the API's {"error": ...} shape

    def stop(signum, _frame):
        LOG.info("stopping on signal %d", signum)
        server.close()
        if leadership:
            leadership.release()
        sys.stderr.flush()
        os._exit(0)  # os-ken's hub threads cannot be joined from outside

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=server.run, name="rest", daemon=True).start()
    if leadership:
        leadership.announce()
    if provider:  # the registry of inter-domain tags: switches connect to their clusters' controllers only
        LOG.info("provider controller: REST on http://%s:%d, state %s", *args.rest_listen, args.state)
        while True:
            signal.pause()  # until stop() exits
    LOG.info("cluster controller: REST on http://%s:%d, OpenFlow%s on %s:%d, state %s",
             *args.rest_listen, " over TLS" if tls else "", *args.of_listen, args.state)
    of_args = ["--ofp-listen-host", args.of_listen[0]]
    if tls:  # os-ken then listens with TLS only, requiring a client certificate the CA signed
        of_args += ["--ofp-ssl-listen-port", str(args.of_listen[1]), "--ctl-privkey", tls[0], "--ctl-cert", tls[1],
                    "--ca-certs", tls[2]]
    else:
        LOG.warning("OpenFlow without TLS: any process that reaches %s:%d can claim to be a switch", *args.of_listen)
        of_args += ["--ofp-tcp-listen-port", str(args.of_listen[1])]
    cfg.CONF(args=of_args, project="os_ken")
    # A connection whose switch went silently away must end: the first connection of a dpid stays, so until then
    # the switch could not connect again. Echo requests find it within ECHO_INTERVAL * (ECHO_MISSES + 1) seconds.
    cfg.CONF.set_override("echo_request_interval", ECHO_INTERVAL)
    cfg.CONF.set_override("maximum_unreplied_echo_requests", ECHO_MISSES)
    ofapp.run(controller, bind_certificates=bool(tls))
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
