"""NS lifecycle with networks: plan from descriptors, make the networks, instantiate, roll back on failure.

The KDUs learn their networks through ``additionalParamsForVnf[].additionalParamsForKdu[].additionalParams``, the
only instantiation data OSM hands to a KDU's Helm values; nested values travel as ``"!!yaml "`` strings, which OSM's
LCM parses back before Helm sees them.
"""
from __future__ import annotations

import copy
import logging
from typing import Callable

from osm_l2sm import descriptors
from osm_l2sm.descriptors import decode_params, encode_params
from osm_l2sm.errors import L2smError
from osm_l2sm.model import Network, NetworkTarget, Plan
from osm_l2sm.model.helm import deep_merge

from . import nsconfig

log = logging.getLogger(__name__)

def _entry(items: list, key: str, value: str) -> dict:
    for item in items:
        if str(item.get(key)) == str(value):
            return item
    item = {key: value}
    items.append(item)
    return item


def normalised_config(config: dict | None) -> dict:
    """The user's ns-create config with ``"!!yaml "`` KDU params parsed, so the plan's values merge with real
    values (the rest of the config goes to OSM as the user wrote it)."""
    config = copy.deepcopy(config or {})
    for vnf in config.get("additionalParamsForVnf") or []:
        for kdu in vnf.get("additionalParamsForKdu") or []:
            if isinstance(kdu.get("additionalParams"), dict):
                kdu["additionalParams"] = decode_params(kdu["additionalParams"])
    return config


def instantiation_config(plan: Plan, user_config: dict | None) -> dict:
    """The user's config with every KDU's planned Helm values merged in (the user's keys win and are kept)."""
    config = normalised_config(user_config)
    vnfs = config.setdefault("additionalParamsForVnf", [])
    for kdu in plan.kdus:
        vnf = _entry(vnfs, "member-vnf-index", kdu.member_vnf_index)
        entry = _entry(vnf.setdefault("additionalParamsForKdu", []), "kdu_name", kdu.kdu)
        entry["additionalParams"] = encode_params(deep_merge(kdu.values, entry.get("additionalParams") or {}))
    return config


# -- namespace ----------------------------------------------------------------------------------------------------
def config_namespace(config: dict | None) -> str | None:
    """The namespace an ns-create config (or NBI's stored ``instantiate_params``) names for the whole NS."""
    config = config or {}
    return (config.get("additionalParamsForNs") or {}).get("k8s-namespace") or config.get("k8s-namespace")


def kdu_namespace(config: dict | None, namespace: str | None) -> tuple[dict, str]:
    """Put the NS's KDUs and its networks in one namespace: ``(config to send, that namespace)``.

    NBI gives each KDU ``k8s-namespace`` from (first found) its ``additionalParamsForKdu`` entry, its
    ``additionalParamsForVnf`` entry, ``additionalParamsForNs``, the request, else the project id; the operator looks
    a pod's networks up in the pod's namespace. So the namespace is the one the config names for the whole NS, else
    ``namespace`` (``--namespace``, default ``default``), which is then sent as the request's ``k8s-namespace``.
    A config naming different namespaces for some VNFs or KDUs, or one different from ``namespace``, is refused.
    """
    config = copy.deepcopy(config or {})
    ns_level = config_namespace(config)
    chosen = ns_level or namespace or "default"
    if ns_level and namespace and ns_level != namespace:
        raise L2smError(f"the config puts the NS's KDUs in namespace {ns_level!r} but --namespace is {namespace!r}: "
                        "the networks must be where the KDUs are; drop one of them")
    for vnf in config.get("additionalParamsForVnf") or []:
        places = [(f"member-vnf-index {vnf.get('member-vnf-index')}", vnf.get("k8s-namespace"))]
        places += [(f"KDU {kdu.get('kdu_name')} of member-vnf-index {vnf.get('member-vnf-index')}",
                    kdu.get("k8s-namespace")) for kdu in vnf.get("additionalParamsForKdu") or []]
        for where, value in places:
            if value and value != chosen:
                raise L2smError(f"the config puts {where} in namespace {value!r}, the NS's networks are in "
                                f"{chosen!r}: the KDUs of an NS must share one namespace (set k8s-namespace for "
                                "the whole NS)")
    if not ns_level:
        config["k8s-namespace"] = chosen
    return config, chosen


# -- packages -----------------------------------------------------------------------------------------------------
def _nsds(package) -> list[dict]:
    nsd = package.descriptor.get("nsd", {})
    return nsd.get("nsd", [nsd]) if isinstance(nsd, dict) else list(nsd)


