"""`osm-l2sm switch up|cert|down`: what the node DaemonSet (or the sandbox, per node netns) runs; the CNI box adds
`switch daemon`."""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil

from osm_l2sm.errors import L2smError
from osm_l2sm.protocol import TOKEN_ENV

from .agent import DEFAULT_BRIDGE, DomainLinks, switch_down, switch_up
from .ovs import OvsInstance


def _peer(value: str) -> tuple[str, str]:
    name, sep, ip = value.partition("=")
    if not sep or not name or not ip:
        raise argparse.ArgumentTypeError(f"expected NAME=IP, got {value!r}")
    return name, ip


def _domain_peer(value: str) -> tuple[str, tuple[str, str]]:
    cluster, sep, rest = value.partition("=")
    edge, at, ip = rest.partition("@")
    if not sep or not at or not cluster or not edge or not ip:
        raise argparse.ArgumentTypeError(f"expected CLUSTER=EDGE@IP, got {value!r}")
    return cluster, (edge, ip)


def register(sub):
    """Add the ``switch`` command; its sub-parsers are returned for the actions other boxes add."""
    switch = sub.add_parser("switch", help="the node switch: OVS bridge, tunnels, controller registration")
    ssub = switch.add_subparsers(dest="switch_command", metavar="ACTION")
    ssub.required = True

    up = ssub.add_parser("up", help="start OVS if needed, ensure bridge and tunnels, register with the controller")
    up.add_argument("--node", required=True, help="this node's switch name")
    up.add_argument("--run-dir", required=True, help="OVS run directory (database, sockets, logs)")
    up.add_argument("--controller", required=True,
                    help="OpenFlow target, e.g. ssl:10.0.0.1:6653 (with --tls-*) or tcp:10.0.0.1:6653")
    up.add_argument("--rest", required=True, help="controller REST URL, e.g. http://10.0.0.1:8181")
    up.add_argument("--local-ip", required=True, help="this node's underlay address")
    up.add_argument("--underlay-dev", required=True, help="interface the tunnels leave by")
    up.add_argument("--peer", action="append", type=_peer, default=[], metavar="NAME=IP",
                    help="a peer node and its underlay address (repeat)")
    up.add_argument("--bridge", default=DEFAULT_BRIDGE, help=f"bridge name (default {DEFAULT_BRIDGE})")
    up.add_argument("--tunnel-mtu", type=int,
                    help="MTU of the VXLAN devices (default: the underlay device's less 50, the VXLAN overhead)")
    up.add_argument("--domain-peer", action="append", type=_domain_peer, default=[], metavar="CLUSTER=EDGE@IP",
                    help="an edge node's domain link: the peer cluster, its edge's switch name and address (repeat)")
    up.add_argument("--domain-ip", metavar="IP", help="this edge's address on the inter-domain underlay")
    up.add_argument("--domain-dev", metavar="DEV", help="interface the domain links leave by")
    up.add_argument("--tls-key", metavar="FILE", help="this switch's private key, for an ssl: target")
    up.add_argument("--tls-cert", metavar="FILE", help="this switch's certificate (common name: --node)")
    up.add_argument("--tls-ca", metavar="FILE", help="the CA certificate the controller's certificate chains to")
    up.set_defaults(func=_up)

    cert = ssub.add_parser("cert", help="make this node's switch key and certificate, signed by the CA "
                                        "(the common name is the node name, which the controller binds the dpid to)")
    cert.add_argument("--node", required=True, help="this node's switch name")
    cert.add_argument("--ca-cert", required=True, metavar="FILE", help="the CA certificate (PEM)")
    cert.add_argument("--ca-key", required=True, metavar="FILE", help="the CA private key (PEM)")
    cert.add_argument("--out-dir", required=True, metavar="DIR",
                      help="where switch.key (0600), switch.pem and ca.pem are written")
    cert.set_defaults(func=_cert)

    down = ssub.add_parser("down", help="unregister, remove tunnels and bridge, stop OVS")
    down.add_argument("--node", required=True)
    down.add_argument("--run-dir", required=True)
    down.add_argument("--rest", help="controller REST URL (omit to skip unregistering)")
    down.add_argument("--unless-daemonset", metavar="NAME",
                      help="in a pod of DaemonSet NAME (namespace $POD_NAMESPACE): while that DaemonSet remains, this "
                           "pod only restarts, so keep everything and save the bridge's flows for the next start "
                           "instead (OVS forwards with them before the controller resyncs it)")
    down.add_argument("--bridge", default=DEFAULT_BRIDGE, help=f"bridge name (default {DEFAULT_BRIDGE})")
    down.set_defaults(func=_down)
    return ssub


def _up(args) -> int:
    tls = (args.tls_key, args.tls_cert, args.tls_ca)
    if any(tls) and not all(tls):
        raise L2smError("switch TLS needs --tls-key, --tls-cert and --tls-ca together")
    domain = None
    if args.domain_peer or args.domain_ip or args.domain_dev:
        if not (args.domain_peer and args.domain_ip and args.domain_dev):
            raise L2smError("domain links need --domain-peer, --domain-ip and --domain-dev together")
        domain = DomainLinks(args.domain_ip, args.domain_dev, dict(args.domain_peer))
    view = switch_up(args.node, args.run_dir, args.controller, args.rest, args.local_ip, args.underlay_dev,
                     dict(args.peer), bridge=args.bridge, token=os.environ.get(TOKEN_ENV), mtu=args.tunnel_mtu,
                     tls=tls if all(tls) else None, domain=domain)
    print(json.dumps(view, sort_keys=True))
    return 0


def _cert(args) -> int:
    from osm_l2sm.controller.tls import issue

    os.makedirs(args.out_dir, mode=0o700, exist_ok=True)
    issue(args.ca_cert, args.ca_key, args.node, os.path.join(args.out_dir, "switch.pem"),
          os.path.join(args.out_dir, "switch.key"))
    shutil.copyfile(args.ca_cert, os.path.join(args.out_dir, "ca.pem"))
    return 0


def _down(args) -> int:
    if args.unless_daemonset and daemonset_remains(args.unless_daemonset):
        path = OvsInstance(args.run_dir).save_flows(args.bridge)
        print(f"switch {args.node}: restarting, not down; flows saved to {path}")
        return 0
    switch_down(args.node, args.run_dir, args.rest, token=os.environ.get(TOKEN_ENV))
    return 0


def daemonset_remains(name: str) -> bool:
    """True while DaemonSet ``name`` of this pod's namespace exists and is not being deleted. An uninstall deletes
    it before its pods, and this pod's account and role with it: 404, 401 and 403 all say it is gone. When the API
    cannot be reached, True: a bridge left behind harms less than a node cut off."""
    from kubernetes import client, config

    try:
        if os.environ.get("KUBECONFIG"):  # read now: kubernetes.config reads it once, at import
            config.load_kube_config(os.environ["KUBECONFIG"])
        else:  # in a pod: its service account
            config.load_incluster_config()
        found = client.AppsV1Api().read_namespaced_daemon_set(name, os.environ["POD_NAMESPACE"])
    except client.ApiException as err:
        if err.status in (401, 403, 404):
            return False
        logging.warning("cannot read DaemonSet %s (%s): keeping the switch", name, err.reason)
        return True
    except Exception as err:  # no service account, no namespace, the API unreachable
        logging.warning("cannot reach the Kubernetes API (%s): keeping the switch", err)
        return True
    return found.metadata.deletion_timestamp is None

