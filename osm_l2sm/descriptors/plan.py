"""Turn validated packages plus the ns-create config into a :class:`~osm_l2sm.model.Plan`.

Networks: one per virtual link of the NSD's first deployment flavour that osm-l2sm wires; the others (the management
network, links of VM members) are listed in ``not_wired`` with why. Attachments: one per (member-vnf-index, KDU,
ext-cpd on a wired link), interfaces ``net1``.. in the VNFD's ext-cpd order. KDUs: their interfaces, their routes
to the NS's other subnets, and the user's ``additionalParams``, from which the model renders their Helm values
(:mod:`osm_l2sm.model.helm`).
"""
from __future__ import annotations

import dataclasses
import ipaddress
from typing import Iterable

from osm_l2sm.model import Attachment, KduDeployment, Network, Plan, Route, UnwiredLink

from .errors import DescriptorError
from .names import network_name
from .package import Package
from .placement import member_clusters, spanned_clusters
from .params import decode_params
from .topology import Topology, as_list, check_host, parse_ip, parse_subnet
from .validate import is_knf, resolve

CONFIG = "--config"  # the source named in messages about the instantiation config
# ns-create config key (under additionalParamsForNs, which OSM keeps and ignores) that wires management VLs too
WIRE_MGMT_KEY = "l2sm_wire_mgmt"
MGMT = f"management network: KDUs reach it on the cluster's pod network (--wire-mgmt or {WIRE_MGMT_KEY} wires it)"
MIXED = "not wired by osm-l2sm (the VM side is RO's)"
VM_ONLY = "joins VM members only (RO's)"


def _config_list(config: dict, key: str, path: list) -> list:
    value = config.get(key, [])
    if not isinstance(value, list):
        raise DescriptorError(CONFIG, path + [key], "expected a list")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise DescriptorError(CONFIG, path + [key, i], "expected a mapping")
    return value


def _vl_settings(topo: Topology, config: dict) -> tuple[dict, dict]:
    """Per VL: [subnet, gateway, gateway address, where the gateway comes from] with the config's ip-profile merged
    in; config addresses per (vl, member, cpd). Only what the config overrides is parsed here."""
    src = topo.nsd.source
    settings = {vl: [link.subnet, link.gateway, link.gateway_ip, (src, link.gateway_path)]
                for vl, link in topo.links.items()}
    changed, addresses = set(), {}
    for i, vld in enumerate(_config_list(config, "vld", [])):
        name = vld.get("name")
        if name not in topo.links:
            raise DescriptorError(CONFIG, ["vld", i, "name"], f"unknown virtual link {name!r}")
        profile = vld.get("ip-profile") or {}
        if not isinstance(profile, dict):
            raise DescriptorError(CONFIG, ["vld", i, "ip-profile"], "expected a mapping")
        path = ["vld", i, "ip-profile"]
        if "subnet-address" in profile:
            settings[name][0] = parse_subnet(profile["subnet-address"], CONFIG, path + ["subnet-address"])
            changed.add(name)
        if "gateway-address" in profile:
            gateway = profile["gateway-address"]
            settings[name][1:] = [gateway, parse_ip(gateway, CONFIG, path + ["gateway-address"], "gateway"),
                                  (CONFIG, path + ["gateway-address"])]
            changed.add(name)
        for j, ref in enumerate(_config_list(vld, "vnfd-connection-point-ref", ["vld", i])):
            if "ip-address" in ref:
                key = (name, str(ref.get("member-vnf-index-ref")), ref.get("vnfd-connection-point-ref"))
                addresses[key] = (ref["ip-address"], ["vld", i, "vnfd-connection-point-ref", j, "ip-address"])
    for name in changed:  # the descriptor's gateway in the config's subnet, or the config's in the descriptor's
        subnet, gateway, gateway_ip, (source, path) = settings[name]
        if gateway is not None:
            check_host(gateway_ip, subnet, source, path, "gateway")
    return settings, addresses


