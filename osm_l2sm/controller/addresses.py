"""Address checks for ports (docs/controller-api.md): the controller is the one place that knows every address of a
network, so it refuses what would break the network, whoever attaches the port (CNI plugin, sandbox, operator).

A port may name its interface addresses with their prefix (``10.0.0.5/24``). In a network with a CIDR, an address
must lie inside it, with a prefix at least as long as the network's, and be one a host may take
(:mod:`osm_l2sm.model.addresses`: not the network's own address nor its IPv4 broadcast address, in a range wider than
two addresses). In any network, an address belongs to one port at most.
"""
from __future__ import annotations

import ipaddress

from osm_l2sm.errors import L2smError
from osm_l2sm.model.addresses import bare, reserved

MAX_ADDRESSES = 16  # per port; a pod interface has one or two


def parse_ips(value) -> tuple[str, ...]:
    """``None`` or a list of addresses with prefix, as normalised strings (400 otherwise)."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ADDRESSES:
        raise L2smError(f"ips must be a list of at most {MAX_ADDRESSES} addresses such as 10.0.0.5/24", 400)
    parsed = []
    for item in value:
        try:
            if not isinstance(item, str) or "/" not in item:
                raise ValueError(item)
            parsed.append(str(ipaddress.ip_interface(item)))
        except ValueError:
            raise L2smError(f"ips: {item!r} is not an address with its prefix, such as 10.0.0.5/24", 400) from None
    return tuple(parsed)


def check_ips(ips: tuple[str, ...], network: str, cidr: str | None, pid: str, holders: dict[str, str]) -> None:
    """Refuse ``ips`` for port ``pid`` of ``network`` (range ``cidr``, or ``None``) whose addresses are held by
    ``holders`` (bare address -> port id): 400 for an address the network cannot have, 409 for one already held."""
    subnet = ipaddress.ip_network(cidr, strict=False) if cidr else None
    seen = set()
    for text in ips:
        iface = ipaddress.ip_interface(text)
        ip = iface.ip
        if subnet is not None:
            where = f"network {network} ({subnet})"
            if ip.version != subnet.version or ip not in subnet:
                raise L2smError(f"address {text} is outside {where}", 400)
            if iface.network.prefixlen < subnet.prefixlen:
                raise L2smError(f"address {text} has a prefix wider than {where}", 400)
            kind = reserved(ip, subnet)
            if kind is not None:
                raise L2smError(f"address {text} is the {kind} of {where}", 400)
        owner = holders.get(str(ip))
        if owner is not None and owner != pid:
            raise L2smError(f"address {ip} is already held by port {owner} in network {network}", 409)
        if ip in seen:
            raise L2smError(f"address {ip} is given twice for port {pid}", 400)
        seen.add(ip)
