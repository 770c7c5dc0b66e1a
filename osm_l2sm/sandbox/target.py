"""The sandbox as a place where an NS is deployed: its networks (osm_l2sm.model.NetworkTarget) and its KNFs."""
from __future__ import annotations

from typing import Callable

from osm_l2sm.model import Network, Plan

from .cluster import Sandbox
from .knfs import KnfRunner, knfs_of, remove_knfs


class SandboxTarget:
    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    def ensure_network(self, network: Network) -> bool:
        if network.name in self.list_networks():
            return False
        # A planned network names the clusters it spans; a sandbox of one cluster (it has no names) holds them all.
        clusters = list(network.clusters or []) if self.sandbox.cluster_names() else None
        self.sandbox.create_network(network.name, cidr=network.cidr, clusters=clusters or None)
        return True

    def delete_network(self, name: str) -> bool:
        if name not in self.list_networks():
            return False
        self.sandbox.delete_network(name)
        return True

    def list_networks(self) -> list[str]:
        return [n["name"] for n in self.sandbox.networks()]

    def knf_runner(self, plan: Plan, packages: list, env: dict | None = None,
                   progress: Callable[[str], None] = lambda _msg: None) -> KnfRunner:
        """The plan's KNFs on this sandbox, each from its sandbox profile in ``packages`` (checked here)."""
        return KnfRunner(self.sandbox, knfs_of(plan, packages), env, progress)

    def run_knfs(self, plan: Plan, packages: list, env: dict | None = None,
                 progress: Callable[[str], None] = lambda _msg: None) -> list[dict]:
        """Start every KNF of the plan and wait until each is ready; returns their pods (as ``Sandbox.pod``).
        On failure the pods started here are removed again."""
        return self.knf_runner(plan, packages, env, progress).start()

    def remove_knfs(self, plan: Plan) -> list[str]:
        """Stop and remove the plan's KNF pods and their files; returns the ones that were running."""
        return remove_knfs(self.sandbox, [k.kdu for k in plan.kdus])
