"""`osm-l2sm` sub-commands of the k8s area: `operator run`, `k8s network create|delete|list` and `k8s osm status`."""
from __future__ import annotations

import os

from osm_l2sm.protocol import TOKEN_ENV


def register(sub) -> None:
    """Add this area's sub-commands to the top-level parser."""
    operator = sub.add_parser("operator", help="the Kubernetes operator (L2Networks, pod networks, addresses)")
    osub = operator.add_subparsers(dest="operator_command", metavar="ACTION")
    osub.required = True
    run = osub.add_parser("run", help="run the operator in the foreground until SIGTERM/SIGINT",
                          epilog="OSM mode (it needs the webhook) is configured by the environment, read once at the "
                          "start: OSM_L2SM_OSM_NBI (NBI's URL; off without it), OSM_USER, OSM_PASSWORD, OSM_PROJECT "
                          "and the OSM_L2SM_OSM_* settings docs/osm.md lists")
    run.add_argument("--controller", default=os.environ.get("L2SM_CONTROLLER_URL"),
                     help="controller REST URL, e.g. http://l2sm-controller:8181 (env L2SM_CONTROLLER_URL)")
    run.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                     help=f"controller bearer token (env {TOKEN_ENV})")
    run.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster account, then KUBECONFIG)")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--namespace", action="append", dest="namespaces", metavar="NS",
                       help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", action="store_true", help="watch the whole cluster (the default)")
    run.add_argument("--webhook-listen", default=os.environ.get("L2SM_WEBHOOK_LISTEN"), metavar="HOST:PORT",
                     help="serve the mutating pod webhook (path /l2sm-pods) over HTTPS here "
                     "(env L2SM_WEBHOOK_LISTEN, set by the l2sm chart)")
    run.add_argument("--webhook-port", type=int, help="the same on 0.0.0.0:PORT")
    run.add_argument("--provider-url", action="append", metavar="NAME=URL", default=_env_list("L2SM_PROVIDER_URLS"),
                     help="REST URL of the inter-domain provider that ext-vnet networks name in spec.provider.name "
                     "(repeatable; env L2SM_PROVIDER_URLS, space-separated); without it "
                     "http://<spec.provider.domain>:<spec.provider.sdnPort>")
    run.add_argument("--provider-token", default=os.environ.get("L2SM_PROVIDER_TOKEN"),
                     help="bearer token of the providers (env L2SM_PROVIDER_TOKEN)")
    run.add_argument("--cluster-name", default=os.environ.get("L2SM_CLUSTER_NAME"),
                     help="this cluster's name at the providers (env L2SM_CLUSTER_NAME; default from the uid of "
                     "namespace kube-system)")
    run.add_argument("--webhook-cert", default=os.environ.get("L2SM_WEBHOOK_CERT"),
                     help="TLS certificate file of the webhook (env L2SM_WEBHOOK_CERT)")
    run.add_argument("--webhook-key", default=os.environ.get("L2SM_WEBHOOK_KEY"),
                     help="TLS key file of the webhook (env L2SM_WEBHOOK_KEY)")
    run.add_argument("--liveness", metavar="URL", default=os.environ.get("L2SM_OPERATOR_LIVENESS"),
                     help="serve kopf's liveness endpoint here, e.g. http://0.0.0.0:8080/healthz: it answers "
                     "while the operator runs (env L2SM_OPERATOR_LIVENESS)")
    run.set_defaults(func=_run_operator)

    k8s = sub.add_parser("k8s", help="networks on a Kubernetes cluster (L2Network CRs or l2sm-network releases)")
    ksub = k8s.add_subparsers(dest="k8s_command", metavar="OBJECT")
    ksub.required = True
    network = ksub.add_parser("network", help="create, delete or list networks")
    nsub = network.add_subparsers(dest="network_command", metavar="ACTION")
    nsub.required = True
    create = nsub.add_parser("create", help="create a network (no-op when it exists)")
    create.add_argument("name")
    create.add_argument("--cidr", help="subnet for automatic pod addresses, e.g. 10.0.1.0/24")
    create.add_argument("--provider", help="inter-domain provider: the network becomes an ext-vnet in every cluster "
                        "(default l2sm-provider with several --kubeconfig)")
    create.add_argument("--provider-domain", help="the provider's DNS domain (default: its name)")
    create.add_argument("--split-range", action="store_true",
                        help="give each cluster its own part of the CIDR's addresses (podAddressRange)")
    delete = nsub.add_parser("delete", help="delete a network (from every cluster given)")
    delete.add_argument("name")
    listing = nsub.add_parser("list", help="list the networks of the namespace")
    for p in (create, delete):
        p.add_argument("--kubeconfig", action="append", metavar="[CLUSTER=]FILE",
                       help="kubeconfig file (env KUBECONFIG); repeat for an inter-domain network over several "
                       "clusters, each in its context's namespace unless --namespace")
    listing.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), required="KUBECONFIG" not in os.environ,
                         help="kubeconfig file (env KUBECONFIG)")
    for p in (create, delete, listing):
        p.add_argument("--namespace", help="namespace of the networks (default: default)")
        p.add_argument("--mode", choices=("cr", "helm"), default="cr",
                       help="cr: L2Network resources; helm: one l2sm-network release per network")
        p.add_argument("--helm", help="helm executable (default: helm on PATH)")
    create.set_defaults(func=_network_create)
    delete.set_defaults(func=_network_delete)
    listing.set_defaults(func=_network_list)

    osm = ksub.add_parser("osm", help="the operator's OSM mode")
    osub = osm.add_subparsers(dest="osm_command", metavar="ACTION")
    osub.required = True
    status = osub.add_parser("status", help="each OSM NS the operator saw and what its OSM mode did (from the "
                             "operator's status ConfigMap)")
    status.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"),
                        help="kubeconfig file (env KUBECONFIG; default: in-cluster account)")
    status.add_argument("--namespace", help="the operator's namespace (default: every namespace)")
    status.add_argument("--json", action="store_true", help="print the entries as JSON")
    status.set_defaults(func=_osm_status)

    attach = ksub.add_parser("node-attach", help="on a node: attach and detach the L2S-M interfaces of running pods "
                             "when their networks change (run by the l2sm chart's switch DaemonSet)")
    attach.add_argument("--node", default=os.environ.get("NODE_NAME"), required="NODE_NAME" not in os.environ,
                        help="this node's name (env NODE_NAME)")
    attach.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster account, then KUBECONFIG)")
    attach.add_argument("--plugin", default="/opt/cni/bin/l2sm-cni",
                        help="the node's l2sm-cni executable (default /opt/cni/bin/l2sm-cni)")
    attach.add_argument("--peers-from-nodes", metavar="RUN_DIR",
                        help="also keep the switch of this OVS run directory tunnelled to every other node of the "
                             "cluster (from the Node objects: a node that joins or leaves needs no restart)")
    attach.add_argument("--rest", help="controller REST URL, where the switch registers its tunnels "
                                       "(with --peers-from-nodes)")
    attach.set_defaults(func=_node_attach)


