"""Registered switches: their dpids, tunnels and domain links, and which switches carry which networks (a part of
:class:`~.state.State`: call on the state)."""
from __future__ import annotations

from osm_l2sm.errors import L2smError

from .checks import check_dpid, check_interface, check_name
from .records import Switch
from .sessions import SwitchSession


def _check_links(links, refusal: str, peer: str, interface: str) -> dict:
    """``links`` {peer: interface} checked ({} for none); ``refusal``: the error when it is not an object."""
    links = links or {}
    if not isinstance(links, dict):
        raise L2smError(refusal, 400)
    for name, ifname in links.items():
        check_name(name, peer)
        check_interface(ifname, interface)
    return links


class Registrations:
    """Register and unregister switches; the switches a network's flows depend on."""

    def register_switch(self, name, dpid, tunnels, domain_links=None) -> tuple[dict, bool]:
        """Register or update a switch; returns (view, changed)."""
        check_name(name, "switch name")
        dpid = check_dpid(dpid)
        tunnels = _check_links({} if tunnels is None else tunnels or [],
                               "tunnels must be an object {peer switch: tunnel interface}", "peer switch",
                               "tunnel interface")
        domain_links = _check_links(domain_links, "domain_links must be an object {peer cluster: interface}",
                                    "peer cluster", "domain link interface")
        with self.lock:
            other = self.switch_by_dpid(dpid)
            if other and other != name:
                raise L2smError(f"dpid {dpid} is already registered by switch {other}", 409)
            record = Switch(name, dpid, dict(tunnels), dict(domain_links))
            changed = self.switches.get(name) != record
            if changed:
                self._journal(put=[("switches", name, record.to_json())])
                self.switches[name] = record
            return self.switch_view(name), changed

    def unregister_switch(self, name: str) -> SwitchSession | None:
        """Forget switch ``name``; returns the session of its connection, which stays open (404 when unknown)."""
        with self.lock:
            if name not in self.switches:
                raise L2smError(f"no switch named {name}", 404)
            gone = [pid for pid, port in self.ports.items() if port.switch == name]  # its node's ports go with it
            self._journal(delete=[("switches", name)] + [("ports", pid) for pid in gone])
            del self.switches[name]
            session = self.runtime.forget(name)
            self.changed(*{self._drop_port(pid).network for pid in gone})
            return session

    def switch_by_dpid(self, dpid: str) -> str | None:
        return next((name for name, sw in list(self.switches.items()) if sw.dpid == dpid), None)

    def edges(self) -> set[str]:
        """Edge switches: those with domain links."""
        return {name for name, sw in list(self.switches.items()) if sw.domain_links}

    def switches_of_network(self, network: str | None) -> set[str]:
        """The switches whose flows depend on ``network``'s ports: those with its ports, and edges when
        inter-domain."""
        net = self.networks.get(network)
        members = {p.switch for p in list(self.ports_by_network.get(network, {}).values())}
        return members | (self.edges() if net is not None and net.interdomain else set())

    def networks_on(self, switch: str) -> set[str]:
        """The networks whose view lists ``switch``: those with a port on it, and the inter-domain ones on an edge."""
        names = {p.network for p in list(self.ports.values()) if p.switch == switch}
        sw = self.switches.get(switch)
        if sw is not None and sw.domain_links:
            names |= {n for n, net in list(self.networks.items()) if net.interdomain}
        return names
