"""Which addresses a pod interface may take in a network's range: the one rule the planner, the operator's automatic
addresses, the inter-domain range split and the controller's port checks share.

A host address of a range lies inside it and is neither its network address nor, in IPv4, its broadcast address.
Ranges of two addresses or one (IPv4 /31 and /32, RFC 3021; IPv6 /127 and /128, RFC 6164) have no such address to
keep free: every address is a host's. IPv6 has no broadcast: its last address is a host's, its first (the
Subnet-Router anycast address, RFC 4291) is not.
"""
from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NETWORK_ADDRESS = "network address"
BROADCAST_ADDRESS = "broadcast address"


def bare(address: str) -> str:
    """The address without its prefix length, normalised: ``10.0.0.5/24`` -> ``10.0.0.5``, ``FD00::0009/64`` ->
    ``fd00::9``. Text that is no address comes back cut at its ``/`` (checking it is the caller's business)."""
    try:
        return str(ipaddress.ip_interface(address.strip()).ip)
    except ValueError:
        return address.split("/", 1)[0]


def reserved(ip: IPAddress, network: IPNetwork) -> str | None:
    """What ``ip`` is in ``network`` that no host may take (:data:`NETWORK_ADDRESS` or :data:`BROADCAST_ADDRESS`),
    None when a host may take it (``ip`` is assumed inside ``network``)."""
    if network.num_addresses <= 2:
        return None
    if ip == network.network_address:
        return NETWORK_ADDRESS
    if network.version == 4 and ip == network.broadcast_address:
        return BROADCAST_ADDRESS
    return None


def host_range(network: IPNetwork) -> tuple[IPAddress, IPAddress]:
    """The first and last host address of ``network`` (every address between them is a host's)."""
    first, last = network.network_address, network.broadcast_address
    if reserved(first, network):
        first += 1
    if reserved(last, network):
        last -= 1
    return first, last


def is_host(ip: IPAddress, network: IPNetwork) -> bool:
    """Whether a pod interface may take ``ip`` in ``network``."""
    return ip.version == network.version and ip in network and reserved(ip, network) is None
