"""Parsing of the pod annotation ``l2sm/networks`` in the three forms upstream L2S-M accepts.

- JSON list: ``[{"name": "net-a", "ips": ["10.0.1.2/24"]}, {"name": "net-b"}]``
- comma-separated names: ``net-a, net-b``
- one name: ``net-a``
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from osm_l2sm.errors import L2smError
from osm_l2sm.model.names import NETWORK_NAME_RULE, is_network_name


@dataclass(frozen=True)
class NetworkRequest:
    """One network a pod asks for; ``ips`` empty means "pick one from the network's range" (or none: L2 only)."""

    name: str
    ips: tuple[str, ...] = field(default=())


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not is_network_name(name.strip()):
        raise L2smError(f"invalid network name {name!r} in l2sm/networks ({NETWORK_NAME_RULE})")
    return name.strip()


def _check_ip(ip: object, network: str) -> str:
    try:
        iface = ipaddress.ip_interface(ip)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise L2smError(f"invalid address {ip!r} for network {network} in l2sm/networks "
                        "(expected IP/PREFIX such as 10.0.0.1/24)") from None
    if "/" not in str(ip):
        raise L2smError(f"address {ip} for network {network} in l2sm/networks lacks a prefix length (e.g. /24)")
    return str(iface)


def _from_json(text: str) -> list[NetworkRequest]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as err:
        raise L2smError(f"l2sm/networks is not valid JSON: {err.msg} at position {err.pos}") from None
    if not isinstance(items, list):
        raise L2smError("l2sm/networks must be a JSON list of {\"name\": ..., \"ips\": [...]} objects")
    requests = []
    for item in items:
        if not isinstance(item, dict) or "name" not in item:
            raise L2smError(f"l2sm/networks entry {item!r} lacks a \"name\"")
        name = _check_name(item["name"])
        ips = item.get("ips") or []
        if not isinstance(ips, list):
            raise L2smError(f"\"ips\" of network {name} in l2sm/networks must be a list")
        requests.append(NetworkRequest(name, tuple(_check_ip(ip, name) for ip in ips)))
    return requests


def parse_networks_annotation(text: str | None) -> list[NetworkRequest]:
    """The networks a pod asks for, in annotation order (which gives net1, net2, ...).

    Raises L2smError with a readable line on a malformed annotation or a network named twice.
    """
    text = (text or "").strip()
    if not text:
        raise L2smError("l2sm/networks is empty")
    if text.startswith("[") or text.startswith("{"):
        requests = _from_json(text)
    else:
        requests = [NetworkRequest(_check_name(part)) for part in text.split(",")]
    if not requests:
        raise L2smError("l2sm/networks names no network")
    seen: set[str] = set()
    for req in requests:
        if req.name in seen:
            raise L2smError(f"network {req.name} is named twice in l2sm/networks")
        seen.add(req.name)
    return requests
