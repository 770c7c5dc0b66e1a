"""A KDU's networks from what OSM keeps about a running NS: the NS record (with its NSD and instantiation
parameters), the VNF records and their VNFDs, read from NBI and planned with the same planner as `osm-l2sm plan`.

This is what an NS instantiated with stock ``osm ns-create`` needs: LCM labels every pod of a KDU with
``osm.etsi.org/ns-id``, ``osm.etsi.org/vnf-id`` (the VNF record's id) and ``osm.etsi.org/kdu-name``, and from those
:class:`NsPlans` answers which networks the pod joins, with which addresses. Reads only; one plan per NS is kept for
``ttl`` seconds, so the pods of one NS cost NBI a single round of reads.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import yaml

from osm_l2sm.errors import L2smError
from osm_l2sm.model import Network, Plan

from osm_l2sm.descriptors import load_descriptor_text

from . import lifecycle

NS_ID_LABEL = "osm.etsi.org/ns-id"
VNF_ID_LABEL = "osm.etsi.org/vnf-id"
KDU_NAME_LABEL = "osm.etsi.org/kdu-name"


def ns_network_prefix(nsr: dict) -> str:
    """The ``ns_name`` the planner names an NS's networks after: the NS name plus the start of its id, so two
    instances of one NSD (even under one name) never share a network."""
    return f"{nsr.get('name') or 'ns'}-{nsr['_id'][:8]}"


def ns_packages(nbi, nsr: dict, vnfrs: list[dict] | None = None) -> list:
    """The descriptors a running NS was made from: the NSD its record holds, the VNFDs of its VNF records
    (``vnfrs`` when already read)."""
    ns_id = nsr["_id"]
    if not isinstance(nsr.get("nsd"), dict):
        raise L2smError(f"OSM's record of NS {ns_id} holds no NSD", status=502)
    nsd = {k: v for k, v in nsr["nsd"].items() if not k.startswith("_")}  # NBI's own _id, _admin
    packages = [load_descriptor_text(yaml.safe_dump(nsd), f"osm:nsr/{ns_id}/nsd")]
    seen = set()
    for vnfr in nbi.vnf_records(ns_id) if vnfrs is None else vnfrs:
        vnfd_id = vnfr.get("vnfd-ref")
        if vnfd_id and vnfd_id not in seen:
            seen.add(vnfd_id)
            packages.append(load_descriptor_text(nbi.vnfd_text(vnfd_id), f"osm:vnfd/{vnfd_id}"))
    return packages


@dataclass
class KduNetworks:
    """What one KDU's pods need: the NS's networks they join and the ``l2sm/networks`` annotation value."""

    ns_id: str
    member_vnf_index: str
    kdu: str
    networks: list[Network]
    annotation: str  # JSON list of {"name", "ips"?}, the form the operator reads from l2sm/networks
    routes: dict[str, list[dict]]  # network name -> the plan's routes through it, as CNI routes {"dst", "gw"}


@dataclass
class _Entry:
    plan: Plan
    members: dict[str, str]  # VNF record id -> member-vnf-index
    read_at: float


class NsPlans:
    """Plans of running NS instances, read from NBI (``nbi``: a :class:`osm_l2sm.osm.nbi.RestNbi`), cached per NS."""

    def __init__(self, nbi, ttl: float = 30.0, clock=time.monotonic):
        self.nbi, self.ttl, self.clock = nbi, ttl, clock
        self._cache: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _read(self, ns_id: str) -> _Entry:
        nsr = self.nbi.ns_record(ns_id)
        vnfrs = self.nbi.vnf_records(ns_id)
        members = {vnfr["_id"]: str(vnfr.get("member-vnf-index-ref")) for vnfr in vnfrs}
        packages = ns_packages(self.nbi, nsr, vnfrs)
        # the instantiation's own vld settings (ip-profile, cp addresses) override the descriptors, as at ns-create
        params = nsr.get("instantiate_params") or {}
        config = {"vld": params["vld"]} if params.get("vld") else {}
        plan = lifecycle.plan_for(packages, ns_network_prefix(nsr), config)
        return _Entry(plan, members, self.clock())

    def entry(self, ns_id: str) -> _Entry:
        with self._lock:
            cached = self._cache.get(ns_id)
            if cached is not None and self.clock() - cached.read_at < self.ttl:
                return cached
        fresh = self._read(ns_id)  # outside the lock: one slow NBI must not hold up other NS instances
        with self._lock:
            self._cache[ns_id] = fresh
        return fresh

    def forget(self, ns_id: str) -> None:
        with self._lock:
            self._cache.pop(ns_id, None)

    def plan(self, ns_id: str) -> Plan:
        return self.entry(ns_id).plan

    def kdu_networks(self, labels: dict) -> KduNetworks:
        """The networks of the KDU a pod belongs to, from the labels LCM puts on it."""
        missing = [k for k in (NS_ID_LABEL, VNF_ID_LABEL, KDU_NAME_LABEL) if not labels.get(k)]
        if missing:
            raise L2smError(f"pod lacks the OSM label(s) {', '.join(missing)}", status=400)
        ns_id, vnf_id, kdu_name = labels[NS_ID_LABEL], labels[VNF_ID_LABEL], labels[KDU_NAME_LABEL]
        entry = self.entry(ns_id)
        if vnf_id not in entry.members:  # maybe a VNF added since the NS was read (scaling): read it again
            self.forget(ns_id)
            entry = self.entry(ns_id)
        member = entry.members.get(vnf_id)
        if member is None:
            raise L2smError(f"VNF record {vnf_id} is not part of NS {ns_id} in OSM", status=404)
        kdu = next((k for k in entry.plan.kdus if k.member_vnf_index == member and k.kdu == kdu_name), None)
        if kdu is None:
            raise L2smError(f"NS {ns_id} has no KDU {kdu_name!r} in member-vnf-index {member}", status=404)
        joined = {a.network for a in entry.plan.attachments if a.member_vnf_index == member and a.kdu == kdu_name}
        return KduNetworks(ns_id, member, kdu_name, [n for n in entry.plan.networks if n.name in joined],
                           kdu.values["podAnnotations"]["l2sm/networks"], _routes_by_network(kdu.values["l2sm"]))


def _routes_by_network(values: dict) -> dict[str, list[dict]]:
    """The KDU's planned routes (``l2sm.routes``: to, via, interface) keyed by the network of their interface."""
    network_of = {n["interface"]: n["name"] for n in values.get("networks") or []}
    routes: dict[str, list[dict]] = {}
    for route in values.get("routes") or []:
        routes.setdefault(network_of[route["interface"]], []).append({"dst": route["to"], "gw": route["via"]})
    return routes