def _env_list(var: str) -> list[str]:
    return os.environ.get(var, "").split()


def _run_operator(args) -> int:
    import logging

    from osm_l2sm.errors import L2smError
    from osm_l2sm.k8s.operator import run_operator
    from osm_l2sm.k8s.operator_config import OperatorConfig, osm_config_from_env
    from osm_l2sm.k8s.provider import parse_provider_urls

    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    webhook = None
    addr, port = "0.0.0.0", args.webhook_port
    if args.webhook_listen and not port:
        addr, _, port_text = args.webhook_listen.rpartition(":")
        if not addr or not port_text.isdigit():
            raise L2smError(f"--webhook-listen {args.webhook_listen!r}: expected HOST:PORT")
        port = int(port_text)
    if port:
        import kopf

        if bool(args.webhook_cert) != bool(args.webhook_key):
            raise L2smError("--webhook-cert and --webhook-key go together")
        webhook = kopf.WebhookServer(addr=addr, port=port, certfile=args.webhook_cert, pkeyfile=args.webhook_key)
    providers = parse_provider_urls(args.provider_url)
    config = OperatorConfig(args.controller, args.token, args.kubeconfig, providers, args.provider_token,
                            args.cluster_name, osm=osm_config_from_env(os.environ))
    run_operator(config, args.namespaces, webhook, args.liveness)
    return 0


