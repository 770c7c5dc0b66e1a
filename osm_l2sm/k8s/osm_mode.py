"""OSM mode of the operator: KNF pods deployed by stock OSM are wired from OSM's own records.

OSM's LCM labels every pod of a KDU with ``osm.etsi.org/ns-id``, ``osm.etsi.org/vnf-id`` and
``osm.etsi.org/kdu-name``. For such a pod the admission webhook (path ``/l2sm-osm-pods``) reads the NS from OSM's NBI
(read-only, cached per NS: :class:`osm_l2sm.osm.records.NsPlans`), makes the NS's networks as L2Networks in the
pod's namespace when missing (named after the NS instance, so two instances never share one), and gives the pod the
``l2sm`` label, the ``l2sm/networks`` annotation of its KDU and its planned routes as ``l2sm/routes``; the ordinary
wiring then adds the Multus entries and addresses, with the routes as the entries' ``cni-args`` (the CNI plugin adds
them in the pod: the KNF charts get no values in this mode), at admission or later for a pod that waits. A timer
removes an NS's networks once no pod of the NS is left in the namespace and NBI no longer knows the NS.

A pod whose chart already gives it ``l2sm/networks`` (an NS made by ``osm-l2sm ns-create``, whose values carry the
plan) is left to those networks. It never stops OSM: a pod whose NS needs no L2S-M network for its KDU, whose
descriptors cannot be planned, or that NBI does not know is admitted unchanged with a Warning event saying why. The
one refusal left is for a pod of an NS that needs networks while NBI cannot be reached, for at most
``refuse_seconds`` from the NS's first refusal; then its pods are admitted unwired, with a Warning event. What it
did with each NS goes to the status ConfigMap (:mod:`.osm_status`).

Configured by :class:`~osm_l2sm.k8s.operator_config.OsmConfig` (read from the environment where the operator
starts, :func:`~osm_l2sm.k8s.operator_config.osm_config_from_env`).
"""
from __future__ import annotations

import copy
import datetime
import functools
import hashlib
import json
import logging
from types import MappingProxyType

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm.errors import L2smError
from osm_l2sm.osm.records import KDU_NAME_LABEL, NS_ID_LABEL, VNF_ID_LABEL, NsNotPlanned, NsPlans

from .l2network import create_l2network, l2network
from .operator_config import OsmConfig
from .osm_status import NsStatus, now_text, parse_time
from .resources import (GROUP, L2NETWORK_PLURAL, NETWORKS_ANNOTATION, POD_LABEL, POD_LABEL_VALUE, ROUTES_ANNOTATION,
                        VERSION)

log = logging.getLogger(__name__)

PATH = "l2sm-osm-pods"  # the webhook path kopf serves the handler on
OSM_POD_LABELS = MappingProxyType({NS_ID_LABEL: kopf.PRESENT, VNF_ID_LABEL: kopf.PRESENT,
                                   KDU_NAME_LABEL: kopf.PRESENT})

# the Warning events' reasons (stable: an administrator filters on them), and the action each stands for
NO_NETWORKS = "OsmNoNetworksNeeded"  # admitted unchanged: the NS's plan gives the KDU no L2S-M network
NOT_PLANNED = "OsmNsNotPlanned"  # admitted unchanged: osm-l2sm cannot plan the NS's descriptors
UNKNOWN = "OsmNsUnknown"  # admitted unchanged: NBI does not know the NS, the VNF record or the KDU
NBI_DOWN = "OsmNbiUnreachable"  # refused: the NS needs networks and NBI cannot be reached (bounded in time)
UNWIRED = "OsmAdmittedUnwired"  # admitted without its networks: refused too long, or networks could not be made


class OsmMode:
    def __init__(self, plans: NsPlans, gc_seconds: float, status: NsStatus, refuse_seconds: float = 120.0):
        self.plans, self.gc_seconds, self.status, self.refuse_seconds = plans, gc_seconds, status, refuse_seconds

    @classmethod
    def from_config(cls, config: OsmConfig, api_of) -> OsmMode:
        """OSM mode as ``config`` says (``api_of()`` gives the operator's API client)."""
        from osm_l2sm.osm.nbi import RestNbi

        nbi = RestNbi(config.nbi_url, config.user, config.password, config.project, verify=config.verify_tls,
                      timeout=config.nbi_timeout)
        return cls(NsPlans(nbi, ttl=config.cache_seconds), config.gc_seconds,
                   NsStatus(api_of, config.status_namespace, config.status_configmap), config.refuse_seconds)


