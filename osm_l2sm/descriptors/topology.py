"""Walk an NSD deployment flavour: which virtual link each constituent cpd joins, and each link's subnet.

Helpers shared by validation and planning; they read the descriptor as-is and yield YAML paths for messages.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .errors import DescriptorError

NSD_PATH = ["nsd", "nsd", 0]


@dataclass
class Connection:
    """One constituent cpd of one vnf-profile on one virtual link."""

    member_vnf_index: str
    vnfd_id: str
    vl: str | None  # the virtual-link-desc id, None when the reference is unknown
    cpd: str
    ip_address: str | None
    base_element: str | None  # the entry's constituent-base-element-id
    path: list  # YAML path of the constituent-cpd-id entry


@dataclass
class Subnet:
    cidr: str | None
    gateway: str | None
    cidr_path: list | None
    gateway_path: list | None


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def vl_desc_ids(nsd: dict) -> list[str]:
    return [vl.get("id") for vl in as_list(nsd.get("virtual-link-desc")) if isinstance(vl, dict)]


def vl_of_profile(nsd: dict, df: dict, profile_id) -> str | None:
    """Resolve a virtual-link-profile-id: a profile of the df, or (OSM's shorthand) a virtual-link-desc id."""
    for profile in as_list(df.get("virtual-link-profile")):
        if isinstance(profile, dict) and profile.get("id") == profile_id:
            desc = profile.get("virtual-link-desc-id")
            return desc if desc in vl_desc_ids(nsd) else None
    return profile_id if profile_id in vl_desc_ids(nsd) else None


def subnets(nsd: dict, df_index: int = 0) -> dict[str, Subnet]:
    """The subnet of every virtual link: the df's l3-protocol-data, else the link's OSM ip-profile."""
    out: dict[str, Subnet] = {}
    for i, vl in enumerate(as_list(nsd.get("virtual-link-desc"))):
        if not isinstance(vl, dict):
            continue
        profile = vl.get("ip-profile") if isinstance(vl.get("ip-profile"), dict) else {}
        base = NSD_PATH + ["virtual-link-desc", i, "ip-profile"]
        out[vl.get("id")] = Subnet(profile.get("subnet-address"), profile.get("gateway-address"),
                                   base + ["subnet-address"] if "subnet-address" in profile else None,
                                   base + ["gateway-address"] if "gateway-address" in profile else None)
    dfs = as_list(nsd.get("df"))
    if df_index < len(dfs) and isinstance(dfs[df_index], dict):
        for j, profile in enumerate(as_list(dfs[df_index].get("virtual-link-profile"))):
            if not isinstance(profile, dict):
                continue
            l3 = (profile.get("virtual-link-protocol-data") or {}).get("l3-protocol-data") or {}
            vl = profile.get("virtual-link-desc-id")
            if vl not in out or not l3:
                continue
            base = NSD_PATH + ["df", df_index, "virtual-link-profile", j, "virtual-link-protocol-data",
                               "l3-protocol-data"]
            if "cidr" in l3:
                out[vl].cidr, out[vl].cidr_path = l3["cidr"], base + ["cidr"]
            if "gateway-ip" in l3:
                out[vl].gateway, out[vl].gateway_path = l3["gateway-ip"], base + ["gateway-ip"]
    return out


def connections(nsd: dict, df_index: int = 0) -> list[Connection]:
    """Every constituent cpd of the df, in document order."""
    dfs = as_list(nsd.get("df"))
    if df_index >= len(dfs) or not isinstance(dfs[df_index], dict):
        return []
    df = dfs[df_index]
    out = []
    for p, profile in enumerate(as_list(df.get("vnf-profile"))):
        if not isinstance(profile, dict):
            continue
        profile_path = NSD_PATH + ["df", df_index, "vnf-profile", p]
        for c, conn in enumerate(as_list(profile.get("virtual-link-connectivity"))):
            if not isinstance(conn, dict):
                continue
            vl = vl_of_profile(nsd, df, conn.get("virtual-link-profile-id"))
            for k, cpd in enumerate(as_list(conn.get("constituent-cpd-id"))):
                if not isinstance(cpd, dict):
                    continue
                path = profile_path + ["virtual-link-connectivity", c, "constituent-cpd-id", k]
                out.append(Connection(str(profile.get("id")), profile.get("vnfd-id"), vl,
                                      cpd.get("constituent-cpd-id"), one_address(cpd.get("ip-address")),
                                      cpd.get("constituent-base-element-id"), path))
    return out


def one_address(value):
    """``ip-address`` is a leaf-list in OSM's IM: ``[10.0.1.10]`` is the address ``10.0.1.10``. Longer lists are
    left as they are (validation refuses them)."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


ADDRESSES = "osm-l2sm configures these addresses on the pods' interfaces of the link"
IPV4 = "osm-l2sm plans IPv4 links"


def parse_subnet(cidr, source: str, path) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        raise DescriptorError(source, path, f"{cidr!r} is not a subnet address like 10.0.1.0/24") from None
    if net.version != 4:
        raise DescriptorError(source, path, f"{cidr!r}: only IPv4 subnets are supported", IPV4)
    if _host_bits(str(cidr)):
        raise DescriptorError(source, path, f"{cidr!r} is not a subnet address like {net}", ADDRESSES)
    return net


def _host_bits(cidr: str) -> bool:
    try:
        ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        return True
    return False


def parse_host(address, subnet: ipaddress.IPv4Network | None, source: str, path, what: str = "address"):
    """Check one address of a subnet: a valid IPv4 host address inside it, not its network or broadcast address.

    OSM refuses a malformed address too; the other problems matter because osm-l2sm configures the addresses
    (``osm_accepts`` says so: validation adds it to the message)."""
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        raise DescriptorError(source, path, f"{address!r} is not an IPv4 {what}") from None
    if ip.version != 4:
        raise DescriptorError(source, path, f"{address!r} is not an IPv4 {what}", IPV4)
    if subnet is None:
        raise DescriptorError(source, path, f"{what} {address} on a virtual link without a subnet (no ip-profile)",
                              ADDRESSES)
    if ip not in subnet:
        raise DescriptorError(source, path, f"{what} {address} is outside the link's subnet {subnet}", ADDRESSES)
    if subnet.prefixlen < 31 and ip in (subnet.network_address, subnet.broadcast_address):
        raise DescriptorError(source, path, f"{what} {address} is the network or broadcast address of {subnet}",
                              ADDRESSES)
    return ip
