"""The sandbox as a place where networks are made (osm_l2sm.model.NetworkTarget)."""
from __future__ import annotations

from osm_l2sm.model import Network

from .cluster import Sandbox


class SandboxTarget:
    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    def ensure_network(self, network: Network) -> bool:
        if network.name in self.list_networks():
            return False
        # A planned network names the clusters it spans; on a single-cluster sandbox it lives in the one cluster.
        clusters = list(network.clusters) if network.clusters and self.sandbox.status().get("clusters") else None
        self.sandbox.create_network(network.name, cidr=network.cidr, clusters=clusters)
        return True

    def delete_network(self, name: str) -> bool:
        if name not in self.list_networks():
            return False
        self.sandbox.delete_network(name)
        return True

    def list_networks(self) -> list[str]:
        return [n["name"] for n in self.sandbox.networks()]