def _kdu_params(config: dict, members: dict[str, Package]) -> dict[tuple[str, str], dict]:
    """The user's additionalParamsForKdu entries by (member-vnf-index, kdu_name)."""
    out = {}
    for i, vnf in enumerate(_config_list(config, "additionalParamsForVnf", [])):
        member = str(vnf.get("member-vnf-index"))
        if member not in members:
            raise DescriptorError(CONFIG, ["additionalParamsForVnf", i, "member-vnf-index"],
                                  f"unknown member-vnf-index {member!r}")
        kdus = {k["name"] for k in as_list(members[member].body.get("kdu"))}
        for j, kdu in enumerate(_config_list(vnf, "additionalParamsForKdu", ["additionalParamsForVnf", i])):
            if kdu.get("kdu_name") not in kdus:
                raise DescriptorError(CONFIG, ["additionalParamsForVnf", i, "additionalParamsForKdu", j, "kdu_name"],
                                      f"unknown KDU {kdu.get('kdu_name')!r} of member {member!r}")
            out[(member, kdu["kdu_name"])] = kdu
    return out


def wires_mgmt(config: dict, wire_mgmt: bool | None = None) -> bool:
    """Whether management VLs get a network: ``wire_mgmt`` when given, else the config's
    ``additionalParamsForNs.l2sm_wire_mgmt``, else no (the cluster's pod network serves them)."""
    if wire_mgmt is not None:
        return bool(wire_mgmt)
    ns_params = config.get("additionalParamsForNs") or {}
    value = ns_params.get(WIRE_MGMT_KEY, False) if isinstance(ns_params, dict) else False
    if not isinstance(value, bool):
        raise DescriptorError(CONFIG, ["additionalParamsForNs", WIRE_MGMT_KEY],
                              f"expected true or false, got {value!r}")
    return value


def unwired_links(topo: Topology, wire_mgmt: bool) -> list[UnwiredLink]:
    """The virtual links osm-l2sm leaves alone, and why: the management network (unless asked to wire it), links
    that join VM members (whose side OSM's RO deploys on the VIM)."""
    kinds: dict[str, set[bool]] = {vl: set() for vl in topo.links}
    for conn in topo.connections:
        if conn.vl in kinds:
            kinds[conn.vl].add(is_knf(topo.vnfds[conn.vnfd_id]))
    out = []
    for vl, link in topo.links.items():
        if kinds[vl] == {False}:
            out.append(UnwiredLink(vl, VM_ONLY))
        elif link.mgmt and not wire_mgmt:
            out.append(UnwiredLink(vl, MGMT))
        elif kinds[vl] == {True, False}:
            out.append(UnwiredLink(vl, MIXED))
    return out


def _networks(ns_name: str, settings: dict, wired: set[str]) -> list[Network]:
    return [Network(name=network_name(ns_name, vl), cidr=str(subnet) if subnet else None, gateway=gateway, vld=vl)
            for vl, (subnet, gateway, _, _) in settings.items() if vl in wired]


def _addresses(topo: Topology, settings: dict, config_addresses: dict, wired: set[str]) -> dict[tuple[str, str], tuple]:
    """(vl, "IP/PREFIX" or None) per (member, cpd) on a wired link: the config's address first, then the
    descriptor's."""
    links: dict[tuple[str, str], tuple[str, str | None]] = {}
    taken: dict[tuple, tuple] = {}
    for conn in topo.connections:
        given = config_addresses.pop((conn.vl, conn.member_vnf_index, conn.cpd), None)
        if conn.vl not in wired:  # left to the cluster or to RO, addresses included
            continue
        subnet = settings[conn.vl][0]
        ip, source, path = conn.ip, topo.nsd.source, conn.path + ["ip-address"]
        if given is not None:
            source, path = CONFIG, given[1]
            ip = parse_ip(given[0], source, path)
        if ip is not None:
            check_host(ip, subnet, source, path)  # again for the descriptor's: the config may change the subnet
            me = f"{conn.member_vnf_index}/{conn.cpd}"
            if (conn.vl, ip) in taken:
                other, other_source, other_path = taken[(conn.vl, ip)]
                if other_source == CONFIG and source != CONFIG:  # blame the override, not the descriptor
                    raise DescriptorError(other_source, other_path,
                                          f"address {ip} is already used by {me} on {conn.vl!r}")
                raise DescriptorError(source, path, f"address {ip} is already used by {other} on {conn.vl!r}")
            taken[(conn.vl, ip)] = (me, source, path)
        links[(conn.member_vnf_index, conn.cpd)] = (conn.vl, f"{ip}/{subnet.prefixlen}" if ip else None)
    if config_addresses:  # left over: the config names a cpd that is not on that link
        (vl, member, cpd), (_, path) = next(iter(config_addresses.items()))
        raise DescriptorError(CONFIG, path[:-1] + ["vnfd-connection-point-ref"],
                              f"member {member!r} has no cpd {cpd!r} on virtual link {vl!r}")
    return links


