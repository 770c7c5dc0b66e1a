"""Automatic pod addresses from an L2Network's ``networkCIDR`` / ``podAddressRange``.

Pure functions: the used set comes from the API (network status and pod annotations), never from memory, so a
restarted operator hands out exactly what a running one would.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from osm_l2sm.errors import L2smError
from osm_l2sm.model.addresses import bare, host_range


def _network(cidr: str, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise L2smError(f"invalid {what} {cidr!r} (expected a CIDR such as 10.0.0.0/24)") from None


def _range_bounds(spec: str) -> tuple:
    """``podAddressRange`` as (first, last): a CIDR (its host addresses) or ``A-B`` (inclusive)."""
    if "-" in spec:
        low, _, high = spec.partition("-")
        try:
            first, last = ipaddress.ip_address(low.strip()), ipaddress.ip_address(high.strip())
        except ValueError:
            raise L2smError(f"invalid podAddressRange {spec!r} (expected CIDR or FIRST-LAST)") from None
        if first > last:
            raise L2smError(f"podAddressRange {spec!r} ends before it starts")
        return first, last
    return host_range(_network(spec, "podAddressRange"))


def address_plan(network_cidr: str | None, pod_address_range: str | None):
    """(first, last, prefix length) of automatic addresses, or None for an L2-only network."""
    if not network_cidr and not pod_address_range:
        return None
    cidr = _network(network_cidr, "networkCIDR") if network_cidr else None
    if pod_address_range:
        first, last = _range_bounds(pod_address_range)
        if cidr is None:
            prefix = _network(pod_address_range, "podAddressRange").prefixlen if "-" not in pod_address_range \
                else (32 if first.version == 4 else 128)
        else:
            if first not in cidr or last not in cidr:
                raise L2smError(f"podAddressRange {pod_address_range} lies outside networkCIDR {network_cidr}")
            # never the CIDR's network or broadcast address, which a range written FIRST-LAST may include
            low, high = host_range(cidr)
            first, last, prefix = max(first, low), min(last, high), cidr.prefixlen
    else:
        first, last = _range_bounds(str(cidr))
        prefix = cidr.prefixlen
    return first, last, prefix


def candidates(network_cidr: str | None, pod_address_range: str | None) -> Iterator[str]:
    """Every automatic address in order, as ``IP/PREFIX``."""
    plan = address_plan(network_cidr, pod_address_range)
    if plan is None:
        return
    first, last, prefix = plan
    ip = first
    while ip <= last:
        yield f"{ip}/{prefix}"
        ip += 1


def allocate(network_cidr: str | None, pod_address_range: str | None, used: Iterable[str],
             network: str = "network") -> str | None:
    """The lowest free address (``IP/PREFIX``), None for an L2-only network; L2smError when the range is full.

    ``used`` holds addresses with or without a prefix length.
    """
    taken = {bare(a) for a in used}
    has_range = address_plan(network_cidr, pod_address_range) is not None
    for address in candidates(network_cidr, pod_address_range):
        if bare(address) not in taken:
            return address
    if not has_range:
        return None
    raise L2smError(f"no free address left in the range of network {network}")