def _event(api, namespace: str, meta: dict, reason: str, message: str) -> None:
    """A Warning event about an OSM pod (not stored yet, or never): on its owner (the ReplicaSet, StatefulSet, ...
    that made it) when it has one, else on the pod's name in its namespace. One event per object and reason,
    counted, as kubelet's are: the pods of one owner do not flood the namespace."""
    owners = meta.get("ownerReferences") or []
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    involved = ({"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"), "name": owner.get("name"),
                 "uid": owner.get("uid"), "namespace": namespace} if owner else
                {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name") or meta.get("generateName", "pod"),
                 "namespace": namespace})
    key = f"{involved['kind']}/{involved['name']}/{involved.get('uid')}/{reason}"
    name = f"l2sm-osm.{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    now = now_text()
    core = client.CoreV1Api(api)
    try:
        try:
            core.create_namespaced_event(namespace, {
                "metadata": {"name": name, "namespace": namespace}, "involvedObject": involved, "reason": reason,
                "message": message[:1000], "type": "Warning", "count": 1, "firstTimestamp": now,
                "lastTimestamp": now, "source": {"component": "l2sm-operator"}})
        except ApiException as err:
            if err.status != 409:
                raise
            count = core.read_namespaced_event(name, namespace).count or 1
            core.patch_namespaced_event(name, namespace, {"count": count + 1, "lastTimestamp": now,
                                                          "message": message[:1000]})
    except ApiException as err:  # the event is a courtesy: the status ConfigMap and the answer carry the facts
        log.warning("could not record event %s: %s", reason, err.reason)


class _Decision:
    """What happened to one pod, for its event, the answer's warning and the NS's status entry."""

    def __init__(self, api, mode: OsmMode, namespace: str, meta: dict, dryrun: bool):
        self.api, self.mode, self.namespace, self.meta, self.dryrun = api, mode, namespace, meta, dryrun
        self.labels = meta.get("labels") or {}
        self.ns_id = self.labels.get(NS_ID_LABEL) or ""

    def kdu(self) -> str:
        """``member/kdu`` (the VNF record id in place of the member while the NS is not known)."""
        known = self.mode.plans.known(self.ns_id)
        vnf = self.labels.get(VNF_ID_LABEL) or "?"
        return f"{known.members.get(vnf, vnf) if known else vnf}/{self.labels.get(KDU_NAME_LABEL) or '?'}"

    def record(self, action: str, reason: str | None, message: str, **fields) -> None:
        if self.dryrun:
            return
        known = self.mode.plans.known(self.ns_id)
        self.mode.status.record(self.ns_id, {
            "namespace": self.namespace, "name": known.name if known else None, "nsd": known.nsd if known else None,
            "action": action, "reason": reason, "message": message, "kdus": {self.kdu(): action}, **fields})
        if reason:
            _event(self.api, self.namespace, self.meta, reason, message)

    def admit_unchanged(self, action: str, reason: str, message: str, warnings: list) -> None:
        """Admit the pod as OSM made it, saying why."""
        log.info("%s: %s", reason, message)
        warnings.append(message)
        self.record(action, reason, message)

    def nbi_down(self, err: L2smError, warnings: list) -> None:
        """Refuse a pod of an NS that needs networks while NBI cannot be reached, until ``refuse_seconds`` after the
        NS's first refusal; admit the others, and those past the bound, unwired."""
        known = self.mode.plans.known(self.ns_id)
        needs = bool(known and known.plan and known.plan.networks) or _ns_networks_exist(self.api, self.namespace,
                                                                                         self.ns_id)
        if not needs:
            return self.admit_unchanged("unwired", UNWIRED, f"osm-l2sm admitted this OSM KDU pod unchanged: {err}, "
                                        f"and nothing says NS {self.ns_id} needs L2S-M networks", warnings)
        since = (self.mode.status.get(self.ns_id) or {}).get("refusingSince") or now_text()
        until = parse_time(since) + datetime.timedelta(seconds=self.mode.refuse_seconds)
        if parse_time(now_text()) >= until:
            return self.admit_unchanged("unwired", UNWIRED, f"osm-l2sm admitted this OSM KDU pod without its L2S-M "
                                        f"networks: {err}, and pods of NS {self.ns_id} have been refused since "
                                        f"{since} (the bound is {self.mode.refuse_seconds:g} s); recreate the pod "
                                        "once NBI answers", warnings)
        message = (f"osm-l2sm cannot wire this OSM KDU pod yet: {err}; NS {self.ns_id} needs L2S-M networks, so "
                   f"its pods are refused until {until.isoformat(timespec='seconds')}, then admitted unwired")
        self.record("refused", NBI_DOWN, message, refusingSince=since)
        raise kopf.AdmissionError(message, code=503)


