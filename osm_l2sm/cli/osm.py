"""`osm-l2sm` sub-commands of the osm area: ns-create, ns-delete, k8scluster-add (osmclient's argument names)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import yaml

from osm_l2sm.errors import L2smError
from osm_l2sm.protocol import TOKEN_ENV

from .descriptors import parse_config, read_config

DEFAULT_WAIT = 600.0  # seconds --wait waits when no --timeout is given


def _osm_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("OSM NBI")
    group.add_argument("--osm-host", "--hostname", dest="osm_host", default=os.environ.get("OSM_HOSTNAME"),
                       help="OSM NBI host, host:port or URL (env OSM_HOSTNAME; default port 9999, path /osm)")
    group.add_argument("--user", default=os.environ.get("OSM_USER", "admin"), help="env OSM_USER")
    group.add_argument("--password", default=os.environ.get("OSM_PASSWORD", "admin"), help="env OSM_PASSWORD")
    group.add_argument("--project", default=os.environ.get("OSM_PROJECT", "admin"), help="env OSM_PROJECT")
    group.add_argument("--insecure", action="store_true", help="do not verify the NBI's TLS certificate")
    group.add_argument("--nbi-timeout", type=float, default=30.0, help="seconds per NBI request")
    return parent


def _target_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("network target (one of)")
    group.add_argument("--local", action="store_true", help="the local sandbox (OSM_L2SM_SANDBOX); without "
                       "--osm-host, ns-create also runs the KNFs there from their sandbox profiles")
    group.add_argument("--sandbox", default=None, help="sandbox name for --local")
    group.add_argument("--kubeconfig", action="append", metavar="[CLUSTER=]FILE",
                       help="a Kubernetes cluster: networks as L2Network resources; repeat as CLUSTER=FILE for an NS "
                       "over several clusters (links spanning clusters become ext-vnet networks in each)")
    group.add_argument("--k8s-cluster", dest="k8s_cluster",
                       help="an OSM-registered K8s cluster; its kubeconfig comes from OSM unless --kubeconfig")
    group.add_argument("--namespace", help="Kubernetes namespace for networks and KNFs (default: the config's "
                       "k8s-namespace, else default; with several clusters: each kubeconfig context's); with "
                       "--osm-host and a Kubernetes target it is sent as k8s-namespace, so OSM installs the KDUs "
                       "there too")
    group.add_argument("--k8s-mode", choices=("cr", "helm"), default="cr", help="L2Network CRs or Helm releases")
    group.add_argument("--cluster-map", metavar="VIM=CLUSTER,...",
                       help="the cluster of each VIM account the config places KNFs on (vnf[].vimAccountId); "
                       "default with several --kubeconfig: OSM's K8s clusters per VIM")
    group.add_argument("--provider", help="inter-domain provider named by spanning networks (default l2sm-provider)")
    group.add_argument("--provider-domain", help="the provider's DNS domain (default: its name)")
    group.add_argument("--controller", help="URL of an osm-l2sm controller REST API")
    group.add_argument("--controller-token", default=os.environ.get(TOKEN_ENV),
                       help=f"bearer token of the controller (env {TOKEN_ENV})")
    parent.add_argument("--package", nargs="+", action="extend", default=[], metavar="PKG",
                        help="local NSD/VNFD packages (folder, .tar.gz or YAML) instead of OSM's copies")
    return parent


def register(sub) -> None:
    """Add this area's sub-commands to the top-level parser."""
    osm_opts, target_opts = _osm_options(), _target_options()

    p = sub.add_parser("ns-create", parents=[osm_opts, target_opts],
                       help="create an NS's networks, then instantiate it (OSM NBI, Helm, or on the sandbox its "
                       "KNFs from their sandbox profiles)")
    p.add_argument("--ns_name", required=True, help="name of the NS instance")
    p.add_argument("--nsd_name", help="NSD name or id (default: the NSD of --package)")
    p.add_argument("--vim_account", help="VIM account of the NS (required with --osm-host)")
    cfg = p.add_mutually_exclusive_group()
    cfg.add_argument("--config", help="instantiation parameters as YAML")
    cfg.add_argument("--config_file", help="instantiation parameters from a YAML file")
    p.add_argument("--wait", action="store_true",
                   help="wait until OSM finishes the instantiation; if the wait times out, the NS and its networks "
                   "are kept (OSM may still finish) and the command exits 1")
    p.add_argument("--timeout", type=int, default=None,
                   help="deployment timeout in seconds, sent to OSM as timeout_ns_deploy (as osmclient does); "
                   f"also the limit of --wait (default {DEFAULT_WAIT:g})")
    p.set_defaults(func=run_ns_create)

    p = sub.add_parser("ns-delete", parents=[osm_opts, target_opts],
                       help="delete an NS (its KNFs), then the networks ns-create made for it")
    p.add_argument("name", nargs="?", metavar="NAME", help="name or id of the NS instance (as in osmclient)")
    p.add_argument("--ns_name", help="the same as NAME")
    p.add_argument("--nsd_name", help="NSD name or id (default: from OSM's NS record or --package)")
    p.add_argument("--force", action="store_true", help="forced deletion in OSM")
    p.add_argument("--wait", action="store_true", help="wait until OSM finishes the deletion")
    p.add_argument("--timeout", type=float, default=DEFAULT_WAIT, help="seconds to wait with --wait")
    p.set_defaults(func=run_ns_delete)

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
    p.add_argument("--dry-run", action="store_true",
                   help="print the request body instead of sending it (with --osm-host the VIM name is resolved "
                   "to the id that would be sent)")
    p.set_defaults(func=run_k8scluster_add)


