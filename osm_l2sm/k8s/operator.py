"""The kopf operator: L2Networks become networks on the controller; labelled pods get Multus entries and addresses.

One handler per event, each idempotent; all state lives in the resources (L2Network status, pod annotations), so a
restarted operator continues exactly where the last one stopped. What the process holds besides (its settings, API
client, the webhook's reservations, per-namespace locks and kopf's indexes of labelled pods and L2Networks) lives in
one :class:`Operator` whose methods are the handlers.
"""
from __future__ import annotations

import copy
import datetime
import logging
import threading
import uuid
from dataclasses import dataclass, field
from types import MappingProxyType

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError

from . import cluster
from .nad import ensure_nad, ensure_nad_crd
from .network_resync import NetworkResync, recorded_id, resync_forever
from .provider import ProviderClient, is_interdomain, provider_url
from .reservations import Reservations
from .resources import (ERROR_ANNOTATION, FINALIZER, GROUP, L2NETWORK_PLURAL, MULTUS_ANNOTATION, POD_LABEL,
                        POD_LABEL_VALUE, VERSION, api_client)
from .wiring import (NetworkInfo, PodWiring, WiringError, addresses_held_by_pods, multus_entries, pod_requests,
                     wire_pod)

log = logging.getLogger(__name__)

RETRY_SECONDS = 10  # unknown network or unreachable controller: try again, the user may fix it meanwhile
CLAIM_ATTEMPTS = 8  # optimistic-concurrency retries when another writer changed an L2Network meanwhile
PODS = ("", "v1", "pods")
L2NETWORKS = (GROUP, VERSION, L2NETWORK_PLURAL)
POD_LABELS = MappingProxyType({POD_LABEL: POD_LABEL_VALUE})


@dataclass
class OperatorConfig:
    controller_url: str | None = None
    token: str | None = None
    kubeconfig: str | None = None
    provider_urls: dict[str, str] = field(default_factory=dict)  # provider name -> REST URL
    provider_token: str | None = None
    cluster_name: str | None = None  # this cluster's name at the providers (default: from kube-system's uid)


def bearer_token(api_key: dict | None) -> str | None:
    """The bearer token the kubernetes client holds. Its kubeconfig loader stores "Bearer <token>" and its in-cluster
    loader "bearer <token>" (HTTP auth schemes are case-insensitive), under a key whose name changed between its
    versions."""
    for value in (api_key or {}).values():
        scheme, _, token = str(value).partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def _condition(status: str, reason: str, message: str) -> dict:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "Ready", "status": status, "reason": reason, "message": message, "lastTransitionTime": now}


# kopf indexes: what the pod and network handlers would otherwise list from the API on every event
def l2sm_pods_index(namespace: str, meta, **_) -> dict:
    """The labelled pods by namespace (their metadata: name, annotations, deletionTimestamp)."""
    return {namespace: {"metadata": copy.deepcopy(dict(meta))}}


def l2sm_networks_index(namespace: str, name: str, **_) -> dict:
    """The L2Network names by namespace."""
    return {namespace: name}


class NetworkDiffers(L2smError):
    """The controller holds the network with other fields and pods on it: replacing it would detach them."""

    def __init__(self, name: str, fields: dict, ports: int):
        changes = ", ".join(f"{key} {old!r} (wanted {new!r})" for key, (old, new) in fields.items())
        super().__init__(f"network {name} keeps {changes} on the controller while {ports} pod interface(s) use it; "
                         "it changes once they are gone", 409)


