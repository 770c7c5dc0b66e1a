"""The kopf operator: L2Networks become networks on the controller; labelled pods get Multus entries and addresses.

One handler per event, each idempotent; all state lives in the resources (L2Network status, pod annotations), so a
restarted operator continues exactly where the last one stopped.
"""
from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass

import kopf
from kubernetes.client.exceptions import ApiException

from osm_l2sm.controller.client import ControllerClient
from osm_l2sm.errors import L2smError

from . import cluster
from .nad import ensure_nad, ensure_nad_crd
from .resources import (ERROR_ANNOTATION, FINALIZER, GROUP, L2NETWORK_PLURAL, MULTUS_ANNOTATION, POD_LABEL,
                        POD_LABEL_VALUE, VERSION, api_client)
from .wiring import NetworkInfo, PodWiring, WiringError, multus_entries, pod_requests, wire_pod

log = logging.getLogger(__name__)

RETRY_SECONDS = 10  # unknown network or unreachable controller: try again, the user may fix it meanwhile
CLAIM_ATTEMPTS = 8  # optimistic-concurrency retries when another writer changed an L2Network meanwhile
PODS = ("", "v1", "pods")
L2NETWORKS = (GROUP, VERSION, L2NETWORK_PLURAL)
POD_LABELS = {POD_LABEL: POD_LABEL_VALUE}


@dataclass
class OperatorConfig:
    controller_url: str | None = None
    token: str | None = None
    kubeconfig: str | None = None


CONFIG = OperatorConfig()
_api = None
_api_lock = threading.Lock()
_namespace_locks: dict[str, threading.Lock] = {}


def api():
    global _api
    with _api_lock:
        if _api is None:
            _api = api_client(CONFIG.kubeconfig)
        return _api


def controller() -> ControllerClient:
    if not CONFIG.controller_url:
        raise L2smError("no controller URL configured (--controller or L2SM_CONTROLLER_URL)")
    return ControllerClient(CONFIG.controller_url, CONFIG.token)


def _namespace_lock(namespace: str) -> threading.Lock:
    # One writer per namespace inside this process; resourceVersion checks guard against other processes.
    with _api_lock:
        return _namespace_locks.setdefault(namespace, threading.Lock())


# ------------------------------------------------------------------------------------------------ settings

@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.posting.level = logging.WARNING  # only our warnings become events, not every handler's info line
    settings.watching.server_timeout = 60
    settings.networking.request_timeout = 30
    ensure_nad_crd(api())


@kopf.on.login()
def login(**_) -> kopf.ConnectionInfo:
    """kopf connects exactly as the handlers' client does (the --kubeconfig file or the in-cluster account)."""
    cfg = api().configuration
    # the kubernetes client keeps the token as "Bearer ..." under a key whose name changed between its versions
    bearer = [v for v in (cfg.api_key or {}).values() if str(v).startswith("Bearer ")]
    token = bearer[0].removeprefix("Bearer ").strip() if bearer else None
    return kopf.ConnectionInfo(server=cfg.host, ca_path=cfg.ssl_ca_cert, insecure=not cfg.verify_ssl,
                               scheme="Bearer" if token else None, token=token,
                               certificate_path=cfg.cert_file, private_key_path=cfg.key_file,
                               username=cfg.username or None, password=cfg.password or None)


# ------------------------------------------------------------------------------------------------ L2Networks

def ensure_controller_network(name: str, cidr: str | None) -> dict:
    """The controller has network ``name`` with ``cidr``; a different one of that name is replaced."""
    ctl = controller()
    try:
        return ctl.create_network(name, cidr=cidr)
    except L2smError as err:
        if getattr(err, "status", None) != 409:
            raise
        ctl.delete_network(name)
        return ctl.create_network(name, cidr=cidr)