# -- helpers ------------------------------------------------------------------------------------------------------
def _split_kubeconfigs(args) -> None:
    """One plain ``--kubeconfig FILE`` keeps the single-cluster target; several, or ``CLUSTER=FILE``, make
    ``args.clusters`` (the multi-cluster target, each cluster in its context's namespace unless --namespace)."""
    given = args.kubeconfig or []
    args.namespace_given = args.namespace
    args.cluster_namespace, args.clusters = args.namespace, None
    args.namespace = args.namespace or "default"
    if len(given) > 1 or any("=" in k for k in given):
        args.clusters, args.kubeconfig = given, None
    else:
        args.kubeconfig = given[0] if given else None


def _cluster_map(args, nbi) -> dict[str, str]:
    """VIM account -> cluster: ``--cluster-map``, else (several clusters and OSM) the K8s clusters OSM has per VIM."""
    from osm_l2sm.descriptors import parse_cluster_map

    if args.cluster_map or not args.clusters or nbi is None:
        return parse_cluster_map(args.cluster_map)
    return {c["vim_account"]: c["name"] for c in nbi.list_k8sclusters() if c.get("vim_account") and c.get("name")}


def _nbi(args):
    if not args.osm_host:
        return None
    from osm_l2sm.osm.nbi import connect_nbi

    return connect_nbi(args.osm_host, args.user, args.password, args.project, insecure=args.insecure,
                       timeout=args.nbi_timeout)


def _user_config(args) -> dict:
    if args.config_file:
        return read_config(args.config_file)
    return parse_config(args.config, "--config")


def _packages(args, nbi, nsd_name: str | None) -> list:
    from osm_l2sm.osm import lifecycle

    if args.package:
        return lifecycle.load_local_packages(args.package)
    if nbi is None:
        raise L2smError("no descriptors: pass --package PKG... or --osm-host to fetch them from OSM")
    if not nsd_name:
        raise L2smError("--nsd_name is required to fetch the descriptors from OSM")
    return lifecycle.fetch_packages(nbi, nsd_name)


