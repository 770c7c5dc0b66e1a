"""Reads and writes of the operator's state in the API: L2Network status, pods, their annotations.

Everything the operator knows lives here, in the cluster: an operator restart starts from exactly this.
"""
from __future__ import annotations

import json

from kubernetes import client
# imported now, not in a handler holding its namespace's lock: the client loads its models lazily, which takes
# seconds on a busy node
from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from .resources import GROUP, L2NETWORK_PLURAL, MULTUS_ANNOTATION, POD_LABEL, POD_LABEL_VALUE, VERSION
from .wiring import multus_entries, pod_addresses


def _raw(call, *args, **kwargs) -> dict:
    """A kubernetes client call answered as a plain dict (camelCase, as the API sends it)."""
    return json.loads(call(*args, _preload_content=False, **kwargs).data)


def get_network(api: client.ApiClient, namespace: str, name: str) -> dict | None:
    try:
        return CustomObjectsApi(api).get_namespaced_custom_object(GROUP, VERSION, namespace,
                                                                          L2NETWORK_PLURAL, name)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def patch_network_status(api: client.ApiClient, namespace: str, name: str, status: dict,
                         resource_version: str | None = None) -> dict:
    """Merge ``status`` into the L2Network's status; with ``resource_version`` it fails (409) if the object changed."""
    body: dict = {"status": status}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    return CustomObjectsApi(api).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, L2NETWORK_PLURAL, name, body)


def get_pod(api: client.ApiClient, namespace: str, name: str) -> dict | None:
    try:
        return _raw(CoreV1Api(api).read_namespaced_pod, name, namespace)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def list_l2sm_pods(api: client.ApiClient, namespace: str) -> list[dict]:
    """The pods of ``namespace`` labelled for L2 networks, those being deleted included: they hold their addresses
    until the operator has released them."""
    return _raw(CoreV1Api(api).list_namespaced_pod, namespace,
                label_selector=f"{POD_LABEL}={POD_LABEL_VALUE}")["items"]


def patch_pod_annotations(api: client.ApiClient, namespace: str, name: str, annotations: dict) -> None:
    """Merge ``annotations`` into the pod's (a None value removes the key)."""
    CoreV1Api(api).patch_namespaced_pod(name, namespace, {"metadata": {"annotations": annotations}})


def pods_on(pods: list[dict], network: str) -> list[str]:
    """Names of the pods whose Multus annotation attaches them to ``network``."""
    return sorted(p["metadata"]["name"] for p in pods
                  if any(e.get("name") == network for e in multus_entries(
                      (p["metadata"].get("annotations") or {}).get(MULTUS_ANNOTATION))))


def claim_owner(value: str) -> str:
    """The pod name of an ``assignedIPs`` value (``namespace/name``; a bare name is accepted too)."""
    return value.rpartition("/")[2]


def address_holders(network: dict, pods: list[dict], pod: str) -> dict[str, str]:
    """bare ip -> pod for ``network``: what the other pods ask for explicitly, overridden by the status claims of live
    pods (or of ``pod``), overridden by the addresses the other pods have. An address asked for by one pod while
    another has it stays the other's (the pod a rolling update replaces keeps its planned addresses until it goes)."""
    live = {p["metadata"]["name"] for p in pods} | {pod}
    assigned = (network.get("status") or {}).get("assignedIPs") or {}
    claims = {ip: claim_owner(owner) for ip, owner in assigned.items()}
    held, requested = pod_addresses([p for p in pods if p["metadata"]["name"] != pod], network["metadata"]["name"])
    return {**requested, **{ip: owner for ip, owner in claims.items() if owner in live}, **held}