def network_status(namespace: str, name: str) -> dict:
    """connectedPodCount from the pods attached now (not being deleted); assignedIPs of pods that are gone dropped."""
    pods = cluster.list_l2sm_pods(api(), namespace)
    network = cluster.get_network(api(), namespace, name) or {}
    live = {p["metadata"]["name"] for p in pods}
    claims = (network.get("status") or {}).get("assignedIPs") or {}
    stale = {ip: None for ip, owner in claims.items() if cluster.claim_owner(owner) not in live}
    attached = cluster.pods_on([p for p in pods if not p["metadata"].get("deletionTimestamp")], name)
    status: dict = {"connectedPodCount": len(attached)}
    if stale:
        status["assignedIPs"] = stale
    return status


@kopf.on.create(*L2NETWORKS)
@kopf.on.update(*L2NETWORKS, field="spec")
@kopf.on.resume(*L2NETWORKS)
def network_ensure(name: str, namespace: str, spec, **_) -> None:
    cidr = spec.get("networkCIDR") or None
    try:
        created = ensure_controller_network(name, cidr)
    except L2smError as err:
        cluster.patch_network_status(api(), namespace, name, {
            "internalConnectivity": "Unavailable",
            "conditions": [_condition("False", "ControllerUnavailable", str(err))]})
        raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None
    status = network_status(namespace, name)
    status.update({"internalConnectivity": "Available", "l2sm": {"networkId": created.get("id")},
                   "conditions": [_condition("True", "NetworkReady", f"network {name} exists on the controller")]})
    cluster.patch_network_status(api(), namespace, name, status)


@kopf.on.delete(*L2NETWORKS)
def network_remove(name: str, **_) -> None:
    try:
        controller().delete_network(name)
    except L2smError as err:
        if getattr(err, "status", None) != 404:
            raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None


def _condition(status: str, reason: str, message: str) -> dict:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "Ready", "status": status, "reason": reason, "message": message, "lastTransitionTime": now}


# ------------------------------------------------------------------------------------------------ pods

def compute_wiring(namespace: str, pod: dict, pods: list[dict]) -> tuple[PodWiring, dict[str, dict]]:
    """The pod's wiring from what the API holds now, and the L2Networks it involves (by name)."""
    name = pod["metadata"].get("name") or pod["metadata"].get("generateName", "")
    requests = pod_requests(pod)
    current = multus_entries((pod["metadata"].get("annotations") or {}).get(MULTUS_ANNOTATION))
    involved = {r.name for r in requests} | {e["name"] for e in current}
    networks = {n: body for n in sorted(involved) if (body := cluster.get_network(api(), namespace, n))}
    infos = {n: NetworkInfo.from_resource(body, cluster.address_holders(body, pods, name))
             for n, body in networks.items()}
    return wire_pod(name, namespace, requests, infos, current), networks


def _claim(namespace: str, pod: str, wiring: PodWiring, networks: dict[str, dict]) -> bool:
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
            cluster.patch_network_status(api(), namespace, net, status, body["metadata"]["resourceVersion"])
        except ApiException as err:
            if err.status == 409:
                return False
            raise
    return True


def wire(namespace: str, name: str) -> PodWiring | None:
    """Bring pod ``name``'s Multus annotation, addresses and NADs in line with its ``l2sm/networks``."""
    with _namespace_lock(namespace):
        for _attempt in range(CLAIM_ATTEMPTS):
            pod = cluster.get_pod(api(), namespace, name)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                return None
            pods = cluster.list_l2sm_pods(api(), namespace)
            wiring, networks = compute_wiring(namespace, pod, pods)
            if _claim(namespace, name, wiring, networks):
                break
        else:
            raise kopf.TemporaryError("L2Networks kept changing while claiming addresses", delay=1)
        annotations = pod["metadata"].get("annotations") or {}
        wanted = wiring.annotations()
        if any(annotations.get(k) != v for k, v in wanted.items()):
            cluster.patch_pod_annotations(api(), namespace, name, wanted)
        for net in wiring.addresses:
            ensure_nad(api(), net, namespace)
        for net in networks:
            cluster.patch_network_status(api(), namespace, net, network_status(namespace, net))
    return wiring


