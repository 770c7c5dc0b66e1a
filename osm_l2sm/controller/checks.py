"""Checks of the values a client sends: each gives the value as stored, or a 400 that names the field."""
from __future__ import annotations

import ipaddress
import re

from osm_l2sm.errors import L2smError

from .flows import MAX_KEY

MAX_NETWORK_ID = MAX_KEY  # a network's id is its key on tunnels (flows.key_tags)
MAX_TAG = 4094  # an inter-domain network's global tag: one 802.1Q tag on domain links
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_DPID = re.compile(r"^[0-9a-f]{16}$")
_IFNAME = re.compile(r"^[^/\s]{1,15}$")


def check_name(value, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise L2smError(f"{what} must be 1-63 letters, digits, '-', '.' or '_' (got {value!r})", 400)
    return value


def check_interface(value, what: str = "interface") -> str:
    if not isinstance(value, str) or not _IFNAME.match(value):
        raise L2smError(f"{what} must be an interface name of 1-15 characters without '/' (got {value!r})", 400)
    return value


def check_mac(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _MAC.match(value.lower()):
        raise L2smError(f"mac must look like 02:00:00:00:00:01 (got {value!r})", 400)
    return value.lower()


def check_dpid(value) -> str:
    if not isinstance(value, str) or not _DPID.match(value.lower()):
        raise L2smError(f"dpid must be 16 hex digits (got {value!r})", 400)
    return value.lower()


def check_optional_text(value, what: str) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 256):
        raise L2smError(f"{what} must be a string of at most 256 characters", 400)
    return value


def check_cidr(value) -> str | None:
    """``None`` or an IP range such as 10.0.0.0/24 (host bits allowed); kept as given."""
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        raise L2smError(f"cidr must be an IP range such as 10.0.0.0/24 (got {value!r})", 400) from None
    return value


def check_network_id(value) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or not 1 <= value <= MAX_NETWORK_ID):
        raise L2smError(f"id must be a number from 1 to {MAX_NETWORK_ID} (got {value!r})", 400)
    return value


def check_interdomain(value) -> dict | None:
    """``None`` or ``{"tag": N}``: the global tag (1..4094) a network carries on domain links."""
    if value is None:
        return None
    tag = value.get("tag") if isinstance(value, dict) else None
    if not isinstance(tag, int) or isinstance(tag, bool) or not 1 <= tag <= MAX_TAG:
        raise L2smError(f"interdomain must be {{\"tag\": 1..{MAX_TAG}}} (got {value!r})", 400)
    return {"tag": tag}