def _ns_networks_exist(api, namespace: str, ns_id: str) -> bool:
    """Whether L2Networks of the NS are in the namespace (made for its earlier pods): then it needs networks."""
    try:
        found = client.CustomObjectsApi(api).list_namespaced_custom_object(
            GROUP, VERSION, namespace, L2NETWORK_PLURAL, label_selector=f"{NS_ID_LABEL}={ns_id}")
    except ApiException as err:
        log.warning("cannot list the L2Networks of NS %s: %s", ns_id, err.reason)
        return False
    return bool(found.get("items"))


def admission(mode: OsmMode, api, pod_admission, body, patch: kopf.Patch, namespace: str | None, warnings: list,
              dryrun: bool = False) -> None:
    """Give an OSM-labelled pod its KDU's networks, then let the ordinary admission wire it; or admit it unchanged
    (or refuse it, for a bounded time) as the module says."""
    meta = body["metadata"]
    namespace = namespace or meta.get("namespace") or "default"
    decision = _Decision(api, mode, namespace, meta, dryrun)
    try:
        _admit(mode, api, pod_admission, body, patch, namespace, warnings, dryrun, decision)
    except kopf.AdmissionError:
        raise
    except Exception as err:  # noqa: BLE001  a failure of osm-l2sm itself must not stop OSM either
        log.exception("OSM-mode admission of a pod of NS %s failed", decision.ns_id)
        patch.clear()
        decision.admit_unchanged("unwired", UNWIRED, f"osm-l2sm admitted this OSM KDU pod unchanged: it failed "
                                 f"({err.__class__.__name__}: {err})", warnings)


def _admit(mode: OsmMode, api, pod_admission, body, patch: kopf.Patch, namespace: str, warnings: list, dryrun: bool,
           decision: _Decision) -> None:
    meta = body["metadata"]
    if (meta.get("annotations") or {}).get(NETWORKS_ANNOTATION):
        # its chart's values name its networks (``osm-l2sm ns-create`` made them and planned the KDU): the ordinary
        # admission wires it to those, and OSM mode makes none of its own (nor a status entry: nothing to collect)
        log.info("a pod of NS %s names its own networks (l2sm/networks): left to them", decision.ns_id)
        return None
    try:
        kdu = mode.plans.kdu_networks(meta.get("labels") or {})
    except NsNotPlanned as err:
        return decision.admit_unchanged("unchanged", NOT_PLANNED, f"{err}; admitted unchanged", warnings)
    except L2smError as err:
        if err.status in (400, 404):
            return decision.admit_unchanged("unchanged", UNKNOWN, f"osm-l2sm admitted this OSM KDU pod unchanged: "
                                            f"{err}", warnings)
        return decision.nbi_down(err, warnings)
    if not kdu.networks:
        return decision.admit_unchanged("unchanged", NO_NETWORKS, _no_networks(mode, kdu), warnings)
    try:
        if not dryrun:
            for network in kdu.networks:
                _ensure_network(api, namespace, network, kdu.ns_id)
    except L2smError as err:
        return decision.admit_unchanged("unwired", UNWIRED, f"osm-l2sm admitted this OSM KDU pod without its L2S-M "
                                        f"networks: {err}", warnings)
    wired = copy.deepcopy(dict(body))
    wired["metadata"].setdefault("labels", {})[POD_LABEL] = POD_LABEL_VALUE
    wired["metadata"].setdefault("annotations", {})[NETWORKS_ANNOTATION] = kdu.annotation
    patch.setdefault("metadata", {}).setdefault("labels", {})[POD_LABEL] = POD_LABEL_VALUE
    patch["metadata"].setdefault("annotations", {})[NETWORKS_ANNOTATION] = kdu.annotation
    if kdu.routes:  # on the pod, so a wiring after admission (a pod that waits for an address) has them too
        routes = json.dumps(kdu.routes, separators=(",", ":"))
        wired["metadata"]["annotations"][ROUTES_ANNOTATION] = routes
        patch["metadata"]["annotations"][ROUTES_ANNOTATION] = routes
    pod_admission(body=wired, patch=patch, namespace=namespace, warnings=warnings, dryrun=dryrun)
    names = [n.name for n in kdu.networks]
    decision.record("wired", None, f"KDU {decision.kdu()} wired to {', '.join(names)}", refusingSince=None,
                    networks=names)


