"""The kopf operator: L2Networks become networks on the controller; labelled pods get Multus entries and addresses.

One handler per event, each idempotent; all state lives in the resources (L2Network status, pod annotations), so a
restarted operator continues exactly where the last one stopped. What the process holds besides (its settings, API
client, the webhook's reservations, per-namespace locks) lives in one :class:`Operator` whose methods are the
handlers: those of L2Networks in :mod:`.network_handlers`, those of pods in :mod:`.pod_handlers`. kopf's indexes of
labelled pods and L2Networks reach each handler as its ``l2sm_pods`` and ``l2sm_networks`` arguments.
:func:`operator_registry` puts the handlers in a registry of their own, which :func:`run_operator` runs.
"""
from __future__ import annotations

import copy
import logging
import threading
from types import MappingProxyType

import kopf

from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError

from .nad import ensure_nad_crd
from .network_handlers import NetworkHandlers
from .network_resync import NetworkResync, resync_forever
from .operator_config import OperatorConfig
from .pod_handlers import PodHandlers
from .reservations import Reservations
from .resources import (FINALIZER, GROUP, L2NETWORK_PLURAL, MULTUS_ANNOTATION, POD_LABEL, POD_LABEL_VALUE, VERSION,
                        api_client)


PODS = ("", "v1", "pods")
L2NETWORKS = (GROUP, VERSION, L2NETWORK_PLURAL)
POD_LABELS = MappingProxyType({POD_LABEL: POD_LABEL_VALUE})


def bearer_token(api_key: dict | None) -> str | None:
    """The bearer token the kubernetes client holds. Its kubeconfig loader stores "Bearer <token>" and its in-cluster
    loader "bearer <token>" (HTTP auth schemes are case-insensitive), under a key whose name changed between its
    versions."""
    for value in (api_key or {}).values():
        scheme, _, token = str(value).partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


# kopf indexes: what the pod and network handlers would otherwise list from the API on every event
def l2sm_pods_index(namespace: str, meta, **_) -> dict:
    """The labelled pods by namespace (their metadata: name, annotations, deletionTimestamp)."""
    return {namespace: {"metadata": copy.deepcopy(dict(meta))}}


def l2sm_networks_index(namespace: str, name: str, **_) -> dict:
    """The L2Network names by namespace."""
    return {namespace: name}


class Operator(NetworkHandlers, PodHandlers):
    """The operator's process state; its methods are the kopf handlers (see :func:`operator_registry`)."""

    def __init__(self, config: OperatorConfig, api_client=None):
        self.config = config
        self.reservations = Reservations()  # addresses the webhook gave to pods not stored yet
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

    def configure(self, settings: kopf.OperatorSettings, l2sm_pods, l2sm_networks, **_) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.posting.level = logging.WARNING  # only our warnings become events, not every handler's info line
        settings.watching.server_timeout = 60
        settings.networking.request_timeout = 30
        ensure_nad_crd(self.api())
        if self.config.controller_url:  # a controller replaced while we run gets the networks again
            resync = NetworkResync(self, l2sm_networks, l2sm_pods)  # kopf's indexes are live: they stay current
            threading.Thread(target=resync_forever, args=(resync, self._stop), name="network-resync",
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


def operator_registry(operator: Operator, webhook: kopf.WebhookServer | None = None) -> kopf.OperatorRegistry:
    """The operator's handlers and indexes in a registry of their own (ids as the handler names, which kopf records
    on resources); the admission handlers, OSM mode's included, only with a ``webhook`` server."""
    registry = kopf.OperatorRegistry()
    on = {"registry": registry}
    kopf.index(*PODS, labels=POD_LABELS, id="l2sm_pods", **on)(l2sm_pods_index)
    kopf.index(*L2NETWORKS, id="l2sm_networks", **on)(l2sm_networks_index)
    kopf.on.startup(id="configure", **on)(operator.configure)
    kopf.on.cleanup(id="cleanup", **on)(operator.cleanup)
    kopf.on.login(id="login", **on)(operator.login)
    for handler in (kopf.on.create(*L2NETWORKS, id="network_ensure", **on),
                    kopf.on.update(*L2NETWORKS, field="spec", id="network_ensure", **on),
                    kopf.on.resume(*L2NETWORKS, id="network_ensure", **on)):
        handler(operator.network_ensure)
    kopf.on.delete(*L2NETWORKS, id="network_remove", **on)(operator.network_remove)
    for handler in (kopf.on.create(*PODS, labels=POD_LABELS, id="pod_wire", **on),
                    kopf.on.resume(*PODS, labels=POD_LABELS, id="pod_wire", **on),
                    kopf.on.update(*PODS, labels=POD_LABELS, field=("metadata", "annotations", "l2sm/networks"),
                                   id="pod_wire", **on)):
        handler(operator.pod_wire)
    kopf.on.update(*PODS, labels=POD_LABELS, field=("metadata", "annotations", MULTUS_ANNOTATION),
                   id="pod_recount", **on)(operator.pod_recount)
    kopf.on.delete(*PODS, labels=POD_LABELS, id="pod_release", **on)(operator.pod_release)
    kopf.on.event(*PODS, labels=POD_LABELS, id="pod_gone", **on)(operator.pod_gone)
    if webhook is None:  # kopf refuses admission handlers without a server, so register them only with one
        return registry
    # the id is the path kopf serves it on: the l2sm chart's MutatingWebhookConfiguration calls /l2sm-pods
    kopf.on.mutate(*PODS, labels=POD_LABELS, operation="CREATE", id="l2sm-pods", **on)(operator.pod_admission)
    if operator.config.osm is not None:  # OSM mode: pods of KDUs that stock OSM deployed, wired from its records
        from . import osm_mode

        osm_mode.register(registry, osm_mode.OsmMode.from_config(operator.config.osm, operator.api), operator.api,
                          operator.pod_admission, L2NETWORKS, PODS)

    @kopf.on.startup(**on)
    def admission(settings: kopf.OperatorSettings, **_) -> None:
        settings.admission.server = webhook

    return registry


def run_operator(config: OperatorConfig, namespaces: list[str] | None = None,
                 webhook: kopf.WebhookServer | None = None, liveness: str | None = None) -> None:
    """Run until SIGTERM/SIGINT; watch ``namespaces`` or, when None, the whole cluster; ``liveness``: kopf's
    health endpoint URL (e.g. http://0.0.0.0:8080/healthz), for the kubelet's liveness probe."""
    kopf.run(registry=operator_registry(Operator(config), webhook), standalone=True, clusterwide=not namespaces,
             namespaces=namespaces or [], liveness_endpoint=liveness)