def _node_attach(args) -> int:
    import logging

    from osm_l2sm.k8s.node_attach import run_node_attach

    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    from osm_l2sm.errors import L2smError

    if args.peers_from_nodes and not args.rest:
        raise L2smError("--peers-from-nodes needs --rest")
    run_node_attach(args.node, args.kubeconfig, args.plugin, args.peers_from_nodes, args.rest,
                    os.environ.get(TOKEN_ENV))
    return 0


def _kubeconfigs(args) -> list[str]:
    from osm_l2sm.errors import L2smError

    given = args.kubeconfig if isinstance(args.kubeconfig, list) else [args.kubeconfig] if args.kubeconfig else []
    given = given or ([os.environ["KUBECONFIG"]] if os.environ.get("KUBECONFIG") else [])
    if not given:
        raise L2smError("no cluster: pass --kubeconfig FILE (or set KUBECONFIG)")
    return given


def _interdomain(args):
    """The multi-cluster target when the network is inter-domain (several clusters, a provider or a split range)."""
    from osm_l2sm.k8s.multidomain import interdomain_target

    kubeconfigs = _kubeconfigs(args)
    provider = getattr(args, "provider", None)  # `network delete` has none: it removes from every cluster
    split = getattr(args, "split_range", False)
    if len(kubeconfigs) == 1 and "=" not in kubeconfigs[0] and not provider and not split:
        return None
    if args.mode != "cr":
        from osm_l2sm.errors import L2smError

        raise L2smError("inter-domain networks are made as L2Network resources: use --mode cr")
    return interdomain_target(kubeconfigs, args.namespace, provider, getattr(args, "provider_domain", None), split)


def _target(args):
    from osm_l2sm.k8s.target import kubernetes_target

    return kubernetes_target(_kubeconfigs(args)[0], args.namespace or "default", mode=args.mode, helm=args.helm)


def _where(target, args) -> str:
    if target is None:
        return f"namespace {args.namespace or 'default'}"
    return "clusters " + ", ".join(f"{c.name} (namespace {c.namespace})" for c in target.clusters.values())


def _network_create(args) -> int:
    from osm_l2sm.model import Network

    multi = _interdomain(args)
    created = (multi or _target(args)).ensure_network(Network(args.name, cidr=args.cidr))
    print(f"network {args.name} {'created' if created else 'already exists'} in {_where(multi, args)}")
    return 0


def _network_delete(args) -> int:
    from osm_l2sm.errors import L2smError

    multi = _interdomain(args)
    if not (multi or _target(args)).delete_network(args.name):
        raise L2smError(f"network {args.name} does not exist in {_where(multi, args)}")
    print(f"network {args.name} deleted from {_where(multi, args)}")
    return 0


def _network_list(args) -> int:
    for name in _target(args).list_networks():
        print(name)
    return 0


def _osm_status(args) -> int:
    import json

    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import ConfigException
    from urllib3.exceptions import HTTPError

    from osm_l2sm.errors import L2smError
    from osm_l2sm.k8s.osm_status import read_status
    from osm_l2sm.k8s.resources import api_client

    try:
        entries = read_status(api_client(args.kubeconfig), args.namespace)
    except ApiException as err:
        raise L2smError(f"cannot read the OSM-mode status: {err.status} {err.reason}") from None
    except (ConfigException, HTTPError, OSError) as err:
        raise L2smError(f"cannot read the OSM-mode status: {err}") from None
    if args.json:
        print(json.dumps(entries, indent=2, sort_keys=True))
        return 0
    rows = [("NS", "NS ID", "NAMESPACE", "NSD", "ACTION", "REASON", "KDUS", "UPDATED")]
    for e in entries:
        kdus = ", ".join(f"{k}={v}" for k, v in sorted((e.get("kdus") or {}).items()))
        rows.append((e.get("name") or "-", e["nsId"], e.get("namespace") or "-", e.get("nsd") or "-",
                     e.get("action") or "-", e.get("reason") or "-", kdus or "-", e.get("updated") or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    if not entries:
        print("(no OSM NS seen yet)")
    return 0
