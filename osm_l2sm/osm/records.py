"""A KDU's networks from what OSM keeps about a running NS: the NS record (with its NSD and instantiation
parameters), the VNF records and their VNFDs, read from NBI and planned with the same planner as `osm-l2sm plan`.

This is what an NS instantiated with stock ``osm ns-create`` needs: LCM labels every pod of a KDU with
``osm.etsi.org/ns-id``, ``osm.etsi.org/vnf-id`` (the VNF record's id) and ``osm.etsi.org/kdu-name``, and from those
:class:`NsPlans` answers which networks the pod joins, with which addresses. Reads only; one plan per NS is kept for
``ttl`` seconds, so the pods of one NS cost NBI a single round of reads. While NBI cannot be reached, the plan read
last is used (an NS's descriptors and instantiation parameters do not change while it runs). Descriptors that cannot
be planned raise :class:`NsNotPlanned` (kept like a plan), so a caller tells them apart from NBI's own failures.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import yaml

from osm_l2sm.errors import L2smError
from osm_l2sm.model import KduDeployment, Network, Plan
from osm_l2sm.model.helm import networks_annotation

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
    return packages_of(nsr, vnfd_texts(nbi, nbi.vnf_records(nsr["_id"]) if vnfrs is None else vnfrs))


def vnfd_texts(nbi, vnfrs: list[dict]) -> dict[str, str]:
    """The text of each VNFD the VNF records name, read from NBI once each."""
    texts: dict[str, str] = {}
    for vnfr in vnfrs:
        vnfd_id = vnfr.get("vnfd-ref")
        if vnfd_id and vnfd_id not in texts:
            texts[vnfd_id] = nbi.vnfd_text(vnfd_id)
    return texts


def packages_of(nsr: dict, vnfds: dict[str, str]) -> list:
    """The loaded descriptors of an NS record's NSD and of the VNFD texts already read (no NBI call here)."""
    ns_id = nsr["_id"]
    if not isinstance(nsr.get("nsd"), dict):
        raise L2smError(f"OSM's record of NS {ns_id} holds no NSD", status=502)
    nsd = {k: v for k, v in nsr["nsd"].items() if not k.startswith("_")}  # NBI's own _id, _admin
    packages = [load_descriptor_text(yaml.safe_dump(nsd), f"osm:nsr/{ns_id}/nsd")]
    return packages + [load_descriptor_text(text, f"osm:vnfd/{vnfd_id}") for vnfd_id, text in vnfds.items()]


class NsNotPlanned(L2smError):
    """OSM knows the NS, but its descriptors cannot be planned (the planner's reason is the message)."""

    def __init__(self, message: str):
        super().__init__(message, status=422)


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
    plan: Plan | None  # None when the descriptors cannot be planned (``error`` says why)
    members: dict[str, str]  # VNF record id -> member-vnf-index
    read_at: float
    name: str = ""  # the NS instance's name and NSD id, as OSM keeps them
    nsd: str = ""
    error: NsNotPlanned | None = None


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
        vnfds = vnfd_texts(self.nbi, vnfrs)  # every NBI read first: a failure past this point is the planner's
        entry = _Entry(None, members, self.clock(), str(nsr.get("name") or ""), str(nsr.get("nsd-ref") or ""))
        try:
            packages = packages_of(nsr, vnfds)
            # the instantiation's own vld settings (ip-profile, cp addresses) override the descriptors, as at
            # ns-create; and its additionalParamsForNs (NBI keeps them on the record itself), where the user may opt
            # in to wiring management VLs
            params = nsr.get("instantiate_params") or {}
            config = {"vld": params["vld"]} if params.get("vld") else {}
            if nsr.get("additionalParamsForNs"):
                config["additionalParamsForNs"] = nsr["additionalParamsForNs"]
            entry.plan = lifecycle.plan_for(packages, ns_network_prefix(nsr), config)
        except Exception as err:  # noqa: BLE001  any failure of the planner means the same: not plannable
            entry.error = NsNotPlanned(f"osm-l2sm cannot plan NS {ns_id}: {err}")
        return entry

    def entry(self, ns_id: str, refresh: bool = False) -> _Entry:
        """The NS's entry, read again past ``ttl`` (or with ``refresh``: then NBI must answer)."""
        with self._lock:
            cached = self._cache.get(ns_id)
            if cached is not None and not refresh and self.clock() - cached.read_at < self.ttl:
                return cached
        try:
            fresh = self._read(ns_id)  # outside the lock: one slow NBI must not hold up other NS instances
        except L2smError as err:
            if cached is None or refresh or err.status == 404:
                raise
            return cached  # NBI cannot be reached: the plan read last still holds
        with self._lock:
            self._cache[ns_id] = fresh
        return fresh

    def forget(self, ns_id: str) -> None:
        with self._lock:
            self._cache.pop(ns_id, None)

    def plan(self, ns_id: str) -> Plan:
        """The NS's plan; NsNotPlanned when its descriptors cannot be planned."""
        entry = self.entry(ns_id)
        if entry.error is not None:
            raise entry.error
        return entry.plan

    def known(self, ns_id: str) -> _Entry | None:
        """What was read of the NS last (its name, NSD, members, plan or error), without asking NBI."""
        with self._lock:
            return self._cache.get(ns_id)

    def kdu_networks(self, labels: dict) -> KduNetworks:
        """The networks of the KDU a pod belongs to, from the labels LCM puts on it."""
        missing = [k for k in (NS_ID_LABEL, VNF_ID_LABEL, KDU_NAME_LABEL) if not labels.get(k)]
        if missing:
            raise L2smError(f"pod lacks the OSM label(s) {', '.join(missing)}", status=400)
        ns_id, vnf_id, kdu_name = labels[NS_ID_LABEL], labels[VNF_ID_LABEL], labels[KDU_NAME_LABEL]
        entry = self.entry(ns_id)
        if vnf_id not in entry.members:  # maybe a VNF added since the NS was read (scaling): read it again
            entry = self.entry(ns_id, refresh=True)
        member = entry.members.get(vnf_id)
        if member is None:
            raise L2smError(f"VNF record {vnf_id} is not part of NS {ns_id} in OSM", status=404)
        if entry.error is not None:
            raise entry.error
        kdu = next((k for k in entry.plan.kdus if k.member_vnf_index == member and k.kdu == kdu_name), None)
        if kdu is None:
            raise L2smError(f"NS {ns_id} has no KDU {kdu_name!r} in member-vnf-index {member}", status=404)
        joined = {a.network for a in kdu.interfaces}  # none for a KDU on no wired link (e.g. only management)
        return KduNetworks(ns_id, member, kdu_name, [n for n in entry.plan.networks if n.name in joined],
                           networks_annotation(kdu.interfaces), _routes_by_network(kdu))


def _routes_by_network(kdu: KduDeployment) -> dict[str, list[dict]]:
    """The KDU's planned routes keyed by the network of their interface, as CNI routes."""
    network_of = {a.interface: a.network for a in kdu.interfaces}
    routes: dict[str, list[dict]] = {}
    for route in kdu.routes:
        routes.setdefault(network_of[route.interface], []).append({"dst": route.to, "gw": route.via})
    return routes
