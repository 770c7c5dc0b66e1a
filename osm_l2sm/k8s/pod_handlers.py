"""The operator's pod handlers: a labelled pod's ``l2sm/networks`` becomes its Multus entries and addresses
(claimed in the L2Networks' status), at admission (the webhook) and when the pod is stored or changed; its
addresses are released when it goes.

A mixin of :class:`~osm_l2sm.k8s.operator.Operator`, which gives it ``api()``, ``reservations`` and one lock per
namespace. kopf hands every handler its indexes: ``l2sm_pods`` (namespace -> labelled pods) and ``l2sm_networks``
(namespace -> L2Network names).
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping

import kopf
from kubernetes.client.exceptions import ApiException

from . import cluster
from .nad import ensure_nad
from .network_handlers import RETRY_SECONDS, indexed_pods
from .resources import ERROR_ANNOTATION, MULTUS_ANNOTATION
from .wiring import (NetworkInfo, PodWiring, WiringError, addresses_held_by_pods, multus_entries, pod_requests,
                     pod_routes, wire_pod)

CLAIM_ATTEMPTS = 8  # optimistic-concurrency retries when another writer changed an L2Network meanwhile
# errors a pod waits out, wired as soon as they are gone: a network made later, an address freed, and its planned
# address held by another pod (the pod a rolling update replaces: the new one is wired once the old one is gone)
WAITING = ("UnknownNetwork", "AddressesExhausted", "AddressInUse")


class PodHandlers:
    def _holders(self, namespace: str, network: dict, pods: list[dict], pod: str) -> dict[str, str]:
        """Who holds which address of ``network``: claims, stored pods, and what the webhook gave pods not stored
        yet."""
        holders = cluster.address_holders(network, pods, pod)
        name = network["metadata"]["name"]
        for ip, owner in self.reservations.holders(namespace, name, addresses_held_by_pods(pods, name)).items():
            holders.setdefault(ip, owner)
        return holders

    def compute_wiring(self, namespace: str, pod: dict, pods: list[dict],
                       name: str | None = None) -> tuple[PodWiring, dict[str, dict]]:
        """The pod's wiring from what the API holds now, and the L2Networks it involves (by name)."""
        name = name or pod["metadata"].get("name") or pod["metadata"].get("generateName", "")
        requests = pod_requests(pod)
        current = multus_entries((pod["metadata"].get("annotations") or {}).get(MULTUS_ANNOTATION))
        involved = {r.name for r in requests} | {e["name"] for e in current}
        networks = {n: body for n in sorted(involved) if (body := cluster.get_network(self.api(), namespace, n))}
        infos = {n: NetworkInfo.from_resource(body, self._holders(namespace, body, pods, name))
                 for n, body in networks.items()}
        return wire_pod(name, namespace, requests, infos, current, pod_routes(pod)), networks

    def _claim(self, namespace: str, pod: str, wiring: PodWiring, networks: dict[str, dict]) -> bool:
        """Record the pod's addresses in each involved L2Network's status; False when one changed meanwhile."""
        for net, body in networks.items():
            claims = (body.get("status") or {}).get("assignedIPs") or {}
            mine = {ip.split("/")[0] for ip in wiring.addresses.get(net, [])}
            key = f"{namespace}/{pod}"
            change: dict = {ip: None for ip, owner in claims.items()
                            if cluster.claim_owner(owner) == pod and ip not in mine}
            added = sorted(ip for ip in mine if claims.get(ip) != key)
            change.update({ip: key for ip in added})
            if not change:
                continue
            status: dict = {"assignedIPs": change}
            if added:
                status["lastAssignedIP"] = added[-1]
            try:
                cluster.patch_network_status(self.api(), namespace, net, status, body["metadata"]["resourceVersion"])
            except ApiException as err:
                if err.status == 409:
                    return False
                raise
        return True

    def wire(self, namespace: str, name: str, l2sm_pods: Mapping) -> PodWiring | None:
        """Bring pod ``name``'s Multus annotation, addresses and NADs in line with its ``l2sm/networks``."""
        with self._namespace_lock(namespace):
            for _attempt in range(CLAIM_ATTEMPTS):
                pod = cluster.get_pod(self.api(), namespace, name)
                if pod is None or pod["metadata"].get("deletionTimestamp"):
                    return None
                wiring, networks = self.compute_wiring(namespace, pod, indexed_pods(l2sm_pods, namespace))
                if self._claim(namespace, name, wiring, networks):
                    break
            else:
                raise kopf.TemporaryError("L2Networks kept changing while claiming addresses", delay=1)
            annotations = pod["metadata"].get("annotations") or {}
            wanted = wiring.annotations()
            if any(annotations.get(k) != v for k, v in wanted.items()):
                cluster.patch_pod_annotations(self.api(), namespace, name, wanted)
            for net in wiring.addresses:
                ensure_nad(self.api(), net, namespace)
            wired = {"metadata": dict(pod["metadata"], annotations={**annotations, **wanted})}
            for net in networks:
                cluster.patch_network_status(self.api(), namespace, net,
                                             self.network_status(namespace, net, l2sm_pods, wired))
        return wiring

    def pod_recount(self, namespace: str, old, new, l2sm_pods: Mapping, l2sm_networks: Mapping, **_) -> None:
        """A pod's Multus annotation changed (kopf's index holds the change now): recount the networks it names.
        Each such change is counted after it is indexed, so the last count of a network sees every pod."""
        involved = {e["name"] for value in (old, new) for e in multus_entries(value)}
        with self._namespace_lock(namespace):
            for net in sorted(involved & set(l2sm_networks.get(namespace, ()))):
                cluster.patch_network_status(self.api(), namespace, net,
                                             self.network_status(namespace, net, l2sm_pods))

    def report(self, body, err: WiringError, first_try: bool) -> None:
        """``l2sm/error`` on the pod and a Warning event, once per distinct error (the webhook may have written the
        annotation already; the event is still due on the handler's first try)."""
        meta = body["metadata"]
        if (meta.get("annotations") or {}).get(ERROR_ANNOTATION) == str(err):
            if not first_try:
                return
        else:
            cluster.patch_pod_annotations(self.api(), meta["namespace"], meta["name"], {ERROR_ANNOTATION: str(err)})
        kopf.warn(body, reason=err.reason, message=str(err))

    def pod_wire(self, body, name: str, namespace: str, logger, l2sm_pods: Mapping, retry: int = 0, **_) -> None:
        try:
            wiring = self.wire(namespace, name, l2sm_pods)
        except WiringError as err:
            self.report(body, err, first_try=retry == 0)
            if err.reason in WAITING:  # may be fixed without touching the pod
                raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None
            raise kopf.PermanentError(str(err)) from None
        if wiring is not None:
            logger.info("wired to %s", ", ".join(f"{e['name']}={','.join(e.get('ips', [])) or 'L2'}"
                                                 for e in wiring.entries))

    def pod_release(self, name: str, namespace: str, l2sm_pods: Mapping, l2sm_networks: Mapping, **_) -> None:
        """Release the pod's addresses and recount every network of its namespace."""
        with self._namespace_lock(namespace):
            for net in sorted(set(l2sm_networks.get(namespace, ()))):
                network = cluster.get_network(self.api(), namespace, net)
                if network is None:
                    continue
                claims = (network.get("status") or {}).get("assignedIPs") or {}
                status = self.network_status(namespace, net, l2sm_pods)
                status.setdefault("assignedIPs", {}).update(
                    {ip: None for ip, owner in claims.items() if cluster.claim_owner(owner) == name})
                if not status["assignedIPs"]:
                    del status["assignedIPs"]
                cluster.patch_network_status(self.api(), namespace, net, status)

    def pod_gone(self, type: str, namespace: str, logger, l2sm_pods: Mapping, **_) -> None:
        """A labelled pod is gone from the API (its sandbox, and so its interfaces, torn down): wire at once the pods
        of its namespace that wait for an address it held, rather than at their next retry."""
        if type != "DELETED":
            return
        for pod in indexed_pods(l2sm_pods, namespace):  # kopf's index no longer holds the pod that went
            meta = pod["metadata"]
            if meta.get("deletionTimestamp") or not (meta.get("annotations") or {}).get(ERROR_ANNOTATION):
                continue
            try:
                wiring = self.wire(namespace, meta["name"], l2sm_pods)
            except WiringError:  # still waiting: its own handler retries and reports
                continue
            if wiring is not None:
                logger.info("pod %s waited for an address of this pod and is wired now", meta["name"])

    def pod_admission(self, body, patch: kopf.Patch, namespace: str | None, warnings: list, l2sm_pods: Mapping,
                      dryrun: bool = False, **_) -> None:
        """Production path: the Multus annotation is in the pod the API server stores (the handlers then claim it).

        It never refuses a pod: a wiring error goes on the pod as ``l2sm/error`` (and the handlers add the event).
        Admissions are serialised per namespace and each remembers what it gave until the pod is stored, so pods
        admitted at the same moment get different addresses.
        """
        meta = body["metadata"]
        namespace = namespace or meta.get("namespace") or "default"
        # a pod made from generateName has no name yet: give it a unique one so two of them never look like one pod
        name = meta.get("name") or f"{meta.get('generateName', '')}?{uuid.uuid4().hex[:12]}"
        annotations = patch.setdefault("metadata", {}).setdefault("annotations", {})
        with self._namespace_lock(namespace):
            try:
                wiring, _ = self.compute_wiring(namespace, {"metadata": dict(meta)},
                                                indexed_pods(l2sm_pods, namespace), name)
            except WiringError as err:
                warnings.append(str(err))
                annotations[ERROR_ANNOTATION] = str(err)
                return
            if not dryrun:
                for network, addresses in wiring.addresses.items():
                    self.reservations.reserve(namespace, network, addresses, name)
        annotations.update({k: v for k, v in wiring.annotations().items() if v is not None})
