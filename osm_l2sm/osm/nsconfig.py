"""The ns-create ``--config`` as osmclient reads it, and the networks a user names in it.

osmclient turns an old top-level ``vim-network-name`` list into ``vld`` entries before anything else; the planner
and NBI then see ``vld``. A ``vld[].vim-network-name`` names the network of that virtual link: osm-l2sm makes (when
missing) and wires that network instead of ``<ns>-<vl>``, so OSM's record and the pods name the same network.
"""
from __future__ import annotations

import copy
import dataclasses

from osm_l2sm.errors import L2smError
from osm_l2sm.model import Plan
from osm_l2sm.model.names import check_network_name


def osmclient_form(config: dict | None, source: str = "--config") -> dict:
    """``config`` as osmclient v8 sends it: a top-level ``vim-network-name`` replaces ``vld`` (osmclient's
    ``ns_config["vld"] = ns_config.pop("vim-network-name")``); ``vld`` must be a list of mappings."""
    config = copy.deepcopy(config or {})
    if not isinstance(config, dict):
        raise L2smError(f"{source}: expected a mapping of instantiation parameters")
    if "vim-network-name" in config:
        config["vld"] = config.pop("vim-network-name")
    vlds = config.get("vld")
    if vlds is not None and (not isinstance(vlds, list) or not all(isinstance(v, dict) for v in vlds)):
        raise L2smError(f"{source}: vld (or the old top-level vim-network-name) must be a list of mappings")
    return config


def user_network_names(config: dict | None, source: str = "--config") -> dict[str, str]:
    """``{virtual link: network}`` for every ``vld[]`` of ``config`` with a ``vim-network-name`` (a name, or
    ``{VIM account: name}`` with one name for all VIMs: osm-l2sm makes one network per virtual link)."""
    names: dict[str, str] = {}
    for i, vld in enumerate(osmclient_form(config, source).get("vld") or []):
        given = vld.get("vim-network-name")
        if not given:
            continue
        where = f"{source}: vld[{i}] (virtual link {vld.get('name')!r}) vim-network-name"
        if isinstance(given, dict):
            distinct = sorted(set(given.values()))
            if len(distinct) != 1:
                raise L2smError(f"{where} names {len(distinct)} networks ({', '.join(map(str, distinct))}): "
                                "osm-l2sm makes one network per virtual link, whatever the VIM; give one name")
            given = distinct[0]
        check_network_name(given, where)
        if given in names.values():
            other = next(vl for vl, name in names.items() if name == given)
            raise L2smError(f"{where}: {given!r} is already the network of virtual link {other!r}; two virtual "
                            "links on one network would join two isolated segments")
        names[str(vld.get("name"))] = given
    return names


def with_user_networks(plan: Plan, names: dict[str, str]) -> Plan:
    """``plan`` with each virtual link in ``names`` on the network named there: its network and the KDUs' interfaces
    renamed (their Helm values follow)."""
    renamed = {n.name: names[n.vld] for n in plan.networks if n.vld in names and names[n.vld] != n.name}
    if not renamed:
        return plan
    plan.networks = [dataclasses.replace(n, name=renamed.get(n.name, n.name)) for n in plan.networks]
    for kdu in plan.kdus:
        kdu.interfaces = [dataclasses.replace(a, network=renamed.get(a.network, a.network)) for a in kdu.interfaces]
    return plan
