"""`osm-l2sm` sub-commands of the osm area: ns-create, ns-delete, k8scluster-add (osmclient's argument names)."""
from __future__ import annotations

import argparse
import os
import tempfile

import yaml

from osm_l2sm.errors import L2smError
from osm_l2sm.protocol import TOKEN_ENV

from osm_l2sm.osm import nsconfig

from . import osm_k8scluster
from .descriptors import parse_config, read_config
from .osm_common import DEFAULT_WAIT, add_global_options, nbi_from_args, osm_options, yaml_option

__all__ = ["register", "add_global_options"]  # add_global_options: osmclient's options before the command


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
    osm_opts, target_opts = osm_options(), _target_options()

    p = sub.add_parser("ns-create", parents=[osm_opts, target_opts],
                       help="create an NS's networks, then instantiate it (OSM NBI, Helm, or on the sandbox its "
                       "KNFs from their sandbox profiles)")
    p.add_argument("--ns_name", required=True, help="name of the NS instance")
    p.add_argument("--nsd_name", help="NSD name or id (default: the NSD of --package)")
    p.add_argument("--vim_account", help="VIM account of the NS (required with --osm-host)")
    p.add_argument("--admin_status", default="ENABLED",
                   help="accepted as osmclient accepts it; osmclient sends nothing for it, and neither does this")
    p.add_argument("--ssh_keys", metavar="FILE,...",
                   help="comma-separated public key files; their texts are sent as ssh_keys (as osmclient does)")
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
    p.add_argument("--config", metavar="YAML", help="termination parameters sent in the query string, as in "
                   "osmclient, e.g. '{autoremove: False, timeout_ns_terminate: 600, skip_terminate_primitives: True}'")
    p.add_argument("--wait", action="store_true", help="wait until OSM finishes the deletion")
    p.add_argument("--timeout", type=float, default=DEFAULT_WAIT, help="seconds to wait with --wait")
    p.set_defaults(func=run_ns_delete)

    osm_k8scluster.register(sub, osm_opts)


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


def _spans_domains(target, kind: str) -> bool:
    """Whether the target makes a network over several clusters an inter-domain one (else one ordinary network)."""
    if kind == "clusters":
        return True
    sandbox = getattr(target, "sandbox", None)
    return kind == "local" and sandbox is not None and bool(sandbox.cluster_names())


def _print_plan(plan, created: list[str], inter_domain: bool, named: dict[str, str]) -> None:
    for net in plan.networks:
        state = "created" if net.name in created else "existing"
        where = ""
        if len(net.clusters) > 1:
            where = (f", inter-domain over {', '.join(net.clusters)}" if inter_domain else
                     f", KNFs placed on {', '.join(net.clusters)}; this target is one domain: an ordinary network")
        if named.get(net.vld) == net.name:
            where += ", named by the config's vim-network-name"
        print(f"network {net.name} ({net.cidr or 'L2 only'}, virtual link {net.vld}{where}): {state}")


def _ssh_keys(option: str | None) -> list[str] | None:
    """osmclient's ``--ssh_keys a.pub,b.pub``: the files' texts."""
    if option is None:
        return None
    keys = []
    for path in option.split(","):
        try:
            with open(path, encoding="utf-8") as f:
                keys.append(f.read())
        except OSError as err:
            raise L2smError(f"--ssh_keys: cannot read {path}: {err.strerror or err}") from None
    return keys


