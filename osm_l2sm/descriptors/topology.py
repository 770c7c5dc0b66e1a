"""The resolved topology of an NSD deployment flavour: its links with their subnets, and which virtual link each
constituent cpd joins with which address.

:func:`walk_links` is the one place that reads the NSD's links; validation calls it once per flavour, reports what it
found broken, and hands the first flavour's :class:`Topology` to the planner (and through it to OSM's
``k8scluster-add`` nets), so nothing walks the descriptor or parses an address twice.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from osm_l2sm.model.addresses import reserved

from .errors import DescriptorError, descriptor_strictness
from .package import Package

NSD_PATH = ["nsd", "nsd", 0]

ADDRESSES = "osm-l2sm configures these addresses on the pods' interfaces of the link"
IPV4 = "osm-l2sm plans IPv4 links"


@dataclass
class Connection:
    """One constituent cpd of one vnf-profile on one virtual link."""

    member_vnf_index: str
    vnfd_id: str
    vl: str | None  # the virtual-link-desc id, None when the reference is unknown
    cpd: str
    ip_address: str | list | None  # as written
    base_element: str | None  # the entry's constituent-base-element-id
    path: list  # YAML path of the constituent-cpd-id entry
    ip: ipaddress.IPv4Address | None = None  # ip_address parsed and checked against the link's subnet


@dataclass
class Link:
    """One virtual-link-desc with its subnet: the df's l3-protocol-data, else the link's OSM ip-profile."""

    id: str
    vim_network_name: str | None = None
    cidr: str | None = None
    gateway: str | None = None
    cidr_path: list | None = None
    gateway_path: list | None = None
    subnet: ipaddress.IPv4Network | None = None  # cidr parsed (None when absent or broken)
    gateway_ip: ipaddress.IPv4Address | None = None  # gateway parsed
    mgmt: bool = False  # mgmt-network: the network OSM reaches the VNFs on (for KDUs, the cluster's pod network)


@dataclass
class Topology:
    """What validation resolved of one NSD deployment flavour; the planner's only view of the NSD's links."""

    links: dict[str, Link] = field(default_factory=dict)  # by virtual-link-desc id, in document order
    connections: list[Connection] = field(default_factory=list)  # in document order
    dangling: list[tuple[list, object]] = field(default_factory=list)  # (path, ref) of unknown VL references
    nsd: Package | None = None  # set by validation, with the VNFDs by id and by member-vnf-index
    vnfds: dict[str, Package] = field(default_factory=dict)
    members: dict[str, Package] = field(default_factory=dict)


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def _links(nsd: dict, df: dict, df_index: int) -> dict[str, Link]:
    out: dict[str, Link] = {}
    for i, vl in enumerate(as_list(nsd.get("virtual-link-desc"))):
        if not isinstance(vl, dict):
            continue
        profile = vl.get("ip-profile") if isinstance(vl.get("ip-profile"), dict) else {}
        base = NSD_PATH + ["virtual-link-desc", i, "ip-profile"]
        out[vl.get("id")] = Link(vl.get("id"), vl.get("vim-network-name"), profile.get("subnet-address"),
                                 profile.get("gateway-address"),
                                 base + ["subnet-address"] if "subnet-address" in profile else None,
                                 base + ["gateway-address"] if "gateway-address" in profile else None,
                                 mgmt=vl.get("mgmt-network") is True)
    for j, profile in enumerate(as_list(df.get("virtual-link-profile"))):
        if not isinstance(profile, dict):
            continue
        l3 = (profile.get("virtual-link-protocol-data") or {}).get("l3-protocol-data") or {}
        link = out.get(profile.get("virtual-link-desc-id"))
        if link is None or not l3:
            continue
        base = NSD_PATH + ["df", df_index, "virtual-link-profile", j, "virtual-link-protocol-data", "l3-protocol-data"]
        if "cidr" in l3:
            link.cidr, link.cidr_path = l3["cidr"], base + ["cidr"]
        if "gateway-ip" in l3:
            link.gateway, link.gateway_path = l3["gateway-ip"], base + ["gateway-ip"]
    return out


def _vl_of_profile(df: dict, links: dict, profile_id) -> str | None:
    """Resolve a virtual-link-profile-id: a profile of the df, or (OSM's shorthand) a virtual-link-desc id."""
    for profile in as_list(df.get("virtual-link-profile")):
        if isinstance(profile, dict) and profile.get("id") == profile_id:
            desc = profile.get("virtual-link-desc-id")
            return desc if desc in links else None
    return profile_id if profile_id in links else None


def walk_links(nsd: dict, df_index: int = 0) -> Topology:
    """The df's links and every constituent cpd on them, in document order (nothing parsed yet)."""
    dfs = as_list(nsd.get("df"))
    df = dfs[df_index] if df_index < len(dfs) and isinstance(dfs[df_index], dict) else {}
    topo = Topology(links=_links(nsd, df, df_index))
    for p, profile in enumerate(as_list(df.get("vnf-profile"))):
        if not isinstance(profile, dict):
            continue
        profile_path = NSD_PATH + ["df", df_index, "vnf-profile", p]
        for c, conn in enumerate(as_list(profile.get("virtual-link-connectivity"))):
            if not isinstance(conn, dict):
                continue
            ref = conn.get("virtual-link-profile-id")
            vl = _vl_of_profile(df, topo.links, ref)
            conn_path = profile_path + ["virtual-link-connectivity", c]
            if vl is None:
                topo.dangling.append((conn_path + ["virtual-link-profile-id"], ref))
            for k, cpd in enumerate(as_list(conn.get("constituent-cpd-id"))):
                if not isinstance(cpd, dict):
                    continue
                topo.connections.append(Connection(str(profile.get("id")), profile.get("vnfd-id"), vl,
                                                   cpd.get("constituent-cpd-id"), one_address(cpd.get("ip-address")),
                                                   cpd.get("constituent-base-element-id"),
                                                   conn_path + ["constituent-cpd-id", k]))
    return topo


def parse_link_subnets(topo: Topology, source: str) -> list[DescriptorError]:
    """Parse every link's subnet and gateway once (into ``subnet``/``gateway_ip``); the problems found."""
    errors = []
    for link in topo.links.values():
        if link.cidr is None:
            if link.gateway is not None:
                errors.append(DescriptorError(source, link.gateway_path, "gateway without a subnet address"))
            continue
        try:
            # SOL006 types the df's cidr as a plain string (NBI takes any), OSM's ip-profile as an ip-prefix
            from_df = "l3-protocol-data" in link.cidr_path
            link.subnet = parse_subnet(link.cidr, source, link.cidr_path, ADDRESSES if from_df else None)
            if link.gateway is not None:
                link.gateway_ip = check_host(parse_ip(link.gateway, source, link.gateway_path, "gateway"),
                                             link.subnet, source, link.gateway_path, "gateway")
        except DescriptorError as err:
            link.subnet = None
            errors.append(descriptor_strictness(err))
    return errors


def one_address(value):
    """``ip-address`` is a leaf-list in OSM's IM: ``[10.0.1.10]`` is the address ``10.0.1.10``. Longer lists are
    left as they are (validation refuses them)."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def parse_subnet(cidr, source: str, path, malformed_accepted: str | None = None) -> ipaddress.IPv4Network:
    """An IPv4 subnet; ``malformed_accepted``: why osm-l2sm refuses a malformed one where OSM takes any text."""
    try:
        return _ipv4_subnet(ipaddress.ip_network(str(cidr)), cidr, source, path)
    except ValueError:
        pass
    try:  # host bits set, or not a subnet at all
        net = _ipv4_subnet(ipaddress.ip_network(str(cidr), strict=False), cidr, source, path)
    except ValueError:
        raise DescriptorError(source, path, f"{cidr!r} is not a subnet address like 10.0.1.0/24",
                              malformed_accepted) from None
    raise DescriptorError(source, path, f"{cidr!r} is not a subnet address like {net}", ADDRESSES)


def _ipv4_subnet(net, cidr, source: str, path) -> ipaddress.IPv4Network:
    if net.version != 4:
        raise DescriptorError(source, path, f"{cidr!r}: only IPv4 subnets are supported", IPV4)
    return net


def parse_ip(address, source: str, path, what: str = "address") -> ipaddress.IPv4Address:
    """A valid IPv4 address (OSM refuses a malformed one too)."""
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        raise DescriptorError(source, path, f"{address!r} is not an IPv4 {what}") from None
    if ip.version != 4:
        raise DescriptorError(source, path, f"{address!r} is not an IPv4 {what}", IPV4)
    return ip


def check_host(ip: ipaddress.IPv4Address, subnet: ipaddress.IPv4Network | None, source: str, path,
               what: str = "address") -> ipaddress.IPv4Address:
    """``ip`` must be a host address of ``subnet``: inside it, one a host may take (:mod:`osm_l2sm.model.addresses`).

    These problems matter because osm-l2sm configures the addresses (``osm_accepts`` says so: validation adds it
    to the message)."""
    if subnet is None:
        raise DescriptorError(source, path, f"{what} {ip} on a virtual link without a subnet (no ip-profile)",
                              ADDRESSES)
    if ip not in subnet:
        raise DescriptorError(source, path, f"{what} {ip} is outside the link's subnet {subnet}", ADDRESSES)
    if reserved(ip, subnet) is not None:
        raise DescriptorError(source, path, f"{what} {ip} is the network or broadcast address of {subnet}",
                              ADDRESSES)
    return ip
