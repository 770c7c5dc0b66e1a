"""What a pod's networks become: Multus entries (net1, net2, ...) with addresses, as a pure function.

The admission webhook and the pod handlers both call :func:`wire_pod`, so the logic is the same whether the Multus
annotation is written before the pod starts (webhook) or after (handler).
"""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from osm_l2sm.controller.addresses import check_ips, parse_ips
from osm_l2sm.errors import L2smError
from osm_l2sm.model.addresses import bare

from . import ipam
from .annotations import NetworkRequest, parse_networks_annotation
from .resources import ERROR_ANNOTATION, MULTUS_ANNOTATION, NETWORKS_ANNOTATION, ROUTES_ANNOTATION


class WiringError(L2smError):
    """A pod's networks cannot be wired; ``reason`` becomes the Warning event's reason."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class NetworkInfo:
    """What wiring needs to know of one L2Network: its ranges and who holds which address (bare ip -> pod)."""

    name: str
    cidr: str | None = None
    pod_range: str | None = None
    holders: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_resource(cls, body: dict, holders: dict[str, str]) -> "NetworkInfo":
        spec = body.get("spec") or {}
        return cls(body["metadata"]["name"], spec.get("networkCIDR") or None, spec.get("podAddressRange") or None,
                   holders)


@dataclass
class PodWiring:
    entries: list[dict]
    addresses: dict[str, list[str]]  # network -> this pod's addresses ("IP/PREFIX")

    def annotations(self) -> dict:
        """The pod annotations to write (None removes a stale ``l2sm/error``)."""
        return {MULTUS_ANNOTATION: json.dumps(self.entries, separators=(",", ":")), ERROR_ANNOTATION: None}


def multus_entries(text: str | None) -> list[dict]:
    """The entries of a Multus ``k8s.v1.cni.cncf.io/networks`` annotation; [] when absent or not a JSON list."""
    try:
        items = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    return [i for i in items if isinstance(i, dict) and "name" in i] if isinstance(items, list) else []


def pod_requests(pod: dict) -> list[NetworkRequest]:
    """The pod's parsed ``l2sm/networks``; WiringError(reason InvalidAnnotation) on a malformed one."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(NETWORKS_ANNOTATION)
    try:
        return parse_networks_annotation(text)
    except L2smError as err:
        raise WiringError(str(err), "InvalidAnnotation") from None


def pod_addresses(pods: Iterable[dict], network: str) -> tuple[dict[str, str], dict[str, str]]:
    """What pods have on ``network`` (their Multus entries) and what they ask for explicitly (their
    ``l2sm/networks``), each as bare ip -> pod name."""
    held: dict[str, str] = {}
    requested: dict[str, str] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        for entry in multus_entries(annotations.get(MULTUS_ANNOTATION)):
            if entry.get("name") == network:
                for ip in entry.get("ips") or []:
                    held.setdefault(bare(ip), meta["name"])
        try:
            requests = parse_networks_annotation(annotations.get(NETWORKS_ANNOTATION))
        except L2smError:
            continue
        for req in requests:
            if req.name == network:
                for ip in req.ips:
                    requested.setdefault(bare(ip), meta["name"])
    return held, requested


def addresses_held_by_pods(pods: Iterable[dict], network: str) -> dict[str, str]:
    """bare ip -> pod name for addresses that pods have on ``network`` or ask for explicitly (the pod that has an
    address before one that only asks for it: a pod waiting for an address another one holds)."""
    held, requested = pod_addresses(pods, network)
    return {**requested, **held}


def _addresses_for(pod: str, req: NetworkRequest, net: NetworkInfo, current: list[str]) -> list[str]:
    def free(ip: str) -> bool:
        return net.holders.get(bare(ip), pod) == pod

    if req.ips:
        try:  # the controller's own checks and words (it would refuse the port at the CNI ADD)
            check_ips(parse_ips(list(req.ips)), net.name, net.cidr, pod, {})
        except L2smError as err:
            raise WiringError(str(err), "InvalidAddress") from None
        for ip in req.ips:
            if not free(ip):
                raise WiringError(f"address {bare(ip)} on network {net.name} is already used by pod "
                                  f"{net.holders[bare(ip)]}", "AddressInUse")
        return list(req.ips)
    if current and all(free(ip) for ip in current):
        return list(current)
    plan = ipam.address_plan(net.cidr, net.pod_range)
    mine = sorted(ipaddress.ip_address(ip) for ip, owner in net.holders.items() if owner == pod)
    if plan and mine:  # claimed for this pod before (e.g. a run interrupted before the pod was patched)
        return [f"{mine[0]}/{plan[2]}"]
    try:
        address = ipam.allocate(net.cidr, net.pod_range, net.holders, net.name)
    except L2smError as err:
        raise WiringError(str(err), "AddressesExhausted") from None
    return [address] if address else []


def pod_routes(pod: dict) -> dict[str, list[dict]]:
    """The pod's ``l2sm/routes`` (network -> routes), empty when it has none; WiringError(reason
    InvalidAnnotation) on a malformed one."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(ROUTES_ANNOTATION)
    if not text:
        return {}
    try:
        routes = json.loads(text)
    except ValueError:
        routes = None
    if not isinstance(routes, dict) or not all(isinstance(r, list) for r in routes.values()):
        raise WiringError(f"{ROUTES_ANNOTATION} is not a JSON object of network -> list of routes", "InvalidAnnotation")
    return routes


def wire_pod(pod: str, namespace: str, requests: list[NetworkRequest], networks: dict[str, NetworkInfo],
             current: list[dict] | None = None, routes: dict[str, list[dict]] | None = None) -> PodWiring:
    """Multus entries and addresses for ``pod``'s ``requests``.

    ``networks`` holds the L2Networks that exist in the pod's namespace; ``current`` the pod's present Multus entries,
    whose addresses are kept for networks it stays on (no renumbering on attach/detach), as are their ``cni-args``.
    ``routes`` (the pod's ``l2sm/routes``: OSM mode's planned routes) become the ``cni-args`` of an entry that has
    none, so a pod wired after its admission (one that waited for an address) gets them too. Automatic addresses
    never repeat one held by another pod. Raises
    WiringError (reason UnknownNetwork, InvalidAddress, AddressInUse, AddressesExhausted).
    """
    now = {e["name"]: [str(ip) for ip in e.get("ips") or []] for e in current or []}
    cni_args = {e["name"]: e["cni-args"] for e in current or [] if e.get("cni-args")}
    entries, addresses = [], {}
    for index, req in enumerate(requests, start=1):
        net = networks.get(req.name)
        if net is None:
            raise WiringError(f"network {req.name} does not exist in namespace {namespace}", "UnknownNetwork")
        ips = _addresses_for(pod, req, net, now.get(req.name, []))
        entry = {"name": req.name, "namespace": namespace, "interface": f"net{index}"}
        if ips:
            entry["ips"] = ips
        if req.name in cni_args:
            entry["cni-args"] = cni_args[req.name]
        elif (routes or {}).get(req.name):
            entry["cni-args"] = {"routes": routes[req.name]}
        entries.append(entry)
        addresses[req.name] = ips
    return PodWiring(entries, addresses)
