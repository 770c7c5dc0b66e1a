"""The one L2Network body osm-l2sm writes for a :class:`~osm_l2sm.model.Network`, whoever makes it: the
Kubernetes target, the inter-domain target (an ext-vnet per cluster) and the operator's OSM mode."""
from __future__ import annotations

from types import MappingProxyType

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm.model import Network

from .resources import GROUP, L2NETWORK_KIND, L2NETWORK_PLURAL, VERSION

MANAGED_BY = MappingProxyType({"app.kubernetes.io/managed-by": "osm-l2sm"})  # read-only: copied into labels
EXT_VNET = "ext-vnet"


def network_spec(network: Network) -> dict:
    """The L2Network spec of ``network``: upstream fields first, ours under ``l2sm``."""
    spec: dict = {"type": "vnet"}
    if network.cidr:
        spec["networkCIDR"] = network.cidr
    ours = {k: v for k, v in (("gateway", network.gateway), ("vld", network.vld)) if v}
    if network.clusters:
        ours["clusters"] = list(network.clusters)
    if ours:
        spec["l2sm"] = ours
    return spec


def l2network(network: Network, namespace: str, labels: dict | None = None, provider: dict | None = None,
              pod_range: str | None = None) -> dict:
    """The L2Network of ``network`` in ``namespace``, labelled as ours (plus ``labels``); with ``provider``
    (upstream's ``{"name", "domain"}``) an inter-domain ext-vnet, given ``pod_range`` (``FIRST-LAST``) to hand out
    in this cluster."""
    spec = network_spec(network)
    if provider is not None:
        spec["type"] = EXT_VNET
        spec["provider"] = dict(provider)
        if pod_range:
            spec["podAddressRange"] = pod_range
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": L2NETWORK_KIND,
            "metadata": {"name": network.name, "namespace": namespace, "labels": {**MANAGED_BY, **(labels or {})}},
            "spec": spec}


def create_l2network(api: client.ApiClient, body: dict) -> bool:
    """Create the L2Network ``body``; False when one of its name is there already (ApiException for any other
    refusal)."""
    meta = body["metadata"]
    try:
        client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, meta["namespace"],
                                                                     L2NETWORK_PLURAL, body)
        return True
    except ApiException as err:
        if err.status == 409:
            return False
        raise
