"""What a network may be named: the one rule the planner's names, the pod annotation, a user's ``vim-network-name``
and the controller's REST API share.

A network name is what Kubernetes takes as the name of an L2Network (a DNS-1123 subdomain: lower-case labels of
letters, digits and '-', joined by '.'), at most 63 characters, so it also fits a label value.
"""
from __future__ import annotations

import re

from osm_l2sm.errors import L2smError

MAX_NETWORK_NAME = 63
NETWORK_NAME_RULE = ("lower-case letters, digits, '-' and '.', at most 63, starting and ending with a letter or digit, "
                     "as Kubernetes names")
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


def is_network_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= MAX_NETWORK_NAME and _NAME.fullmatch(name) is not None


def check_network_name(name: object, where: str = "network name", status: int = 400) -> str:
    """``name`` when it is a network name; else an :class:`L2smError` (``status``) that says where and the rule."""
    if not is_network_name(name):
        raise L2smError(f"{where}: {name!r} is not a network name ({NETWORK_NAME_RULE})", status)
    return name