def vnfd_ids(nsd_package) -> list[str]:
    """The VNFD ids an NSD package refers to, in order, without repeats."""
    ids: list[str] = []
    for nsd in _nsds(nsd_package):
        for vnfd_id in nsd.get("vnfd-id", []):
            if vnfd_id not in ids:
                ids.append(vnfd_id)
    return ids


def load_local_packages(paths: list[str]) -> list:
    return [descriptors.load_package(p) for p in paths]


def fetch_packages(nbi, nsd_name: str) -> list:
    """The NSD and every VNFD it uses, as descriptor texts from OSM's NBI."""
    nsd = descriptors.load_descriptor_text(nbi.nsd_text(nsd_name), f"osm:nsd/{nsd_name}")
    packages = [nsd]
    for vnfd_id in vnfd_ids(nsd):
        packages.append(descriptors.load_descriptor_text(nbi.vnfd_text(vnfd_id), f"osm:vnfd/{vnfd_id}"))
    return packages


def nsd_package(packages: list):
    found = [p for p in packages if p.kind == "nsd"]
    if len(found) != 1:
        raise L2smError(f"expected exactly one NSD among the packages, found {len(found)}")
    return found[0]


def plan_for(packages, ns_name: str, config: dict | None = None, vim_account: str | None = None,
             cluster_of_vim: dict[str, str] | None = None) -> Plan:
    """The plan of the packages (or their resolved topology); KNFs placed on several VIM accounts (clusters per
    ``cluster_of_vim``) give networks clusters. The config is read as osmclient reads it (an old top-level
    ``vim-network-name`` list is ``vld``), and a virtual link with a ``vim-network-name`` is on that network."""
    config = nsconfig.osmclient_form(config)
    plan = descriptors.plan_ns(packages, ns_name, config, vim_account, cluster_of_vim)
    return nsconfig.with_user_networks(plan, nsconfig.user_network_names(config))


# -- networks with rollback ---------------------------------------------------------------------------------------
def ensure_networks(target: NetworkTarget, networks: list[Network]) -> list[str]:
    """Make every network; return the names this call created. On failure, remove those and re-raise."""
    created: list[str] = []
    try:
        for network in networks:
            if target.ensure_network(network):
                created.append(network.name)
    except BaseException:
        remove_networks(target, created)
        raise
    return created


def remove_networks(target: NetworkTarget, names: list[str]) -> list[str]:
    """Delete ``names`` (best effort, newest first); return the ones that could not be removed."""
    left = []
    for name in reversed(names):
        try:
            target.delete_network(name)
        except Exception as err:  # keep going: the caller reports the original failure
            log.warning("could not remove network %s: %s", name, err)
            left.append(name)
    return left


def deploy_with_networks(plan: Plan, target: NetworkTarget, deploy: Callable[[], object]):
    """Ensure the plan's networks, then ``deploy()``; if it fails, remove exactly the networks made here."""
    created = ensure_networks(target, plan.networks)
    try:
        return deploy()
    except BaseException as err:
        left = remove_networks(target, created)
        if left and isinstance(err, L2smError):
            raise L2smError(f"{err} (and networks {', '.join(left)} could not be removed)", err.status) from err
        raise


# -- K8s cluster registration -------------------------------------------------------------------------------------
def k8s_cni(packages: list) -> list[str]:
    """The CNIs the KNFs ask of their cluster (``k8s-cluster.cni``): NBI places a KNF only on a K8s cluster
    registered with them."""
    cni: list[str] = []
    for pkg in packages:
        if pkg.kind == "vnfd":
            cni += [c for c in (pkg.body.get("k8s-cluster") or {}).get("cni") or [] if c not in cni]
    return cni


def k8s_nets(topology: descriptors.Topology, plan: Plan | None = None) -> dict:
    """``{k8s-cluster net: network or None}`` for ``k8scluster-add --k8s-nets``, from the packages' resolved
    topology (:func:`osm_l2sm.descriptors.resolve`).

    A KNF's ``k8s-cluster.nets`` entry maps to the network of the virtual link its ext-cpds connect to: the
    planned network name when a plan is given, else the VL's ``vim-network-name``, else None (any network).
    """
    by_vld = {n.vld: n.name for n in plan.networks} if plan else {}
    nets: dict[str, str | None] = {}
    for vnfd in topology.vnfds.values():
        for net in vnfd.body.get("k8s-cluster", {}).get("nets", []):
            nets.setdefault(net["id"], None)
    for conn in topology.connections:
        cpd_nets = {c["id"]: c.get("k8s-cluster-net") for c in topology.vnfds[conn.vnfd_id].body["ext-cpd"]}
        net = cpd_nets.get(conn.cpd)
        if net and nets.get(net) is None:
            nets[net] = by_vld.get(conn.vl) or topology.links[conn.vl].vim_network_name
    return nets
