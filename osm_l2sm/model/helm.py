"""The Helm values a KDU's chart gets from a plan: the one place they are written.

The label and annotation L2S-M reads (``podLabels``, ``podAnnotations["l2sm/networks"]``) and our ``l2sm`` block the
CDN charts read (interfaces with their addresses and virtual links, routes), with the user's additionalParams
deep-merged over them (user wins). Boxes use the typed plan (interfaces, routes); these values only go to charts
and to OSM.
"""
from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Attachment, Route


def deep_merge(base: dict, override: dict) -> dict:
    """A new dict: ``override`` wins, mappings are merged key by key, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def networks_annotation(interfaces: list[Attachment]) -> str:
    """The ``l2sm/networks`` pod annotation that asks for ``interfaces``: a JSON list of {"name", "ips"?}."""
    return json.dumps([{"name": a.network, "ips": [a.address]} if a.address else {"name": a.network}
                       for a in interfaces])


def kdu_values(interfaces: list[Attachment], routes: list[Route], params: dict) -> dict:
    # a KDU on no L2S-M network keeps its pods as the chart makes them: no l2sm label, no networks annotation
    pod = {"podLabels": {"l2sm": "true"}, "podAnnotations": {"l2sm/networks": networks_annotation(interfaces)}}
    planned = {
        **(pod if interfaces else {}),
        "l2sm": {
            "networks": [{"name": a.network, "interface": a.interface, "ips": [a.address] if a.address else [],
                          "vld": a.vld} for a in interfaces],
            "routes": [r.to_dict() for r in routes],
        },
    }
    return deep_merge(planned, params or {})
