"""Turn validated packages plus the ns-create config into a :class:`~osm_l2sm.model.Plan`.

Networks: one per virtual link of the NSD's first deployment flavour. Attachments: one per (member-vnf-index, KDU,
connected ext-cpd), interfaces ``net1``.. in the VNFD's ext-cpd order. KDU values: the label and annotation L2S-M
reads, our ``l2sm`` block the CDN charts read, deep-merged with the user's ``additionalParams`` (user wins).
"""
from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json

import yaml

from osm_l2sm.model import Attachment, KduDeployment, Network, Plan

from .errors import DescriptorError
from .names import network_name
from .package import Package
from .placement import member_clusters, spanned_clusters
from .topology import as_list, connections, parse_host, parse_subnet, subnets
from .validate import validate

CONFIG = "--config"  # the source named in messages about the instantiation config


def deep_merge(base: dict, override: dict) -> dict:
    """A new dict: ``override`` wins, mappings are merged key by key, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _unyaml(value):
    """OSM carries nested instantiation params as strings prefixed ``!!yaml ``; read them back."""
    if isinstance(value, str) and value.startswith("!!yaml "):
        return yaml.safe_load(value[len("!!yaml "):])
    if isinstance(value, dict):
        return {k: _unyaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unyaml(v) for v in value]
    return value


def _config_list(config: dict, key: str, path: list) -> list:
    value = config.get(key, [])
    if not isinstance(value, list):
        raise DescriptorError(CONFIG, path + [key], "expected a list")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise DescriptorError(CONFIG, path + [key, i], "expected a mapping")
    return value


def _vl_settings(nsd: dict, config: dict) -> tuple[dict, dict]:
    """Per VL: (cidr, gateway) with the config's ip-profile merged in; config addresses per (vl, member, cpd)."""
    vl_ids = [vl["id"] for vl in nsd["virtual-link-desc"]]
    found = subnets(nsd)
    settings = {vl: {"cidr": s.cidr, "gateway": s.gateway, "cidr_src": (None, s.cidr_path),
                     "gateway_src": (None, s.gateway_path)} for vl, s in found.items()}
    addresses = {}
    for i, vld in enumerate(_config_list(config, "vld", [])):
        name = vld.get("name")
        if name not in vl_ids:
            raise DescriptorError(CONFIG, ["vld", i, "name"], f"unknown virtual link {name!r}")
        profile = vld.get("ip-profile") or {}
        if not isinstance(profile, dict):
            raise DescriptorError(CONFIG, ["vld", i, "ip-profile"], "expected a mapping")
        for key, field in (("subnet-address", "cidr"), ("gateway-address", "gateway")):
            if key in profile:
                settings[name][field] = profile[key]
                settings[name][f"{field}_src"] = (CONFIG, ["vld", i, "ip-profile", key])
        for j, ref in enumerate(_config_list(vld, "vnfd-connection-point-ref", ["vld", i])):
            if "ip-address" in ref:
                key = (name, str(ref.get("member-vnf-index-ref")), ref.get("vnfd-connection-point-ref"))
                addresses[key] = (ref["ip-address"], ["vld", i, "vnfd-connection-point-ref", j, "ip-address"])
    return settings, addresses


def _kdu_params(config: dict, members: dict[str, Package]) -> dict[tuple[str, str], dict]:
    """The user's additionalParamsForKdu entries by (member-vnf-index, kdu_name)."""
    out = {}
    for i, vnf in enumerate(_config_list(config, "additionalParamsForVnf", [])):
        member = str(vnf.get("member-vnf-index"))
        if member not in members:
            raise DescriptorError(CONFIG, ["additionalParamsForVnf", i, "member-vnf-index"],
                                  f"unknown member-vnf-index {member!r}")
        kdus = {k["name"] for k in members[member].body["kdu"]}
        for j, kdu in enumerate(_config_list(vnf, "additionalParamsForKdu", ["additionalParamsForVnf", i])):
            if kdu.get("kdu_name") not in kdus:
                raise DescriptorError(CONFIG, ["additionalParamsForVnf", i, "additionalParamsForKdu", j, "kdu_name"],
                                      f"unknown KDU {kdu.get('kdu_name')!r} of member {member!r}")
            out[(member, kdu["kdu_name"])] = kdu
    return out