def _kubeconfig_from_osm(args, nbi) -> None:
    """``--k8s-cluster NAME`` without ``--kubeconfig``: write the credentials OSM holds to a private temp file."""
    if not args.k8s_cluster or args.kubeconfig or args.clusters or args.local or args.controller:
        return
    if nbi is None:
        raise L2smError("--k8s-cluster needs --osm-host (or pass the cluster's --kubeconfig)")
    cluster = nbi.get_k8scluster(args.k8s_cluster)
    creds = cluster.get("credentials")
    if not isinstance(creds, dict):
        raise L2smError(f"OSM does not return the credentials of K8s cluster {args.k8s_cluster!r}; "
                        "pass --kubeconfig")
    fd, path = tempfile.mkstemp(prefix="osm-l2sm-kubeconfig-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(creds, f)
    args.kubeconfig = path


def _target(args, nbi):
    from .targets import target_from_args

    _kubeconfig_from_osm(args, nbi)
    return target_from_args(args)


def _print_plan(plan, created: list[str]) -> None:
    for net in plan.networks:
        state = "created" if net.name in created else "existing"
        where = f", inter-domain over {', '.join(net.clusters)}" if len(net.clusters) > 1 else ""
        print(f"network {net.name} ({net.cidr or 'L2 only'}, virtual link {net.vld}{where}): {state}")


# -- commands -----------------------------------------------------------------------------------------------------
def _align_namespace(args, config: dict, kind: str) -> dict:
    """KDUs and networks in one namespace (see :func:`osm_l2sm.osm.lifecycle.kdu_namespace`): the config sent to
    OSM gets ``k8s-namespace``, the Kubernetes target uses the same namespace."""
    from osm_l2sm.osm import lifecycle

    if kind == "kubeconfig":
        config, args.namespace = lifecycle.kdu_namespace(config, args.namespace_given)
    elif kind == "clusters" and (args.cluster_namespace or lifecycle.config_namespace(config)):
        # without either, each cluster keeps its kubeconfig context's namespace (set k8s-namespace to match)
        config, args.cluster_namespace = lifecycle.kdu_namespace(config, args.cluster_namespace)
    return config


def run_ns_create(args) -> int:
    from osm_l2sm.osm import lifecycle
    from osm_l2sm.osm.nbi import OperationTimeout
    from .targets import target_kind

    _split_kubeconfigs(args)
    nbi = _nbi(args)
    if nbi and not args.vim_account:
        raise L2smError("--vim_account is required to instantiate through OSM")
    config = _user_config(args)
    packages = _packages(args, nbi, args.nsd_name)
    plan = lifecycle.plan_for(packages, args.ns_name, config, args.vim_account, _cluster_map(args, nbi))
    _kubeconfig_from_osm(args, nbi)
    kind = target_kind(args)
    if nbi is not None:
        config = _align_namespace(args, config, kind)
    target = _target(args, nbi)
    outcome: list[str] = []
    late: list[str] = []

    def deploy():
        if nbi is not None:
            nsd_name = args.nsd_name or lifecycle.nsd_package(packages).id
            body = lifecycle.instantiation_config(plan, config)
            if args.timeout is not None:
                body["timeout_ns_deploy"] = args.timeout
            ns_id, op_id = nbi.ns_create(args.ns_name, nsd_name, args.vim_account, body)
            if args.wait and op_id:
                try:
                    nbi.wait_op(op_id, timeout=args.timeout or DEFAULT_WAIT)
                except OperationTimeout as err:
                    # The instantiation goes on in OSM: removing the networks now would start the KDUs unwired.
                    late.append(f"{err}; NS {args.ns_name} ({ns_id}) and its networks are kept (OSM may still "
                                "finish); `osm-l2sm ns-delete` removes both")
                    return
            outcome.append(f"NS {args.ns_name} ({ns_id}): " + ("instantiated" if args.wait else
                                                                 f"instantiating, operation {op_id}"))
        elif kind == "kubeconfig":
            from .targets import install_knfs

            install_knfs(plan, args.kubeconfig, args.namespace, args.k8s_mode)
            outcome.append(f"KNFs of {args.ns_name} installed with Helm in namespace {args.namespace}")
        elif kind == "local":
            pods = target.run_knfs(plan, packages)
            outcome.append(f"KNFs of {args.ns_name} running on sandbox {target.sandbox.name}: "
                           + ", ".join(f"{p['name']} on {p['node']}" for p in pods))
        else:
            outcome.append("networks ready; KNFs not installed: without --osm-host only --kubeconfig or --local "
                           "installs them")

    before = set(target.list_networks())
    lifecycle.deploy_with_networks(plan, target, deploy)
    _print_plan(plan, [n.name for n in plan.networks if n.name not in before])
    print(*outcome, sep="\n")
    if late:
        raise L2smError(late[0], status=504)
    return 0


def run_ns_delete(args) -> int:
    from osm_l2sm.osm import lifecycle

    if args.name and args.ns_name and args.name != args.ns_name:
        raise L2smError(f"NAME {args.name!r} and --ns_name {args.ns_name!r} differ: give one")
    args.ns_name = args.name or args.ns_name
    if not args.ns_name:
        raise L2smError("which NS? give its NAME (or --ns_name)")
    _split_kubeconfigs(args)
    nbi = _nbi(args)
    nsd_name, op_id = args.nsd_name, None
    if nbi is not None:
        ns = nbi.get_ns(args.ns_name)
        params = ns.get("instantiate_params") or {}
        if not args.package and not nsd_name:
            nsd_name = ns.get("nsd-id") or ns.get("nsdId") or params.get("nsdId") or ns.get("nsd-ref")
        # the networks are where ns-create put them: the namespace it sent to OSM
        ns_namespace = lifecycle.config_namespace(params)
        if ns_namespace and not args.namespace_given:
            args.namespace = ns_namespace
    packages = _packages(args, nbi, nsd_name)
    plan = lifecycle.plan_for(packages, args.ns_name)
    target = _target(args, nbi)
    if nbi is not None:
        op_id = nbi.ns_delete(args.ns_name, force=args.force)
        if args.wait and op_id:
            nbi.wait_op(op_id, timeout=args.timeout, gone_is_done=True)
        print(f"NS {args.ns_name}: " + ("deleted" if args.wait or not op_id else f"deleting, operation {op_id}"))
    elif args.kubeconfig:
        from .targets import uninstall_knfs

        uninstall_knfs(plan, args.kubeconfig, args.namespace, args.k8s_mode)
    elif args.local:
        removed = target.remove_knfs(plan)
        for kdu in plan.kdus:
            print(f"KNF {kdu.kdu}: {'removed' if kdu.kdu in removed else 'not running'}")
    for net in plan.networks:
        removed = target.delete_network(net.name)
        print(f"network {net.name}: {'removed' if removed else 'already gone'}")
    return 0


def _yaml_option(text: str, option: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise L2smError(f"{option}: not valid YAML: {str(err).splitlines()[0]}") from None


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
        given = _yaml_option(args.k8s_nets, "--k8s-nets")
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
    if args.description:  # NBI refuses "" ('^[^'\"]+$'); osmclient leaves the key out too
        body["description"] = args.description
    if args.cni:
        cni = _yaml_option(args.cni, "--cni")
        if not isinstance(cni, list) or not all(isinstance(c, str) for c in cni):
            raise L2smError(f"--cni: expected a list of CNI names such as [multus], got {args.cni!r}")
    if cni:
        body["cni"] = cni
    nbi = _nbi(args)
    if args.dry_run:
        if nbi is None:
            print("vim_account is sent as the VIM's id; pass --osm-host to resolve it", file=sys.stderr)
        print(json.dumps(nbi.k8scluster_body(body) if nbi else body, indent=2))
        return 0
    if nbi is None:
        raise L2smError("k8scluster-add needs --osm-host (or --dry-run to print the request)")
    print(f"K8s cluster {args.name}: {nbi.k8scluster_add(body)} (k8s-nets {json.dumps(body['nets'])})")
    return 0
