"""`osm-l2sm k8scluster-add`: register a K8s cluster in OSM as osmclient does, --k8s-nets computed from the KNFs."""
from __future__ import annotations

import json
import sys

import yaml

from osm_l2sm.errors import L2smError

from .osm_common import DEFAULT_WAIT, nbi_from_args, yaml_option


def register(sub, osm_opts) -> None:
    p = sub.add_parser("k8scluster-add", parents=[osm_opts],
                       help="register a K8s cluster in OSM with --k8s-nets computed from the KNF descriptors")
    p.add_argument("name", help="name of the K8s cluster in OSM")
    p.add_argument("--creds", required=True, help="kubeconfig file of the cluster")
    p.add_argument("--version", required=True, help="Kubernetes version, e.g. 1.29")
    p.add_argument("--vim", required=True, help="VIM account the cluster belongs to")
    p.add_argument("--k8s-nets", dest="k8s_nets", metavar="YAML",
                   help="{k8s_net: vim_net|null, ...} as in osmclient; required unless --package computes it "
                   "(given nets override computed ones)")
    p.add_argument("--package", nargs="+", action="extend", default=[], metavar="PKG",
                   help="the NSD and VNFD packages whose KNFs will run on the cluster: --k8s-nets from their "
                   "k8s-cluster nets and virtual links")
    p.add_argument("--ns-name", help="map each K8s net to the network planned for this NS instance")
    p.add_argument("--namespace", default="kube-system", help="namespace OSM uses on the cluster")
    p.add_argument("--cni", metavar="YAML", help="CNI list as YAML or JSON, e.g. '[multus]' (default with --package: "
                   "the KNFs' k8s-cluster cni, which NBI matches when it places them)")
    p.add_argument("--description", help="free text (left out of the request when not given)")
    for what, key in (("helm2", "Helm v2"), ("helm3", "Helm v3"), ("jujubundle", "juju bundles")):
        p.add_argument(f"--init-{what}", dest=f"init_{what}", action="store_true", default=True,
                       help=f"let OSM initialise {key} on the cluster (the default)")
        p.add_argument(f"--skip-{what}", dest=f"init_{what}", action="store_false",
                       help="do not: sent as deployment_methods, as osmclient does" if what != "helm2" else
                       "accepted as in osmclient; OSM 19 has no Helm v2, so nothing is sent")
    p.add_argument("--wait", action="store_true", help="wait until OSM has set the cluster up (ENABLED)")
    p.add_argument("--timeout", type=float, default=DEFAULT_WAIT, help="seconds to wait with --wait")
    p.add_argument("--dry-run", action="store_true",
                   help="print the request body instead of sending it (with --osm-host the VIM name is resolved "
                   "to the id that would be sent)")
    p.set_defaults(func=run_k8scluster_add)


def _k8s_nets(args) -> tuple[dict, list[str]]:
    """``nets`` and the KNFs' ``cni`` (computed from --package, empty without)."""
    from osm_l2sm.osm import lifecycle

    if not args.k8s_nets and not args.package:
        raise L2smError("--k8s-nets is required (or --package to compute it from the KNF descriptors)")
    nets, cni = {}, []
    if args.package:
        from osm_l2sm.descriptors import resolve

        packages = lifecycle.load_local_packages(args.package)
        topology = resolve(packages)
        plan = lifecycle.plan_for(topology, args.ns_name) if args.ns_name else None
        nets, cni = lifecycle.k8s_nets(topology, plan), lifecycle.k8s_cni(packages)
    if args.k8s_nets:
        given = yaml_option(args.k8s_nets, "--k8s-nets")
        if not isinstance(given, dict) or not given:
            raise L2smError("--k8s-nets: expected a mapping {k8s_net: vim_net or null, ...}")
        nets.update(given)
    return nets, cni


def run_k8scluster_add(args) -> int:
    nets, cni = _k8s_nets(args)
    try:
        with open(args.creds, encoding="utf-8") as f:
            credentials = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as err:
        raise L2smError(f"cannot read kubeconfig {args.creds}: {err}") from err
    if not isinstance(credentials, dict):
        raise L2smError(f"kubeconfig {args.creds} is not a kubeconfig: expected a YAML mapping")
    body = {"name": args.name, "credentials": credentials, "k8s_version": args.version,
            "vim_account": args.vim, "nets": nets, "namespace": args.namespace}
    # osmclient's --skip-* as deployment_methods; NBI v19 knows no Helm v2 (its schema refuses "helm-chart"),
    # so --skip-helm2 changes nothing there
    if not (args.init_helm3 and args.init_jujubundle):
        body["deployment_methods"] = {"juju-bundle": args.init_jujubundle, "helm-chart-v3": args.init_helm3}
    if args.description:  # NBI refuses "" ('^[^'\"]+$'); osmclient leaves the key out too
        body["description"] = args.description
    if args.cni:
        cni = yaml_option(args.cni, "--cni")
        if not isinstance(cni, list) or not all(isinstance(c, str) for c in cni):
            raise L2smError(f"--cni: expected a list of CNI names such as [multus], got {args.cni!r}")
    if cni:
        body["cni"] = cni
    nbi = nbi_from_args(args)
    if args.dry_run:
        if nbi is None:
            print("vim_account is sent as the VIM's id; pass --osm-host to resolve it", file=sys.stderr)
        print(json.dumps(nbi.k8scluster_body(body) if nbi else body, indent=2))
        return 0
    if nbi is None:
        raise L2smError("k8scluster-add needs --osm-host (or --dry-run to print the request)")
    cluster_id = nbi.k8scluster_add(body)
    print(f"K8s cluster {args.name}: {cluster_id} (k8s-nets {json.dumps(body['nets'])})")
    if args.wait:
        nbi.wait_k8scluster(cluster_id, timeout=args.timeout)
        print(f"K8s cluster {args.name}: ENABLED")
    return 0
