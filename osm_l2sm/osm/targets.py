"""A controller's REST API as the place where ns-create makes its networks (a :class:`osm_l2sm.model.NetworkTarget`;
the sandbox and Kubernetes boxes bring their own, and ``osm_l2sm.cli.targets`` picks one from the command line)."""
from __future__ import annotations

from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError
from osm_l2sm.model import Network


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
