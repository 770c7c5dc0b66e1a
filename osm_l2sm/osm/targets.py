"""Where ns-create makes its networks: a controller's REST API, the local sandbox or a Kubernetes cluster.

All implement :class:`osm_l2sm.model.NetworkTarget`. The sandbox and Kubernetes boxes are imported only when asked
for, so a missing optional part is a clear error instead of an import failure of the whole CLI.
"""
from __future__ import annotations

import importlib

from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError
from osm_l2sm.model import Network, NetworkTarget


class ControllerTarget:
    """Networks straight on an osm-l2sm controller (no Kubernetes, no sandbox), through its REST client."""

    def __init__(self, url: str, token: str | None = None):
        self.client = ControllerClient(url, token)

    def ensure_network(self, network: Network) -> bool:
        try:
            existing = self.client.get_network(network.name)
        except L2smError as err:
            if err.status != 404:
                raise
        else:
            if network.cidr and existing.get("cidr") not in (None, network.cidr):
                raise L2smError(f"network {network.name!r} already exists on the controller with cidr "
                                f"{existing.get('cidr')}, not {network.cidr}", status=409)
            return False
        description = f"virtual link {network.vld}" if network.vld else None
        self.client.create_network(network.name, cidr=network.cidr, description=description)
        return True

    def delete_network(self, name: str) -> bool:
        try:
            self.client.delete_network(name)
        except L2smError as err:
            if err.status == 404:
                return False
            raise
        return True

    def list_networks(self) -> list[str]:
        return [n["name"] for n in self.client.list_networks()]


K8S_MODULE = "osm_l2sm.k8s.target"  # KubernetesTarget, install_plan, uninstall_plan


def optional_box(module: str, what: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise L2smError(f"{what} is not available in this installation ({module}: {err})") from err


def sandbox_target(name: str | None = None) -> NetworkTarget:
    sandbox = optional_box("osm_l2sm.sandbox", "the local sandbox")
    return sandbox.SandboxTarget(sandbox.Sandbox(name))


def kubernetes_target(kubeconfig: str, namespace: str = "default", mode: str = "cr") -> NetworkTarget:
    k8s = optional_box(K8S_MODULE, "the Kubernetes target")
    return k8s.KubernetesTarget(kubeconfig, namespace, mode=mode)


K8S_MULTIDOMAIN_MODULE = "osm_l2sm.k8s.multidomain"  # InterDomainTarget over several clusters


def interdomain_target(kubeconfigs: list[str], namespace: str | None = None, provider: str | None = None,
                       provider_domain: str | None = None, split: bool = False) -> NetworkTarget:
    """Networks on several clusters (``CLUSTER=FILE`` each): a network spanning clusters is an ext-vnet in each."""
    md = optional_box(K8S_MULTIDOMAIN_MODULE, "the multi-cluster Kubernetes target")
    return md.interdomain_target(kubeconfigs, namespace, provider, provider_domain, split)


def install_knfs(plan, kubeconfig: str, namespace: str = "default", mode: str = "cr") -> None:
    """Helm-install every KDU chart of ``plan`` (ns-create with local packages and no OSM)."""
    optional_box(K8S_MODULE, "the Kubernetes target").install_plan(plan, kubeconfig, namespace, mode=mode)


def uninstall_knfs(plan, kubeconfig: str, namespace: str = "default", mode: str = "cr") -> None:
    optional_box(K8S_MODULE, "the Kubernetes target").uninstall_plan(plan, kubeconfig, namespace, mode=mode)


def target_kind(args) -> str:
    """Which target the arguments ask for: ``local``, ``kubeconfig``, ``clusters`` (several kubeconfigs) or
    ``controller``."""
    chosen = [kind for kind, given in (("local", getattr(args, "local", False)),
                                        ("kubeconfig", getattr(args, "kubeconfig", None)),
                                        ("clusters", getattr(args, "clusters", None)),
                                        ("controller", getattr(args, "controller", None))) if given]
    if len(chosen) > 1:
        raise L2smError("choose one network target: --local, --kubeconfig (one or several) or --controller")
    if not chosen:
        raise L2smError("no network target: pass --local (sandbox), --kubeconfig FILE (Kubernetes) "
                        "or --controller URL")
    return chosen[0]


def target_from_args(args) -> NetworkTarget:
    """The NetworkTarget chosen by ``--local`` / ``--kubeconfig`` / ``--controller`` on the command line."""
    kind = target_kind(args)
    if kind == "local":
        return sandbox_target(getattr(args, "sandbox", None))
    if kind == "kubeconfig":
        return kubernetes_target(args.kubeconfig, getattr(args, "namespace", None) or "default",
                                 getattr(args, "k8s_mode", None) or "cr")
    if kind == "clusters":
        return interdomain_target(args.clusters, getattr(args, "cluster_namespace", None),
                                  getattr(args, "provider", None), getattr(args, "provider_domain", None))
    return ControllerTarget(args.controller, token=getattr(args, "controller_token", None))