def _no_networks(mode: OsmMode, kdu) -> str:
    known = mode.plans.known(kdu.ns_id)
    why = ("its virtual links are management networks (the cluster's pod network) or join no two KNFs"
           if not (known and known.plan and known.plan.networks) else
           f"KDU {kdu.kdu} of member {kdu.member_vnf_index} joins none of its networks")
    return f"osm-l2sm admitted this OSM KDU pod unchanged: NS {kdu.ns_id} needs no L2S-M network for it ({why})"


def _ensure_network(api, namespace: str, network, ns_id: str) -> None:
    """The NS's L2Network in the pod's namespace, labelled with the NS id (the collector finds it by that)."""
    try:
        create_l2network(api, l2network(network, namespace, labels={NS_ID_LABEL: ns_id}))
    except ApiException as err:  # none when it exists: the NS's other pods made it already
        raise L2smError(f"cannot create L2Network {namespace}/{network.name}: {err.status} {err.reason}",
                        status=503) from None


def collect(mode: OsmMode, api, name: str, namespace: str, labels: dict) -> bool:
    """Remove an NS's network once no pod of the NS is left here and NBI no longer knows the NS; True if removed."""
    ns_id = labels.get(NS_ID_LABEL)
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"{NS_ID_LABEL}={ns_id}").items
    if pods:
        return False
    try:
        mode.plans.entry(ns_id, refresh=True)  # NBI must answer; the plan read last stays for admissions meanwhile
    except L2smError as err:
        if err.status != 404:
            return False  # NBI unreachable: nothing is removed on a guess
    else:
        return False
    mode.plans.forget(ns_id)
    try:
        client.CustomObjectsApi(api).delete_namespaced_custom_object(GROUP, VERSION, namespace, L2NETWORK_PLURAL,
                                                                     name)
    except ApiException as err:
        if err.status != 404:
            raise
    log.info("removed network %s/%s of NS %s: no pod left and OSM no longer knows the NS", namespace, name, ns_id)
    mode.status.remove(ns_id)
    return True


def register(registry: kopf.OperatorRegistry, mode: OsmMode, api_of, pod_admission, l2networks: tuple,
             pods: tuple) -> None:
    """Register the OSM-mode handlers in ``registry`` (``api_of()`` gives the operator's API client;
    ``pod_admission`` is the ordinary admission, given kopf's ``l2sm_pods`` index as its handlers are)."""

    def osm_pod_admission(body, patch: kopf.Patch, namespace: str | None, warnings: list, l2sm_pods,
                          dryrun: bool = False, **_) -> None:
        admission(mode, api_of(), functools.partial(pod_admission, l2sm_pods=l2sm_pods), body, patch, namespace,
                  warnings, dryrun)

    kopf.on.mutate(*pods, labels=OSM_POD_LABELS, operation="CREATE", id=PATH, registry=registry)(osm_pod_admission)

    @kopf.timer(*l2networks, interval=mode.gc_seconds, labels={NS_ID_LABEL: kopf.PRESENT}, registry=registry)
    def osm_network_collect(name: str, namespace: str, labels, **_) -> None:
        collect(mode, api_of(), name, namespace, dict(labels))
