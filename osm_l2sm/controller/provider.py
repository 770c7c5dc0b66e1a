"""Global tags of inter-domain networks from a provider controller, for the Kubernetes operator and the sandbox.

The provider is a controller in provider role (docs/multidomain.md): its network id for a name is the network's
global tag in every cluster. Each cluster that uses the network records itself there as a member (a port on the
provider's network named after the cluster), so the tag is released only when the last cluster lets go of it; a
released id may be given to another network, which must never happen while a cluster still carries the old one.
"""
from __future__ import annotations

import hashlib

from osm_l2sm.errors import L2smError

from .client import ControllerClient


def member_interface(network: str) -> str:
    """The name of a cluster's membership port on the provider's network (at most 15 characters)."""
    return "m" + hashlib.sha256(network.encode()).hexdigest()[:12]


class ProviderClient:
    """Tags of inter-domain networks from one provider, on behalf of one cluster (``member``)."""

    def __init__(self, url: str, member: str, token: str | None = None, timeout: float = 5.0):
        self.ctl = ControllerClient(url, token, timeout)
        self.url = url
        self.member = member

    def acquire(self, network: str, cidr: str | None) -> int:
        """The network's global tag; the provider registers it on first use and records this cluster as a member."""
        try:
            view = self.ctl.create_network(network, cidr=cidr)
        except L2smError as err:
            if getattr(err, "status", None) != 409:
                raise
            view = self.ctl.get_network(network)  # registered by another cluster (another CIDR): same network
        self.ctl.attach_port(network, self.member, member_interface(network))
        return int(view["id"])

    def release(self, network: str) -> bool:
        """This cluster no longer uses the network; True when it was the last member and the tag was freed."""
        try:
            self.ctl.detach_port(self.member, member_interface(network))
        except L2smError as err:
            if getattr(err, "status", None) != 404:
                raise
        try:
            if self.ctl.get_network(network).get("ports"):
                return False
            self.ctl.delete_network(network)
        except L2smError as err:
            if getattr(err, "status", None) != 404:
                raise
        return True