class Operator:
    """The operator's process state; its methods are the kopf handlers (see :meth:`register`)."""

    def __init__(self, config: OperatorConfig, api_client=None, pods=None, networks=None):
        self.config = config
        self.reservations = Reservations()  # addresses the webhook gave to pods not stored yet
        self.pods = pods  # kopf index: namespace -> labelled pods (given at startup)
        self.networks = networks  # kopf index: namespace -> L2Network names (given at startup)
        self._api = api_client
        self._lock = threading.Lock()
        self._namespace_locks: dict[str, threading.Lock] = {}
        self._stop = threading.Event()

    def api(self):
        with self._lock:
            if self._api is None:
                self._api = api_client(self.config.kubeconfig)
            return self._api

    def controller(self) -> ControllerClient:
        if not self.config.controller_url:
            raise L2smError("no controller URL configured (--controller or L2SM_CONTROLLER_URL)")
        return ControllerClient(self.config.controller_url, self.config.token)

    def _namespace_lock(self, namespace: str) -> threading.Lock:
        # One writer per namespace inside this process; resourceVersion checks guard against other processes.
        with self._lock:
            return self._namespace_locks.setdefault(namespace, threading.Lock())

    def _pods(self, namespace: str) -> list[dict]:
        """The labelled pods of ``namespace``, those being deleted included: they hold their addresses until the
        operator has released them."""
        return list(self.pods.get(namespace, ())) if self.pods is not None else []

    # -------------------------------------------------------------------------------------------- settings

    def configure(self, settings: kopf.OperatorSettings, l2sm_pods, l2sm_networks, **_) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.posting.level = logging.WARNING  # only our warnings become events, not every handler's info line
        settings.watching.server_timeout = 60
        settings.networking.request_timeout = 30
        # kopf's indexes are live objects: the webhook (which kopf calls without them) reads them too
        self.pods, self.networks = l2sm_pods, l2sm_networks
        ensure_nad_crd(self.api())
        if self.config.controller_url:  # a controller replaced while we run gets the networks again
            threading.Thread(target=resync_forever, args=(NetworkResync(self), self._stop), name="network-resync",
                             daemon=True).start()

    def cleanup(self, **_) -> None:
        self._stop.set()

    def login(self, **_) -> kopf.ConnectionInfo:
        """kopf connects exactly as the handlers' client does (the --kubeconfig file or the in-cluster account)."""
        cfg = self.api().configuration
        if cfg.refresh_api_key_hook:  # the in-cluster loader re-reads the rotated service-account token here
            cfg.refresh_api_key_hook(cfg)
        token = bearer_token(cfg.api_key)
        return kopf.ConnectionInfo(server=cfg.host, ca_path=cfg.ssl_ca_cert, insecure=not cfg.verify_ssl,
                                   scheme="Bearer" if token else None, token=token,
                                   certificate_path=cfg.cert_file, private_key_path=cfg.key_file,
                                   username=cfg.username or None, password=cfg.password or None)

    # -------------------------------------------------------------------------------------------- L2Networks

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
                "conditions": [_condition("False", reason, f"provider: {err}")]})
            raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None

    def network_status(self, namespace: str, name: str, wired: dict | None = None) -> dict:
        """connectedPodCount from the pods attached now (not being deleted; ``wired``, a pod just wired, as it is
        now); assignedIPs of pods that are gone dropped.

        The network is read before the pods index: a claim it holds was made after its pod was indexed.
        """
        network = cluster.get_network(self.api(), namespace, name) or {}
        pods = self._pods(namespace)
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

    def network_ensure(self, name: str, namespace: str, spec, status=None, **_) -> None:
        cidr = spec.get("networkCIDR") or None
        # an ext-vnet exists on the controller only with its global tag: created without it, it would have to be
        # replaced later, detaching the pods already on it
        tag = self.interdomain_tag(namespace, name, spec) if is_interdomain(spec) else None
        try:
            created = self.ensure_controller_network(name, cidr, tag, recorded_id({"status": status}))
        except NetworkDiffers as err:  # the network works as it is; the change waits for its pods to go
            cluster.patch_network_status(self.api(), namespace, name, {
                "conditions": [_condition("False", "ChangePending", str(err))]})
            raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None
        except L2smError as err:
            cluster.patch_network_status(self.api(), namespace, name, {
                "internalConnectivity": "Unavailable",
                "conditions": [_condition("False", "ControllerUnavailable", str(err))]})
            raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None
        status = self.network_status(namespace, name)
        status.update({"internalConnectivity": "Available", "l2sm": {"networkId": created.get("id")},
                       "conditions": [_condition("True", "NetworkReady", f"network {name} exists on the controller")]})
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

    # -------------------------------------------------------------------------------------------- pods

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
        return wire_pod(name, namespace, requests, infos, current), networks

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

    def wire(self, namespace: str, name: str) -> PodWiring | None:
        """Bring pod ``name``'s Multus annotation, addresses and NADs in line with its ``l2sm/networks``."""
        with self._namespace_lock(namespace):
            for _attempt in range(CLAIM_ATTEMPTS):
                pod = cluster.get_pod(self.api(), namespace, name)
                if pod is None or pod["metadata"].get("deletionTimestamp"):
                    return None
                wiring, networks = self.compute_wiring(namespace, pod, self._pods(namespace))
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
                cluster.patch_network_status(self.api(), namespace, net, self.network_status(namespace, net, wired))
        return wiring

    def pod_recount(self, namespace: str, old, new, **_) -> None:
        """A pod's Multus annotation changed (kopf's index holds the change now): recount the networks it names.
        Each such change is counted after it is indexed, so the last count of a network sees every pod."""
        involved = {e["name"] for value in (old, new) for e in multus_entries(value)}
        with self._namespace_lock(namespace):
            existing = set(self.networks.get(namespace, ())) if self.networks is not None else set()
            for net in sorted(involved & existing):
                cluster.patch_network_status(self.api(), namespace, net, self.network_status(namespace, net))

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

    def pod_wire(self, body, name: str, namespace: str, logger, retry: int = 0, **_) -> None:
        try:
            wiring = self.wire(namespace, name)
        except WiringError as err:
            self.report(body, err, first_try=retry == 0)
            if err.reason in ("UnknownNetwork", "AddressesExhausted"):  # may be fixed without touching the pod
                raise kopf.TemporaryError(str(err), delay=RETRY_SECONDS) from None
            raise kopf.PermanentError(str(err)) from None
        if wiring is not None:
            logger.info("wired to %s", ", ".join(f"{e['name']}={','.join(e.get('ips', [])) or 'L2'}"
                                                 for e in wiring.entries))

    def pod_release(self, name: str, namespace: str, **_) -> None:
        """Release the pod's addresses and recount every network of its namespace."""
        with self._namespace_lock(namespace):
            for net in sorted(set(self.networks.get(namespace, ()))) if self.networks is not None else []:
                network = cluster.get_network(self.api(), namespace, net)
                if network is None:
                    continue
                claims = (network.get("status") or {}).get("assignedIPs") or {}
                status = self.network_status(namespace, net)
                status.setdefault("assignedIPs", {}).update(
                    {ip: None for ip, owner in claims.items() if cluster.claim_owner(owner) == name})
                if not status["assignedIPs"]:
                    del status["assignedIPs"]
                cluster.patch_network_status(self.api(), namespace, net, status)

    def pod_admission(self, body, patch: kopf.Patch, namespace: str | None, warnings: list, dryrun: bool = False,
                      **_) -> None:
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
                wiring, _ = self.compute_wiring(namespace, {"metadata": dict(meta)}, self._pods(namespace), name)
            except WiringError as err:
                warnings.append(str(err))
                annotations[ERROR_ANNOTATION] = str(err)
                return
            if not dryrun:
                for network, addresses in wiring.addresses.items():
                    self.reservations.reserve(namespace, network, addresses, name)
        annotations.update({k: v for k, v in wiring.annotations().items() if v is not None})

    # -------------------------------------------------------------------------------------------- running

    def register(self, webhook: kopf.WebhookServer | None = None) -> None:
        """Hand the handlers and indexes to kopf (ids as the handler names, which kopf records on resources)."""
        kopf.index(*PODS, labels=POD_LABELS, id="l2sm_pods")(l2sm_pods_index)
        kopf.index(*L2NETWORKS, id="l2sm_networks")(l2sm_networks_index)
        kopf.on.startup(id="configure")(self.configure)
        kopf.on.cleanup(id="cleanup")(self.cleanup)
        kopf.on.login(id="login")(self.login)
        for on in (kopf.on.create(*L2NETWORKS, id="network_ensure"),
                   kopf.on.update(*L2NETWORKS, field="spec", id="network_ensure"),
                   kopf.on.resume(*L2NETWORKS, id="network_ensure")):
            on(self.network_ensure)
        kopf.on.delete(*L2NETWORKS, id="network_remove")(self.network_remove)
        for on in (kopf.on.create(*PODS, labels=POD_LABELS, id="pod_wire"),
                   kopf.on.resume(*PODS, labels=POD_LABELS, id="pod_wire"),
                   kopf.on.update(*PODS, labels=POD_LABELS, field=("metadata", "annotations", "l2sm/networks"),
                                  id="pod_wire")):
            on(self.pod_wire)
        kopf.on.update(*PODS, labels=POD_LABELS, field=("metadata", "annotations", MULTUS_ANNOTATION),
                       id="pod_recount")(self.pod_recount)
        kopf.on.delete(*PODS, labels=POD_LABELS, id="pod_release")(self.pod_release)
        if webhook is None:  # kopf refuses admission handlers without a server, so register them only with one
            return
        # the id is the path kopf serves it on: the l2sm chart's MutatingWebhookConfiguration calls /l2sm-pods
        kopf.on.mutate(*PODS, labels=POD_LABELS, operation="CREATE", id="l2sm-pods")(self.pod_admission)
        from . import osm_mode  # OSM mode: pods of KDUs that stock OSM deployed, wired from OSM's records

        osm = osm_mode.from_env(self.api)
        if osm is not None:
            osm_mode.register(osm, self.api, self.pod_admission, L2NETWORKS, PODS)

        @kopf.on.startup()
        def admission(settings: kopf.OperatorSettings, **_) -> None:
            settings.admission.server = webhook


def run_operator(controller_url: str | None, token: str | None = None, namespaces: list[str] | None = None,
                 kubeconfig: str | None = None, webhook: kopf.WebhookServer | None = None,
                 provider_urls: dict[str, str] | None = None, provider_token: str | None = None,
                 cluster_name: str | None = None, liveness: str | None = None) -> None:
    """Run until SIGTERM/SIGINT; watch ``namespaces`` or, when None, the whole cluster; ``liveness``: kopf's
    health endpoint URL (e.g. http://0.0.0.0:8080/healthz), for the kubelet's liveness probe."""
    config = OperatorConfig(controller_url, token, kubeconfig, dict(provider_urls or {}), provider_token,
                            cluster_name)
    Operator(config).register(webhook)
    kopf.run(standalone=True, clusterwide=not namespaces, namespaces=namespaces or [], liveness_endpoint=liveness)