def plan_ns(packages: Iterable[Package] | Topology, ns_name: str, config: dict | None = None, vim_account: str | None = None,
            cluster_of_vim: dict[str, str] | None = None, wire_mgmt: bool | None = None) -> Plan:
    """Plan one NS instance named ``ns_name`` from its NSD and VNFD packages (or the topology :func:`resolve` gives)
    and the ns-create config. Management VLs are left to the cluster's pod network unless ``wire_mgmt`` (or the
    config's ``additionalParamsForNs.l2sm_wire_mgmt``) says to wire them; VM members are left to OSM's RO.

    With KNFs placed on several VIM accounts (config ``vnf[].vimAccountId``; ``vim_account`` is the NS's own) and
    ``cluster_of_vim``, attachments and KDUs get their cluster and each network the clusters it spans: a network
    spanning more than one is inter-domain (see placement.py).
    """
    topo = resolve(packages)
    if not isinstance(ns_name, str) or not ns_name.strip():
        raise DescriptorError(CONFIG, "ns_name", "the NS instance name must not be empty")
    config = decode_params(config or {})
    if not isinstance(config, dict):
        raise DescriptorError(CONFIG, "(top)", "expected a mapping")
    nsd_pkg, members = topo.nsd, topo.members
    profiles = as_list(nsd_pkg.body["df"][0]["vnf-profile"])

    not_wired = unwired_links(topo, wires_mgmt(config, wire_mgmt))
    wired = set(topo.links) - {u.vld for u in not_wired}
    settings, config_addresses = _vl_settings(topo, config)
    networks = _networks(ns_name, settings, wired)
    net_of = {n.vld: n for n in networks}

    links = _addresses(topo, settings, config_addresses, wired)

    user_params = _kdu_params(config, members)
    cluster_of = member_clusters(config, members, vim_account, cluster_of_vim)
    plan = Plan(ns_name=ns_name, nsd_id=nsd_pkg.id, networks=networks, not_wired=not_wired)
    for profile in profiles:
        member = str(profile["id"])
        vnfd = members[member]
        if not is_knf(vnfd):
            continue
        cluster = cluster_of[member]
        connected = [(cpd["id"], *links[(member, cpd["id"])]) for cpd in as_list(vnfd.body.get("ext-cpd"))
                     if (member, cpd["id"]) in links]
        for kdu in vnfd.body["kdu"]:
            attachments = [Attachment(member_vnf_index=member, vnfd_id=vnfd.id, kdu=kdu["name"], cpd=cpd,
                                      network=net_of[vl].name, interface=f"net{i}", address=address,
                                      cluster=cluster, vld=vl)
                           for i, (cpd, vl, address) in enumerate(connected, start=1)]
            user = user_params.get((member, kdu["name"]), {})
            chart = user.get("kdu_model") or _chart(vnfd, kdu)
            plan.kdus.append(KduDeployment(member_vnf_index=member, vnfd_id=vnfd.id, kdu=kdu["name"], chart=chart,
                                           params=user.get("additionalParams") or {}, cluster=cluster,
                                           interfaces=attachments, routes=_routes(attachments, networks)))
    plan.networks = [dataclasses.replace(n, clusters=spanned_clusters(plan.attachments, n.name))
                     for n in plan.networks]
    return plan


def _chart(vnfd: Package, kdu: dict) -> str:
    path = vnfd.chart_path(kdu["name"])
    return str(path) if path is not None else kdu["helm-chart"]


def _routes(attachments: list[Attachment], networks: list[Network]) -> list[Route]:
    """Routes to the NS's other subnets through the gateway of the first attached link that has one.

    A KDU holding a link's gateway address is the router of that link and gets no route through it.
    """
    own = {a.network for a in attachments}
    by_name = {n.name: n for n in networks}
    routes, done = [], set()
    for att in attachments:
        net = by_name[att.network]
        if not net.gateway or not att.address or att.ip == net.gateway:
            continue
        for other in networks:
            if other.name in own or not other.cidr or other.cidr in done:
                continue
            if ipaddress.ip_network(other.cidr).overlaps(ipaddress.ip_network(net.cidr)):
                continue
            routes.append(Route(to=other.cidr, via=net.gateway, interface=att.interface))
            done.add(other.cidr)
    return routes