def _refuse_taken_name(nbi, ns_name: str) -> None:
    """An NS name OSM already has is refused before anything is made: the networks are named after the NS name
    (they go into the instantiation request, before OSM gives the NS its id), so a second NS of that name would
    share the first one's networks and addresses."""
    taken = [ns.get("_id") for ns in nbi.list_ns() if ns.get("name") == ns_name]
    if taken:
        raise L2smError(f"NS name {ns_name!r} is already used in OSM (NS {', '.join(map(str, taken))}): osm-l2sm "
                        "names an NS's networks after its name, so choose another name (or ns-delete that NS)",
                        status=409)


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
    nbi = nbi_from_args(args)
    if nbi and not args.vim_account:
        raise L2smError("--vim_account is required to instantiate through OSM")
    config = nsconfig.osmclient_form(_user_config(args))
    ssh_keys = _ssh_keys(args.ssh_keys)
    if nbi is not None:
        _refuse_taken_name(nbi, args.ns_name)
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
            ns_id, op_id = nbi.ns_create(args.ns_name, nsd_name, args.vim_account, body, ssh_keys)
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
    _print_plan(plan, [n.name for n in plan.networks if n.name not in before], _spans_domains(target, kind),
                nsconfig.user_network_names(config))
    print(*outcome, sep="\n")
    if late:
        raise L2smError(late[0], status=504)
    return 0


def run_ns_delete(args) -> int:
    from osm_l2sm.osm import lifecycle, records

    if args.name and args.ns_name and args.name != args.ns_name:
        raise L2smError(f"NAME {args.name!r} and --ns_name {args.ns_name!r} differ: give one")
    args.ns_name = args.name or args.ns_name
    if not args.ns_name:
        raise L2smError("which NS? give its NAME (or --ns_name)")
    _split_kubeconfigs(args)
    nbi = nbi_from_args(args)
    delete_config = yaml_option(args.config, "--config") if args.config else None
    if delete_config is not None and not isinstance(delete_config, dict):
        raise L2smError("--config: expected a mapping of termination parameters, e.g. '{autoremove: False}'")
    name, config, op_id = args.ns_name, {}, None
    if nbi is not None:
        # by name or id: OSM's record gives the name the networks were made under and the config they were made with
        ns = nbi.get_ns(args.ns_name)
        name, params = ns.get("name") or args.ns_name, ns.get("instantiate_params") or {}
        config = {"vld": params["vld"]} if params.get("vld") else {}
        ns_namespace = lifecycle.config_namespace(params)
        if ns_namespace and not args.namespace_given:  # the networks are where ns-create put them
            args.namespace = ns_namespace
        if args.package or args.nsd_name or not isinstance(ns.get("nsd"), dict):
            nsd_name = (args.nsd_name or ns.get("nsd-id") or ns.get("nsdId") or params.get("nsdId")
                        or ns.get("nsd-ref"))
            packages = _packages(args, nbi, nsd_name)
        else:  # the NSD as the NS was made from it, even if its package changed or went since
            packages = records.ns_packages(nbi, ns)
    else:
        packages = _packages(args, nbi, args.nsd_name)
    plan = lifecycle.plan_for(packages, name, config)
    named = set(nsconfig.user_network_names(config).values())
    target = _target(args, nbi)
    if nbi is not None:
        op_id = nbi.ns_delete(ns["_id"], force=args.force, config=delete_config)
        if args.wait and op_id:
            nbi.wait_op(op_id, timeout=args.timeout, gone_is_done=True)
        print(f"NS {name} ({ns['_id']}): " + ("deleted" if args.wait or not op_id else f"deleting, operation {op_id}"))
    elif args.kubeconfig:
        from .targets import uninstall_knfs

        uninstall_knfs(plan, args.kubeconfig, args.namespace, args.k8s_mode)
    elif args.local:
        removed = target.remove_knfs(plan)
        for kdu in plan.kdus:
            print(f"KNF {kdu.kdu}: {'removed' if kdu.kdu in removed else 'not running'}")
    for net in plan.networks:
        if net.name in named:  # as OSM treats a vim-network-name: the user's network, it outlives the NS
            print(f"network {net.name}: kept (named by the NS's vim-network-name; remove it yourself when unused)")
            continue
        removed = target.delete_network(net.name)
        print(f"network {net.name}: {'removed' if removed else 'already gone'}")
    return 0
