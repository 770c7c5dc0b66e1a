"""What the REST API shows of the controller's state: networks with their ports and per-switch progress, ports,
switches and the topology, derived from the records and the runtime facts (a part of :class:`~.state.State`: call
on the state). Reads take no lock (see :mod:`.state`).

GET /networks of a large state: each network's JSON is kept until the network (or an ofport of one of its ports)
changes; a change stamps the network with a new version after the change is made."""
from __future__ import annotations

import itertools
import json

from osm_l2sm.errors import L2smError

from .records import Port


class Views:
    """The views, and the cache of each network's view as JSON text."""

    def __init__(self):
        self._versions: dict[str, int] = {}
        self._clock = itertools.count(1)
        self._json: dict[str, tuple[int, str]] = {}

    def network_view(self, name: str) -> dict:
        net = self.networks[name]
        members = dict(self.ports_by_network.get(name, {}))
        view = {"name": name, "id": net.id, "cidr": net.cidr, "description": net.description,
                "ports": [self.port_view(pid, members[pid]) for pid in sorted(members)]}
        if net.interdomain:
            view["interdomain"] = dict(net.interdomain)
        view["switches"] = self.network_progress(name, members.values())
        return view

    def network_progress(self, name: str, members) -> dict:
        """Per switch carrying network ``name`` (whose ports are ``members``): connected, and whether the switch
        acknowledged the network's flows as last computed ("acknowledged") or not yet ("pending")."""
        sessions = self.runtime.sessions
        net = self.networks.get(name)
        carrying = {p.switch for p in members} | (self.edges() if net is not None and net.interdomain else set())
        progress = {}
        for switch in sorted(carrying):
            session = sessions.get(switch)
            seq = session and session.network_batch.get(name, session.resynced)
            done = session is not None and seq is not None and session.acked >= seq
            progress[switch] = {"connected": session is not None, "flows": "acknowledged" if done else "pending"}
        return progress

    def port_view(self, pid: str, port: Port | None = None) -> dict:
        p = port or self.ports[pid]
        view = {"id": pid, "network": p.network, "switch": p.switch, "interface": p.interface, "mac": p.mac,
                "ofport": self.runtime.ofports.get(p.switch, {}).get(p.interface)}
        if p.ips:
            view["ips"] = list(p.ips)
        return view

    def switch_view(self, name: str) -> dict:
        sw = self.switches[name]
        view = {"name": name, "dpid": sw.dpid, "tunnels": dict(sw.tunnels),
                "connected": name in self.runtime.sessions, "ports": dict(self.runtime.ofports.get(name, {}))}
        if sw.domain_links:
            view["domain_links"] = dict(sw.domain_links)
        return view

    def changed(self, *networks) -> None:
        """Stamp ``networks`` with a new version: their cached JSON is stale (call after the change)."""
        for name in networks:
            self._versions[name] = next(self._clock)

    def forget_json(self, name: str) -> None:
        """Drop the cached JSON of a deleted network."""
        self._json.pop(name, None)

    def network_json(self, name: str) -> str:
        """``network_view(name)`` as JSON text, from the cache while the network is unchanged."""
        version = self._versions.get(name)  # read before the view: a change during it gives a newer version
        cached = self._json.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        text = json.dumps(self.network_view(name), separators=(",", ":"))
        self._json[name] = (version, text)
        return text

    def _each_network(self, view) -> list:
        """``view(name)`` of every network by name, leaving out those deleted while we read."""
        views = []
        for name in sorted(dict(self.networks)):
            try:
                views.append(view(name))
            except KeyError:
                pass  # deleted while we read
        return views

    def list_networks_json(self) -> str:
        return "[" + ",".join(self._each_network(self.network_json)) + "]"

    def list_networks(self) -> list[dict]:
        return self._each_network(self.network_view)

    def get_network(self, name: str) -> dict:
        try:
            return self.network_view(name)
        except KeyError:
            raise L2smError(f"no network named {name}", 404) from None

    def list_ports(self) -> list[dict]:
        ports = dict(self.ports)
        return [self.port_view(pid, ports[pid]) for pid in sorted(ports)]

    def list_switches(self) -> list[dict]:
        switches = dict(self.switches)
        return [self.switch_view(s) for s in sorted(switches) if s in self.switches]

    def topology(self) -> dict:
        switches = dict(self.switches)
        links = []
        names = sorted(switches)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                a_if = switches[a].tunnels.get(b)
                b_if = switches[b].tunnels.get(a)
                if a_if or b_if:
                    links.append({"a": a, "b": b, "a_interface": a_if, "b_interface": b_if})
        return {"switches": [self.switch_view(n) for n in names if n in self.switches], "links": links}
