"""Networks on a Kubernetes cluster, as L2Network CRs or as releases of the ``l2sm-network`` chart, and the KDU
charts of a Plan installed with Helm (pyhelm3)."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm import data
from osm_l2sm.errors import L2smError
from osm_l2sm.model import Network, Plan

from .l2network import create_l2network, l2network
from .resources import GROUP, L2NETWORK_PLURAL, VERSION, api_client

CHARTS_DIR = data.charts_dir()
NETWORK_CHART = "l2sm-network"


def network_values(network: Network) -> dict:
    """Values of the ``l2sm-network`` chart for ``network``."""
    values: dict = {"name": network.name, "type": "vnet"}
    if network.cidr:
        values["networkCIDR"] = network.cidr
    if network.gateway:
        values["gateway"] = network.gateway
    if network.vld:
        values["vld"] = network.vld
    return values


def chart_path(chart: str) -> str:
    """A chart reference as helm takes it: an existing directory, a chart of this repository, or as given."""
    if Path(chart).is_dir():
        return str(Path(chart).resolve())
    local = CHARTS_DIR / chart
    return str(local) if local.is_dir() else chart


def release_name(*parts: str) -> str:
    """A Helm release name (DNS-1123, <= 53 characters) from ``parts``."""
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return name[:53].rstrip("-") or "release"


def _helm_failure(what: str, err: Exception) -> L2smError:
    line = " ".join(str(err).split()) or type(err).__name__
    return L2smError(f"helm could not {what}: {line[:400]}")


class _Helm:
    """The few pyhelm3 calls used here, run to completion from synchronous code."""

    def __init__(self, kubeconfig: str, executable: str | None):
        from pyhelm3 import Client

        try:
            self.client = Client(executable=executable or "helm", kubeconfig=Path(kubeconfig), default_timeout="3m")
        except AssertionError:
            raise L2smError(f"helm executable {executable or 'helm'} not found") from None

    def install(self, release: str, chart: str, values: dict, namespace: str) -> None:
        async def go():
            resolved = await self.client.get_chart(chart_path(chart))
            await self.client.install_or_upgrade_release(release, resolved, values, namespace=namespace,
                                                         create_namespace=True)
        try:
            asyncio.run(go())
        except Exception as err:  # pyhelm3 raises its own error types, each with helm's message
            raise _helm_failure(f"install {release} from {chart}", err) from None

    def uninstall(self, release: str, namespace: str) -> None:
        try:
            asyncio.run(self.client.uninstall_release(release, namespace=namespace, wait=False))
        except Exception as err:
            raise _helm_failure(f"uninstall {release}", err) from None

    def releases(self, namespace: str) -> dict[str, str]:
        """release name -> chart name (as ``helm list`` shows it, e.g. ``l2sm-network-0.1.0``)."""
        async def go():
            definitions = await self.client.list_release_definitions(namespace=namespace)
            return {d["name"]: d.get("chart", "") for d in definitions}
        try:
            return asyncio.run(go())
        except Exception as err:
            raise _helm_failure("list releases", err) from None


class KubernetesTarget:
    """What the Kubernetes targets share: the cluster (kubeconfig, namespace) and Helm, which also installs the
    KDU charts of a plan. :func:`kubernetes_target` gives the one of a mode."""

    def __init__(self, kubeconfig: str, namespace: str = "default", helm: str | None = None):
        self.kubeconfig = str(kubeconfig)
        self.namespace = namespace
        self.helm_executable = helm
        self._api = None
        self._helm = None

    @property
    def api(self):
        if self._api is None:
            try:
                self._api = api_client(self.kubeconfig)
            except Exception as err:  # the kubernetes client raises several types for a bad kubeconfig
                raise L2smError(f"cannot use kubeconfig {self.kubeconfig}: {err}") from None
        return self._api

    @property
    def helm(self) -> _Helm:
        if self._helm is None:
            self._helm = _Helm(self.kubeconfig, self.helm_executable)
        return self._helm


class L2NetworkTarget(KubernetesTarget):
    """:class:`~osm_l2sm.model.NetworkTarget` writing L2Network resources (the operator makes the networks)."""

    def _api_failure(self, what: str, err: ApiException) -> L2smError:
        return L2smError(f"Kubernetes API refused to {what} in namespace {self.namespace}: "
                         f"{err.status} {err.reason}", status=err.status or 400)

    def ensure_network(self, network: Network) -> bool:
        """Create the L2Network (and its namespace when there is none yet, as Helm's ``--create-namespace`` does:
        the networks come before the KDUs whose installation would make it)."""
        body = l2network(network, self.namespace)
        try:
            return create_l2network(self.api, body)
        except ApiException as err:
            if err.status != 404 or not self._create_namespace():
                raise self._api_failure(f"create L2Network {network.name}", err) from None
        try:
            return create_l2network(self.api, body)
        except ApiException as err:
            raise self._api_failure(f"create L2Network {network.name}", err) from None

    def _create_namespace(self) -> bool:
        """True once the namespace is made (False when it was there: the 404 was about something else)."""
        try:
            client.CoreV1Api(self.api).create_namespace({"metadata": {"name": self.namespace}})
            return True
        except ApiException as err:
            if err.status == 409:
                return False
            raise self._api_failure("create the namespace", err) from None

    def delete_network(self, name: str) -> bool:
        try:
            client.CustomObjectsApi(self.api).delete_namespaced_custom_object(GROUP, VERSION, self.namespace,
                                                                              L2NETWORK_PLURAL, name)
            return True
        except ApiException as err:
            if err.status == 404:
                return False
            raise self._api_failure(f"delete L2Network {name}", err) from None

    def list_networks(self) -> list[str]:
        try:
            items = client.CustomObjectsApi(self.api).list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, L2NETWORK_PLURAL)["items"]
        except ApiException as err:
            raise self._api_failure("list L2Networks", err) from None
        return sorted(item["metadata"]["name"] for item in items)


class HelmNetworkTarget(KubernetesTarget):
    """:class:`~osm_l2sm.model.NetworkTarget` installing one ``l2sm-network`` release per network (``helm`` is the
    executable)."""

    def ensure_network(self, network: Network) -> bool:
        if network.name in self.list_networks():
            return False
        self.helm.install(network.name, NETWORK_CHART, network_values(network), self.namespace)
        return True

    def delete_network(self, name: str) -> bool:
        if name not in self.list_networks():
            return False
        self.helm.uninstall(name, self.namespace)
        return True

    def list_networks(self) -> list[str]:
        return sorted(name for name, chart in self.helm.releases(self.namespace).items()
                      if chart.rpartition("-")[0] == NETWORK_CHART)


MODES = {"cr": L2NetworkTarget, "helm": HelmNetworkTarget}


def kubernetes_target(kubeconfig: str, namespace: str = "default", mode: str = "cr",
                      helm: str | None = None) -> KubernetesTarget:
    """The target of ``mode``: ``cr`` writes L2Network resources, ``helm`` installs ``l2sm-network`` releases."""
    if mode not in MODES:
        raise L2smError(f"unknown Kubernetes target mode {mode!r} (cr or helm)")
    return MODES[mode](kubeconfig, namespace, helm=helm)


def kdu_release(plan: Plan, kdu) -> str:
    return release_name(plan.ns_name, kdu.member_vnf_index, kdu.kdu)


def install_plan(plan: Plan, kubeconfig: str, namespace: str = "default", helm: str | None = None,
                 mode: str = "cr") -> list[str]:
    """Create the plan's networks (as CRs or ``l2sm-network`` releases), then helm-install each KDU chart with its
    planned values; returns the KDU release names in plan order."""
    target = kubernetes_target(kubeconfig, namespace, mode, helm)
    for network in plan.networks:
        target.ensure_network(network)
    releases = []
    for kdu in plan.kdus:
        if not kdu.chart:
            raise L2smError(f"KDU {kdu.kdu} of VNF {kdu.member_vnf_index} names no Helm chart")
        release = kdu_release(plan, kdu)
        target.helm.install(release, kdu.chart, kdu.values, namespace)
        releases.append(release)
    return releases


def uninstall_plan(plan: Plan, kubeconfig: str, namespace: str = "default", helm: str | None = None,
                   mode: str = "cr") -> list[str]:
    """Uninstall the plan's KDU releases, then delete its networks; returns the releases that were there."""
    target = kubernetes_target(kubeconfig, namespace, mode, helm)
    present = target.helm.releases(namespace)
    removed = []
    for kdu in plan.kdus:
        release = kdu_release(plan, kdu)
        if release in present:
            target.helm.uninstall(release, namespace)
            removed.append(release)
    for network in plan.networks:
        target.delete_network(network.name)
    return removed
