"""Inter-domain networks on several Kubernetes clusters: one ``L2Network`` of type ``ext-vnet`` with a ``provider``
in every cluster the network spans (the role upstream L2S-M's multi-domain client plays).

Each cluster is reached through its own kubeconfig and namespace. When asked, the network's address range is split
into one ``podAddressRange`` per cluster, so the clusters' address managers never hand out the same address.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes.client.exceptions import ApiException

from osm_l2sm.errors import L2smError
from osm_l2sm.model import Network
from osm_l2sm.model.addresses import host_range

from .l2network import create_l2network, l2network
from .target import L2NetworkTarget

DEFAULT_PROVIDER = "l2sm-provider"


@dataclass(frozen=True)
class Provider:
    """The inter-domain provider an ext-vnet names (upstream's ``spec.provider``: name and DNS domain)."""

    name: str
    domain: str | None = None

    def spec(self) -> dict:
        return {"name": self.name, "domain": self.domain or self.name}


@dataclass(frozen=True)
class ClusterAccess:
    """One cluster: its name (as the plan and ``--clusters`` say it), kubeconfig and namespace for networks."""

    name: str
    kubeconfig: str
    namespace: str = "default"


def kubeconfig_namespace(path: str) -> str | None:
    """The namespace of the kubeconfig's current context, if it names one."""
    try:
        config = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise L2smError(f"cannot read kubeconfig {path}: {err}") from None
    current = config.get("current-context")
    for ctx in config.get("contexts") or []:
        if ctx.get("name") == current:
            return (ctx.get("context") or {}).get("namespace")
    return None


def cluster_access(value: str, namespace: str | None = None) -> ClusterAccess:
    """``CLUSTER=FILE`` or ``FILE`` (the cluster is then named after the file) -> ClusterAccess. The namespace is
    ``namespace`` when given, else the kubeconfig context's, else ``default``."""
    name, sep, path = value.partition("=")
    if not sep:
        name, path = Path(value).stem, value
    if not name or not path:
        raise L2smError(f"--kubeconfig: expected CLUSTER=FILE or FILE, got {value!r}")
    return ClusterAccess(name, path, namespace or kubeconfig_namespace(path) or "default")


def split_range(cidr: str, parts: int, gateway: str | None = None) -> list[str]:
    """The host addresses of ``cidr`` (without ``gateway`` when it sits at either end) cut into ``parts``
    contiguous ``FIRST-LAST`` ranges, as even as possible."""
    first, last = host_range(ipaddress.ip_network(cidr, strict=False))
    if gateway and ipaddress.ip_address(gateway) == first:
        first += 1
    elif gateway and ipaddress.ip_address(gateway) == last:
        last -= 1
    total = int(last) - int(first) + 1
    if parts < 1 or total < parts:
        raise L2smError(f"cannot split the {total} addresses of {cidr} into {parts} ranges")
    size, extra = divmod(total, parts)
    ranges, start = [], int(first)
    for i in range(parts):
        end = start + size + (1 if i < extra else 0) - 1
        ranges.append(f"{ipaddress.ip_address(start)}-{ipaddress.ip_address(end)}")
        start = end + 1
    return ranges


class InterDomainTarget:
    """:class:`~osm_l2sm.model.NetworkTarget` over several clusters.

    A network spanning more than one cluster (``Network.clusters``), or any network when it names none, becomes an
    ext-vnet in each of those clusters; a network inside one cluster is an ordinary ``vnet`` there. Creation is all
    or nothing: a cluster refusing it removes what this call made in the others.
    """

    def __init__(self, clusters: list[ClusterAccess], provider: Provider, split: bool = False):
        if not clusters:
            raise L2smError("no cluster: give at least one --kubeconfig")
        names = [c.name for c in clusters]
        if len(set(names)) != len(names):
            raise L2smError(f"cluster names must differ: {', '.join(names)}")
        self.clusters = {c.name: c for c in clusters}
        self.provider = provider
        self.split = split
        self._targets = {c.name: L2NetworkTarget(c.kubeconfig, c.namespace) for c in clusters}

    def _spanned(self, network: Network) -> list[str]:
        wanted = list(network.clusters) or list(self.clusters)
        unknown = [c for c in wanted if c not in self.clusters]
        if unknown:
            raise L2smError(f"network {network.name} spans cluster {', '.join(unknown)} but no kubeconfig is given "
                            f"for it (--kubeconfig {unknown[0]}=FILE)")
        return wanted

    def _create_ext_vnet(self, cluster: str, network: Network, pod_range: str | None) -> bool:
        access = self.clusters[cluster]
        body = l2network(network, access.namespace, provider=self.provider.spec(), pod_range=pod_range)
        try:
            return create_l2network(self._targets[cluster].api, body)
        except ApiException as err:
            raise L2smError(f"cluster {cluster}: Kubernetes API refused to create L2Network {network.name} in "
                            f"namespace {access.namespace}: {err.status} {err.reason}", err.status or 400) from None

    def ensure_network(self, network: Network) -> bool:
        spanned = self._spanned(network)
        if network.clusters and len(spanned) == 1:
            return self._targets[spanned[0]].ensure_network(network)
        ranges = [None] * len(spanned)
        if self.split:
            if not network.cidr:
                raise L2smError(f"network {network.name}: splitting the address range needs a CIDR")
            ranges = split_range(network.cidr, len(spanned), network.gateway)
        created: list[str] = []
        try:
            for cluster, pod_range in zip(spanned, ranges):
                if self._create_ext_vnet(cluster, network, pod_range):
                    created.append(cluster)
        except BaseException:
            for cluster in created:
                self._targets[cluster].delete_network(network.name)
            raise
        return bool(created)

    def delete_network(self, name: str) -> bool:
        removed = [self._targets[c].delete_network(name) for c in self.clusters]
        return any(removed)

    def list_networks(self) -> list[str]:
        return sorted({name for t in self._targets.values() for name in t.list_networks()})

    def networks_in(self, cluster: str) -> list[str]:
        return self._targets[cluster].list_networks()


def interdomain_target(kubeconfigs: list[str], namespace: str | None = None, provider: str | None = None,
                       provider_domain: str | None = None, split: bool = False) -> InterDomainTarget:
    """The target over ``[CLUSTER=]FILE`` kubeconfigs, with the default provider unless one is named."""
    clusters = [cluster_access(k, namespace) for k in kubeconfigs]
    return InterDomainTarget(clusters, Provider(provider or DEFAULT_PROVIDER, provider_domain), split=split)