def report(body, err: WiringError) -> None:
    """``l2sm/error`` on the pod and a Warning event, once per distinct error."""
    meta = body["metadata"]
    if (meta.get("annotations") or {}).get(ERROR_ANNOTATION) == str(err):
        return
    cluster.patch_pod_annotations(api(), meta["namespace"], meta["name"], {ERROR_ANNOTATION: str(err)})
    kopf.warn(body, reason=err.reason, message=str(err))


@kopf.on.create(*PODS, labels=POD_LABELS)
@kopf.on.resume(*PODS, labels=POD_LABELS)
@kopf.on.update(*PODS, labels=POD_LABELS, field=("metadata", "annotations", "l2sm/networks"))
def pod_wire(body, name: str, namespace: str, logger, **_) -> None:
    try:
        wiring = wire(namespace, name)
    except WiringError as err:
        report(body, err)
        if err.reason in ("UnknownNetwork", "AddressesExhausted"):  # may be fixed without touching the pod
            raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None
        raise kopf.PermanentError(str(err)) from None
    if wiring is not None:
        logger.info("wired to %s", ", ".join(f"{e['name']}={','.join(e.get('ips', [])) or 'L2'}"
                                             for e in wiring.entries))


@kopf.on.delete(*PODS, labels=POD_LABELS)
def pod_release(name: str, namespace: str, **_) -> None:
    """Release the pod's addresses and recount every network of its namespace."""
    with _namespace_lock(namespace):
        for network in cluster.list_networks(api(), namespace):
            net = network["metadata"]["name"]
            claims = (network.get("status") or {}).get("assignedIPs") or {}
            status = network_status(namespace, net)
            status.setdefault("assignedIPs", {}).update(
                {ip: None for ip, owner in claims.items() if cluster.claim_owner(owner) == name})
            if not status["assignedIPs"]:
                del status["assignedIPs"]
            cluster.patch_network_status(api(), namespace, net, status)


def pod_admission(body, patch: kopf.Patch, namespace: str | None, warnings: list, **_) -> None:
    """Production path: the Multus annotation is there before the pod starts (the handlers then claim it)."""
    namespace = namespace or body["metadata"].get("namespace") or "default"
    pod = {"metadata": dict(body["metadata"])}
    try:
        wiring, _ = compute_wiring(namespace, pod, cluster.list_l2sm_pods(api(), namespace))
    except WiringError as err:
        warnings.append(str(err))  # never refuse the pod: the handlers report the error on it
        return
    patch.setdefault("metadata", {}).setdefault("annotations", {}).update(
        {k: v for k, v in wiring.annotations().items() if v is not None})


# ------------------------------------------------------------------------------------------------ running

def run_operator(controller_url: str | None, token: str | None = None, namespaces: list[str] | None = None,
                 kubeconfig: str | None = None, webhook: kopf.WebhookServer | None = None) -> None:
    """Run until SIGTERM/SIGINT; watch ``namespaces`` or, when None, the whole cluster."""
    CONFIG.controller_url = controller_url
    CONFIG.token = token
    CONFIG.kubeconfig = kubeconfig

    if webhook is not None:  # kopf refuses admission handlers without a server, so register them only here
        # the id is the path kopf serves it on: the l2sm chart's MutatingWebhookConfiguration calls /l2sm-pods
        kopf.on.mutate(*PODS, labels=POD_LABELS, operation="CREATE", id="l2sm-pods")(pod_admission)

        @kopf.on.startup()
        def admission(settings: kopf.OperatorSettings, **_) -> None:
            settings.admission.server = webhook

    kopf.run(standalone=True, clusterwide=not namespaces, namespaces=namespaces or [])
