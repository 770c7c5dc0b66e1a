"""OSM mode of the operator: KNF pods deployed by stock OSM are wired from OSM's own records.

OSM's LCM labels every pod of a KDU with ``osm.etsi.org/ns-id``, ``osm.etsi.org/vnf-id`` and
``osm.etsi.org/kdu-name``. For such a pod the admission webhook (path ``/l2sm-osm-pods``) reads the NS from OSM's NBI
(read-only, cached per NS: :class:`osm_l2sm.osm.records.NsPlans`), makes the NS's networks as L2Networks in the
pod's namespace when missing (named after the NS instance, so two instances never share one), and gives the pod the
``l2sm`` label and the ``l2sm/networks`` annotation of its KDU; the ordinary admission then adds the Multus entries
and addresses, and the plan's routes of the KDU go into those entries as ``cni-args`` (the CNI plugin adds them in
the pod: the KNF charts get no values in this mode). When NBI cannot be reached or does not know the NS, the pod is
refused (its controller retries) and a Warning event says why. A timer removes an NS's networks once no pod of the NS
is left in the namespace and NBI no longer knows the NS.

Configured from the environment (the l2sm chart fills it from its values and a Secret): ``OSM_L2SM_OSM_NBI`` (NBI
URL; OSM mode is off without it), ``OSM_USER``, ``OSM_PASSWORD``, ``OSM_PROJECT``, ``OSM_L2SM_OSM_INSECURE=1``,
``OSM_L2SM_OSM_CACHE_SECONDS`` (default 30), ``OSM_L2SM_OSM_GC_SECONDS`` (default 60).
"""
from __future__ import annotations

import copy
import datetime
import json
import logging
import os
from types import MappingProxyType

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm.errors import L2smError
from osm_l2sm.osm.records import KDU_NAME_LABEL, NS_ID_LABEL, VNF_ID_LABEL, NsPlans

from .resources import (GROUP, L2NETWORK_KIND, L2NETWORK_PLURAL, MULTUS_ANNOTATION, NETWORKS_ANNOTATION, POD_LABEL,
                        POD_LABEL_VALUE, VERSION)
from .target import MANAGED_BY, network_spec

log = logging.getLogger(__name__)

PATH = "l2sm-osm-pods"  # the webhook path kopf serves the handler on
OSM_POD_LABELS = MappingProxyType({NS_ID_LABEL: kopf.PRESENT, VNF_ID_LABEL: kopf.PRESENT,
                                   KDU_NAME_LABEL: kopf.PRESENT})


class OsmMode:
    def __init__(self, plans: NsPlans, gc_seconds: float):
        self.plans, self.gc_seconds = plans, gc_seconds


def from_env() -> OsmMode | None:
    """The OSM mode configured by the environment, or None when ``OSM_L2SM_OSM_NBI`` is not set."""
    url = os.environ.get("OSM_L2SM_OSM_NBI")
    if not url:
        return None
    from osm_l2sm.osm.nbi import RestNbi

    nbi = RestNbi(url, os.environ.get("OSM_USER", "admin"), os.environ.get("OSM_PASSWORD", "admin"),
                  os.environ.get("OSM_PROJECT", "admin"), verify=os.environ.get("OSM_L2SM_OSM_INSECURE") != "1",
                  timeout=5.0)
    return OsmMode(NsPlans(nbi, ttl=float(os.environ.get("OSM_L2SM_OSM_CACHE_SECONDS", "30"))),
                   float(os.environ.get("OSM_L2SM_OSM_GC_SECONDS", "60")))


def _event(api, namespace: str, meta: dict, reason: str, message: str) -> None:
    """A Warning event about a pod that was refused (so never stored): on its owner (e.g. the ReplicaSet that
    retries) when it has one, else on the pod's name."""
    owner = next(iter(meta.get("ownerReferences") or []), None)
    involved = ({"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"), "name": owner.get("name"),
                 "uid": owner.get("uid"), "namespace": namespace} if owner else
                {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name") or meta.get("generateName", "pod"),
                 "namespace": namespace})
    now = datetime.datetime.now(datetime.timezone.utc)
    body = {"metadata": {"generateName": "l2sm-osm-", "namespace": namespace}, "involvedObject": involved,
            "reason": reason, "message": message[:1000], "type": "Warning", "count": 1,
            "firstTimestamp": now.isoformat(), "lastTimestamp": now.isoformat(),
            "source": {"component": "l2sm-operator"}}
    try:
        client.CoreV1Api(api).create_namespaced_event(namespace, body)
    except ApiException as err:  # the refusal itself carries the message; the event is a courtesy
        log.warning("could not record event %s: %s", reason, err.reason)


