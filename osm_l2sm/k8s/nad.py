"""NetworkAttachmentDefinitions: one per L2 network and namespace, pointing Multus at the l2sm-cni plugin."""
from __future__ import annotations

import json
from pathlib import Path

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .crds import ensure_crd, load_manifests
from .resources import CNI_TYPE, NAD_GROUP, NAD_PLURAL, NAD_VERSION

NAD_CRD_FILE = Path(__file__).with_name("nad-crd.yaml")


def nad_body(network: str, namespace: str) -> dict:
    """The NetworkAttachmentDefinition for ``network`` in ``namespace``."""
    # "ips": Multus passes a pod's requested addresses (the network selection's "ips") to a delegate only as this
    # capability, which libcni forwards in runtimeConfig only when the plugin's config declares it.
    config = {"cniVersion": "1.0.0", "type": CNI_TYPE, "network": network, "capabilities": {"ips": True}}
    return {
        "apiVersion": f"{NAD_GROUP}/{NAD_VERSION}",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": network, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "l2sm"}},
        "spec": {"config": json.dumps(config)},
    }


def ensure_nad_crd(api: client.ApiClient) -> bool:
    """Create the NAD CRD when the cluster lacks it (no Multus installed yet); True when created here."""
    return ensure_crd(api, load_manifests(NAD_CRD_FILE)[0])


def ensure_nad(api: client.ApiClient, network: str, namespace: str) -> bool:
    """Create the NAD of ``network`` in ``namespace`` if missing, or bring one of ours (an older release's) up to
    date; a NAD someone else made is left alone. True when created here."""
    objects = client.CustomObjectsApi(api)
    body = nad_body(network, namespace)
    try:
        objects.create_namespaced_custom_object(NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, body)
        return True
    except ApiException as err:
        if err.status != 409:
            raise
    current = objects.get_namespaced_custom_object(NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, network)
    ours = (current["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "l2sm"
    if ours and current.get("spec", {}).get("config") != body["spec"]["config"]:
        objects.patch_namespaced_custom_object(NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, network,
                                               {"spec": body["spec"]})
    return False
