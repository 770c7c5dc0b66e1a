"""Names of the Kubernetes resources, labels, annotations and finalizers the operator speaks (L2S-M compatible)."""
from __future__ import annotations

GROUP = "l2sm.l2sm.k8s.local"
VERSION = "v1"
L2NETWORK_PLURAL = "l2networks"
L2NETWORK_KIND = "L2Network"

POD_LABEL = "l2sm"
POD_LABEL_VALUE = "true"
NETWORKS_ANNOTATION = "l2sm/networks"
ERROR_ANNOTATION = "l2sm/error"
# a pod's routes per network, JSON {network: [{"dst": CIDR, "gw": IP}]}: they go with its Multus entries as cni-args
ROUTES_ANNOTATION = "l2sm/routes"
FINALIZER = "l2sm.operator.io/finalizer"

MULTUS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
NAD_GROUP = "k8s.cni.cncf.io"
NAD_VERSION = "v1"
NAD_PLURAL = "network-attachment-definitions"
NAD_CRD_NAME = f"{NAD_PLURAL}.{NAD_GROUP}"
CNI_TYPE = "l2sm-cni"


def api_client(kubeconfig: str | None = None, context: str | None = None):
    """A kubernetes ApiClient from a kubeconfig file (or the default one / the in-cluster service account)."""
    from kubernetes import client, config

    if kubeconfig:
        return config.new_client_from_config(config_file=str(kubeconfig), context=context)
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config(context=context)
    return client.ApiClient()