def admission(mode: OsmMode, api, pod_admission, body, patch: kopf.Patch, namespace: str | None, warnings: list,
              dryrun: bool = False) -> None:
    """Give an OSM-labelled pod its KDU's networks, then let the ordinary admission wire it."""
    meta = body["metadata"]
    namespace = namespace or meta.get("namespace") or "default"
    try:
        kdu = mode.plans.kdu_networks(meta.get("labels") or {})
        if not dryrun:
            for network in kdu.networks:
                _ensure_network(api, namespace, network, kdu.ns_id)
    except L2smError as err:
        message = f"osm-l2sm cannot wire this OSM KDU pod yet: {err}"
        _event(api, namespace, meta, "OsmNetworksUnavailable", message)
        raise kopf.AdmissionError(message, code=503 if err.status in (None, 502, 503, 504) else 403) from None
    wired = copy.deepcopy(dict(body))
    wired["metadata"].setdefault("labels", {})[POD_LABEL] = POD_LABEL_VALUE
    wired["metadata"].setdefault("annotations", {})[NETWORKS_ANNOTATION] = kdu.annotation
    patch.setdefault("metadata", {}).setdefault("labels", {})[POD_LABEL] = POD_LABEL_VALUE
    patch["metadata"].setdefault("annotations", {})[NETWORKS_ANNOTATION] = kdu.annotation
    pod_admission(body=wired, patch=patch, namespace=namespace, warnings=warnings, dryrun=dryrun)
    _route_args(patch, kdu.routes)


def _route_args(patch: kopf.Patch, routes: dict[str, list[dict]]) -> None:
    """The KDU's planned routes as ``cni-args`` of its Multus entries (Multus hands them to the CNI plugin as
    ``args.cni.routes``, and the plugin adds them in the pod)."""
    annotations = patch.get("metadata", {}).get("annotations", {})
    if not routes or not annotations.get(MULTUS_ANNOTATION):
        return
    entries = json.loads(annotations[MULTUS_ANNOTATION])
    for entry in entries:
        if routes.get(entry.get("name")):
            entry.setdefault("cni-args", {})["routes"] = routes[entry["name"]]
    annotations[MULTUS_ANNOTATION] = json.dumps(entries, separators=(",", ":"))  # as the operator writes it


def _ensure_network(api, namespace: str, network, ns_id: str) -> None:
    """The NS's L2Network in the pod's namespace, labelled with the NS id (the collector finds it by that)."""
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": L2NETWORK_KIND,
            "metadata": {"name": network.name, "labels": {**MANAGED_BY, NS_ID_LABEL: ns_id}},
            "spec": network_spec(network)}
    try:
        client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, namespace, L2NETWORK_PLURAL,
                                                                     body)
    except ApiException as err:
        if err.status != 409:  # 409: the NS's other pods made it already
            raise L2smError(f"cannot create L2Network {namespace}/{network.name}: {err.status} {err.reason}",
                            status=503) from None


def collect(mode: OsmMode, api, name: str, namespace: str, labels: dict) -> bool:
    """Remove an NS's network once no pod of the NS is left here and NBI no longer knows the NS; True if removed."""
    ns_id = labels.get(NS_ID_LABEL)
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"{NS_ID_LABEL}={ns_id}").items
    if pods:
        return False
    mode.plans.forget(ns_id)
    try:
        mode.plans.plan(ns_id)
    except L2smError as err:
        if err.status != 404:
            return False  # NBI unreachable: nothing is removed on a guess
    else:
        return False
    try:
        client.CustomObjectsApi(api).delete_namespaced_custom_object(GROUP, VERSION, namespace, L2NETWORK_PLURAL,
                                                                     name)
    except ApiException as err:
        if err.status != 404:
            raise
    log.info("removed network %s/%s of NS %s: no pod left and OSM no longer knows the NS", namespace, name, ns_id)
    return True


def register(mode: OsmMode, api_of, pod_admission, l2networks: tuple, pods: tuple) -> None:
    """Register the OSM-mode handlers with kopf (``api_of()`` gives the operator's API client)."""

    def osm_pod_admission(body, patch: kopf.Patch, namespace: str | None, warnings: list, dryrun: bool = False,
                          **_) -> None:
        admission(mode, api_of(), pod_admission, body, patch, namespace, warnings, dryrun)

    kopf.on.mutate(*pods, labels=OSM_POD_LABELS, operation="CREATE", id=PATH)(osm_pod_admission)

    @kopf.timer(*l2networks, interval=mode.gc_seconds, labels={NS_ID_LABEL: kopf.PRESENT})
    def osm_network_collect(name: str, namespace: str, labels, **_) -> None:
        collect(mode, api_of(), name, namespace, dict(labels))
