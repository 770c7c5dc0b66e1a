"""`osm-l2sm` sub-commands of the k8s area: `operator run` and `k8s network create|delete|list`."""
from __future__ import annotations

import os


def register(sub) -> None:
    """Add this area's sub-commands to the top-level parser."""
    operator = sub.add_parser("operator", help="the Kubernetes operator (L2Networks, pod networks, addresses)")
    osub = operator.add_subparsers(dest="operator_command", metavar="ACTION")
    osub.required = True
    run = osub.add_parser("run", help="run the operator in the foreground until SIGTERM/SIGINT")
    run.add_argument("--controller", default=os.environ.get("L2SM_CONTROLLER_URL"),
                     help="controller REST URL, e.g. http://l2sm-controller:8181 (env L2SM_CONTROLLER_URL)")
    run.add_argument("--token", default=os.environ.get("L2SM_CONTROLLER_TOKEN"),
                     help="controller bearer token (env L2SM_CONTROLLER_TOKEN)")
    run.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster account, then KUBECONFIG)")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--namespace", action="append", dest="namespaces", metavar="NS",
                       help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", action="store_true", help="watch the whole cluster (the default)")
    run.add_argument("--webhook-port", type=int, help="serve the mutating pod webhook on this HTTPS port")
    run.add_argument("--webhook-cert", help="TLS certificate file of the webhook")
    run.add_argument("--webhook-key", help="TLS key file of the webhook")
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
    delete = nsub.add_parser("delete", help="delete a network")
    delete.add_argument("name")
    listing = nsub.add_parser("list", help="list the networks of the namespace")
    for p in (create, delete, listing):
        p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), required="KUBECONFIG" not in os.environ,
                       help="kubeconfig file (env KUBECONFIG)")
        p.add_argument("--namespace", default="default")
        p.add_argument("--mode", choices=("cr", "helm"), default="cr",
                       help="cr: L2Network resources; helm: one l2sm-network release per network")
        p.add_argument("--helm", help="helm executable (default: helm on PATH)")
    create.set_defaults(func=_network_create)
    delete.set_defaults(func=_network_delete)
    listing.set_defaults(func=_network_list)


def _run_operator(args) -> int:
    import logging

    from osm_l2sm.errors import L2smError
    from osm_l2sm.k8s.operator import run_operator

    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    webhook = None
    if args.webhook_port:
        import kopf

        if bool(args.webhook_cert) != bool(args.webhook_key):
            raise L2smError("--webhook-cert and --webhook-key go together")
        webhook = kopf.WebhookServer(port=args.webhook_port, certfile=args.webhook_cert, pkeyfile=args.webhook_key)
    run_operator(args.controller, args.token, args.namespaces, args.kubeconfig, webhook)
    return 0


def _target(args):
    from osm_l2sm.k8s.target import KubernetesTarget

    return KubernetesTarget(args.kubeconfig, args.namespace, mode=args.mode, helm=args.helm)


def _network_create(args) -> int:
    from osm_l2sm.model import Network

    created = _target(args).ensure_network(Network(args.name, cidr=args.cidr))
    print(f"network {args.name} {'created' if created else 'already exists'} in namespace {args.namespace}")
    return 0


def _network_delete(args) -> int:
    from osm_l2sm.errors import L2smError

    if not _target(args).delete_network(args.name):
        raise L2smError(f"network {args.name} does not exist in namespace {args.namespace}")
    print(f"network {args.name} deleted from namespace {args.namespace}")
    return 0


def _network_list(args) -> int:
    for name in _target(args).list_networks():
        print(name)
    return 0