def _where(src: tuple, nsd_pkg: Package) -> str:
    return src[0] or nsd_pkg.source


def _networks(ns_name: str, nsd_pkg: Package, settings: dict) -> tuple[list[Network], dict]:
    networks, parsed = [], {}
    for vl in nsd_pkg.body["virtual-link-desc"]:
        s = settings[vl["id"]]
        subnet = None
        if s["cidr"] is not None:
            subnet = parse_subnet(s["cidr"], _where(s["cidr_src"], nsd_pkg), s["cidr_src"][1])
        if s["gateway"] is not None:
            parse_host(s["gateway"], subnet, _where(s["gateway_src"], nsd_pkg), s["gateway_src"][1], "gateway")
        parsed[vl["id"]] = subnet
        networks.append(Network(name=network_name(ns_name, vl["id"]), cidr=str(subnet) if subnet else None,
                                gateway=s["gateway"], vld=vl["id"]))
    return networks, parsed


def _addresses(nsd_pkg: Package, parsed: dict, config_addresses: dict) -> dict[tuple[str, str], tuple]:
    """(vl, "IP/PREFIX" or None) per (member, cpd): the config's address first, then the descriptor's."""
    links: dict[tuple[str, str], tuple[str, str | None]] = {}
    taken: dict[tuple, tuple] = {}
    for conn in connections(nsd_pkg.body):
        given = config_addresses.pop((conn.vl, conn.member_vnf_index, conn.cpd), None)
        address, source, path = conn.ip_address, nsd_pkg.source, conn.path + ["ip-address"]
        if given is not None:
            address, source, path = given[0], CONFIG, given[1]
        ip = None
        if address is not None:
            ip = parse_host(address, parsed[conn.vl], source, path)
            me = f"{conn.member_vnf_index}/{conn.cpd}"
            if (conn.vl, ip) in taken:
                other, other_source, other_path = taken[(conn.vl, ip)]
                if other_source == CONFIG and source != CONFIG:  # blame the override, not the descriptor
                    raise DescriptorError(other_source, other_path,
                                          f"address {ip} is already used by {me} on {conn.vl!r}")
                raise DescriptorError(source, path, f"address {ip} is already used by {other} on {conn.vl!r}")
            taken[(conn.vl, ip)] = (me, source, path)
        links[(conn.member_vnf_index, conn.cpd)] = (conn.vl, f"{ip}/{parsed[conn.vl].prefixlen}" if ip else None)
    if config_addresses:  # left over: the config names a cpd that is not on that link
        (vl, member, cpd), (_, path) = next(iter(config_addresses.items()))
        raise DescriptorError(CONFIG, path[:-1] + ["vnfd-connection-point-ref"],
                              f"member {member!r} has no cpd {cpd!r} on virtual link {vl!r}")
    return links


