"""The operator's L2Network handlers: each L2Network becomes a network on the controller (an ext-vnet with its
global tag from the provider), and its status says how that went and which pods are on it.

A mixin of :class:`~osm_l2sm.k8s.operator.Operator`, which gives it ``config``, ``api()`` and ``controller()``. The
pods come from kopf's index ``l2sm_pods`` (namespace -> labelled pods), which kopf hands every handler.
"""
from __future__ import annotations

import datetime
from collections.abc import Mapping

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm.errors import L2smError

from . import cluster
from .network_resync import recorded_id
from .provider import ProviderClient, is_interdomain, provider_url

RETRY_SECONDS = 10  # unknown network or unreachable controller: try again, the user may fix it meanwhile


def indexed_pods(l2sm_pods: Mapping, namespace: str) -> list[dict]:
    """The labelled pods of ``namespace`` in kopf's index, those being deleted included: they hold their addresses
    until the operator has released them."""
    return list(l2sm_pods.get(namespace, ()))


def condition(status: str, reason: str, message: str) -> dict:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "Ready", "status": status, "reason": reason, "message": message, "lastTransitionTime": now}


class NetworkDiffers(L2smError):
    """The controller holds the network with other fields and pods on it: replacing it would detach them."""

    def __init__(self, name: str, fields: dict, ports: int):
        changes = ", ".join(f"{key} {old!r} (wanted {new!r})" for key, (old, new) in fields.items())
        super().__init__(f"network {name} keeps {changes} on the controller while {ports} pod interface(s) use it; "
                         "it changes once they are gone", 409)


class NetworkHandlers:
    def ensure_controller_network(self, name: str, cidr: str | None, tag: int | None = None,
                                  network_id: int | None = None) -> dict:
        """The controller has network ``name`` with ``cidr`` (and inter-domain ``tag``); one made now gets
        ``network_id`` when free (the id it had, for a controller that rebuilds).

        The controller cannot change a network in place: one that differs is replaced only while no port is on it
        (a replaced network would silently detach its pods); otherwise :class:`NetworkDiffers` says what differs.
        """
        ctl = self.controller()
        try:
            return ctl.create_network(name, cidr=cidr, interdomain_tag=tag, network_id=network_id)
        except L2smError as err:
            if getattr(err, "status", None) != 409:
                raise
            conflict = err
        current = ctl.get_network(name)
        wanted = {"cidr": cidr, "description": None, "interdomain tag": tag}
        held = {"cidr": current.get("cidr"), "description": current.get("description"),
                "interdomain tag": (current.get("interdomain") or {}).get("tag")}
        differs = {key: (held[key], wanted[key]) for key in wanted if held[key] != wanted[key]}
        if not differs:  # 409 for another reason (e.g. the tag is another network's): the caller reports it
            raise conflict
        if current.get("ports"):
            raise NetworkDiffers(name, differs, len(current["ports"]))
        ctl.delete_network(name)
        return ctl.create_network(name, cidr=cidr, interdomain_tag=tag)

    def cluster_name(self) -> str:
        """How this cluster is known to the providers: --cluster-name, else a name from kube-system's uid (stable
        for the cluster's life and different between clusters)."""
        if not self.config.cluster_name:
            try:
                uid = client.CoreV1Api(self.api()).read_namespace("kube-system").metadata.uid
            except ApiException as err:
                raise L2smError(f"cannot name this cluster for the provider (reading namespace kube-system: "
                                f"{err.status} {err.reason}); give --cluster-name") from None
            self.config.cluster_name = f"k8s-{uid}"
        return self.config.cluster_name

    def provider(self, spec) -> ProviderClient:
        return ProviderClient(provider_url(dict(spec.get("provider") or {}), self.config.provider_urls),
                              self.cluster_name(), self.config.provider_token)

    def interdomain_tag(self, namespace: str, name: str, spec) -> int:
        """The global tag of an ext-vnet from its provider; an unknown or unreachable provider is reported and
        retried (the operator's options or the spec may be fixed meanwhile)."""
        reason = "ProviderUnknown"
        try:
            client_ = self.provider(spec)
            reason = "ProviderUnavailable"
            return client_.acquire(name, spec.get("networkCIDR") or None)
        except L2smError as err:
            cluster.patch_network_status(self.api(), namespace, name, {
                "providerConnectivity": "Unavailable",
                "conditions": [condition("False", reason, f"provider: {err}")]})
            raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None

    def network_status(self, namespace: str, name: str, l2sm_pods: Mapping, wired: dict | None = None) -> dict:
        """connectedPodCount from the pods attached now (not being deleted; ``wired``, a pod just wired, as it is
        now); assignedIPs of pods that are gone dropped.

        The network is read before the pods index: a claim it holds was made after its pod was indexed.
        """
        network = cluster.get_network(self.api(), namespace, name) or {}
        pods = indexed_pods(l2sm_pods, namespace)
        if wired is not None:
            pods = [p for p in pods if p["metadata"]["name"] != wired["metadata"]["name"]] + [wired]
        live = {p["metadata"]["name"] for p in pods}
        claims = (network.get("status") or {}).get("assignedIPs") or {}
        stale = {ip: None for ip, owner in claims.items() if cluster.claim_owner(owner) not in live}
        attached = cluster.pods_on([p for p in pods if not p["metadata"].get("deletionTimestamp")], name)
        status: dict = {"connectedPodCount": len(attached)}
        if stale:
            status["assignedIPs"] = stale
        return status

    def network_ensure(self, name: str, namespace: str, spec, l2sm_pods: Mapping, status=None, **_) -> None:
        cidr = spec.get("networkCIDR") or None
        # an ext-vnet exists on the controller only with its global tag: created without it, it would have to be
        # replaced later, detaching the pods already on it
        tag = self.interdomain_tag(namespace, name, spec) if is_interdomain(spec) else None
        try:
            created = self.ensure_controller_network(name, cidr, tag, recorded_id({"status": status}))
        except NetworkDiffers as err:  # the network works as it is; the change waits for its pods to go
            cluster.patch_network_status(self.api(), namespace, name, {
                "conditions": [condition("False", "ChangePending", str(err))]})
            raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None
        except L2smError as err:
            cluster.patch_network_status(self.api(), namespace, name, {
                "internalConnectivity": "Unavailable",
                "conditions": [condition("False", "ControllerUnavailable", str(err))]})
            raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None
        status = self.network_status(namespace, name, l2sm_pods)
        status.update({"internalConnectivity": "Available", "l2sm": {"networkId": created.get("id")},
                       "conditions": [condition("True", "NetworkReady", f"network {name} exists on the controller")]})
        if tag is not None:
            status["providerConnectivity"] = "Available"
            status["l2sm"]["interdomainTag"] = tag
        cluster.patch_network_status(self.api(), namespace, name, status)

    def network_remove(self, name: str, spec, **_) -> None:
        try:
            self.controller().delete_network(name)
        except L2smError as err:
            if getattr(err, "status", None) != 404:
                raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None
        if is_interdomain(spec):  # the finalizer holds the L2Network until the provider knows
            try:
                self.provider(spec).release(name)
            except L2smError as err:
                raise kopf.TemporaryError(f"provider: {err}", delay=RETRY_SECONDS) from None