def plan_ns(packages, ns_name: str, config: dict | None = None, vim_account: str | None = None,
            cluster_of_vim: dict[str, str] | None = None) -> Plan:
    """Plan one NS instance named ``ns_name`` from its NSD and VNFD packages and the ns-create config.

    With KNFs placed on several VIM accounts (config ``vnf[].vimAccountId``; ``vim_account`` is the NS's own) and
    ``cluster_of_vim``, attachments and KDUs get their cluster and each network the clusters it spans: a network
    spanning more than one is inter-domain (see placement.py).
    """
    packages = list(packages)
    validate(packages)
    nsds = [p for p in packages if p.kind == "nsd"]
    if len(nsds) != 1:
        raise DescriptorError("(packages)", "(top)", f"expected exactly one NSD package, got {len(nsds)}")
    if not isinstance(ns_name, str) or not ns_name.strip():
        raise DescriptorError(CONFIG, "ns_name", "the NS instance name must not be empty")
    config = _unyaml(config or {})
    if not isinstance(config, dict):
        raise DescriptorError(CONFIG, "(top)", "expected a mapping")
    nsd_pkg, vnfds = nsds[0], {p.id: p for p in packages if p.kind == "vnfd"}
    nsd = nsd_pkg.body
    profiles = as_list(nsd["df"][0]["vnf-profile"])
    members = {str(p["id"]): vnfds[p["vnfd-id"]] for p in profiles}

    settings, config_addresses = _vl_settings(nsd, config)
    networks, parsed = _networks(ns_name, nsd_pkg, settings)
    net_of = {n.vld: n for n in networks}

    links = _addresses(nsd_pkg, parsed, config_addresses)

    user_params = _kdu_params(config, members)
    cluster_of = member_clusters(config, members, vim_account, cluster_of_vim)
    plan = Plan(ns_name=ns_name, nsd_id=nsd_pkg.id, networks=networks)
    for profile in profiles:
        member = str(profile["id"])
        vnfd = members[member]
        cluster = cluster_of[member]
        wired = [(cpd["id"], *links[(member, cpd["id"])]) for cpd in vnfd.body["ext-cpd"]
                 if (member, cpd["id"]) in links]
        for kdu in vnfd.body["kdu"]:
            attachments = [Attachment(member_vnf_index=member, vnfd_id=vnfd.id, kdu=kdu["name"], cpd=cpd,
                                      network=net_of[vl].name, interface=f"net{i}", address=address,
                                      cluster=cluster)
                           for i, (cpd, vl, address) in enumerate(wired, start=1)]
            plan.attachments += attachments
            user = user_params.get((member, kdu["name"]), {})
            values = deep_merge(_kdu_values(attachments, networks),
                                user.get("additionalParams") or {})
            chart = user.get("kdu_model") or _chart(vnfd, kdu)
            plan.kdus.append(KduDeployment(member_vnf_index=member, vnfd_id=vnfd.id, kdu=kdu["name"],
                                           chart=chart, values=values, cluster=cluster))
    plan.networks = [dataclasses.replace(n, clusters=spanned_clusters(plan.attachments, n.name))
                     for n in plan.networks]
    return plan


def _chart(vnfd: Package, kdu: dict) -> str:
    path = vnfd.chart_path(kdu["name"])
    return str(path) if path is not None else kdu["helm-chart"]


def _routes(attachments: list[Attachment], networks: list[Network]) -> list[dict]:
    """Routes to the NS's other subnets through the gateway of the first attached link that has one.

    A KDU holding a link's gateway address is the router of that link and gets no route through it.
    """
    own = {a.network for a in attachments}
    by_name = {n.name: n for n in networks}
    routes, done = [], set()
    for att in attachments:
        net = by_name[att.network]
        if not net.gateway or not att.address or att.address.split("/")[0] == net.gateway:
            continue
        for other in networks:
            if other.name in own or not other.cidr or other.cidr in done:
                continue
            if ipaddress.ip_network(other.cidr).overlaps(ipaddress.ip_network(net.cidr)):
                continue
            routes.append({"to": other.cidr, "via": net.gateway, "interface": att.interface})
            done.add(other.cidr)
    return routes


def _kdu_values(attachments: list[Attachment], networks: list[Network]) -> dict:
    vld_of = {n.name: n.vld for n in networks}
    annotation = [{"name": a.network, "ips": [a.address]} if a.address else {"name": a.network}
                  for a in attachments]
    return {
        "podLabels": {"l2sm": "true"},
        "podAnnotations": {"l2sm/networks": json.dumps(annotation)},
        "l2sm": {
            "networks": [{"name": a.network, "interface": a.interface, "ips": [a.address] if a.address else [],
                          "vld": vld_of[a.network]} for a in attachments],
            "routes": _routes(attachments, networks),
        },
    }
