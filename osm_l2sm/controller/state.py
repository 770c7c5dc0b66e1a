"""The controller's state: networks (with their tag ids), ports and registered switches, as typed records.

Every change is one line appended to the state journal (:mod:`.store`) before it is acknowledged. Runtime facts
learned from the switches (:class:`Runtime`: connections, datapaths, OpenFlow port numbers, cookie generations) are
kept in one place beside the records and are not persisted: they are re-learned when each switch (re)connects.

Writers hold ``lock``; readers (the REST GETs) do not: records are immutable and replaced whole, and readers copy
the dicts they walk (a copy of a dict is atomic in CPython), so a read sees each record before or after a change.
"""
from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field, replace

from osm_l2sm.errors import L2smError

from .addresses import bare, check_ips, parse_ips
from .checks import (MAX_NETWORK_ID, check_cidr, check_dpid, check_interdomain, check_interface, check_mac,
                     check_name, check_network_id, check_optional_text)
from .records import Network, Port, Switch, port_id
from .store import Journal

@dataclass
class Runtime:
    """What the controller learns from the switches while it runs (never persisted)."""
    connected: set = field(default_factory=set)       # switch names with a live OpenFlow connection
    datapaths: dict = field(default_factory=dict)     # switch name -> datapath
    unknown: dict = field(default_factory=dict)       # dpid -> (datapath, ports) of a switch not registered (yet)
    ofports: dict = field(default_factory=dict)       # switch name -> {interface: ofport}
    generation: dict = field(default_factory=dict)    # switch name -> cookie generation of its installed flows
    flows: dict = field(default_factory=dict)         # switch name -> {network: flows sent for it}
    queued: dict = field(default_factory=dict)        # switch name -> last flow batch queued (1, 2, ...)
    acked: dict = field(default_factory=dict)         # switch name -> last batch the switch acknowledged
    resynced: dict = field(default_factory=dict)      # switch name -> batch of its last full resync
    network_batch: dict = field(default_factory=dict)  # switch name -> {network: last batch changing its flows}
    batch_networks: dict = field(default_factory=dict)  # switch name -> {batch not yet acknowledged: networks}
    # switches whose ports this controller holds completely (from its journal, or their node announced them all):
    # only their flows that nothing here produces are swept (those an earlier controller left)
    settled: set = field(default_factory=set)
    unsettled: dict = field(default_factory=dict)     # switch name -> when it counts as settled without its node
    unswept: dict = field(default_factory=dict)       # connected switch not swept yet -> when it is swept anyway


class State:
    """Networks, ports and switches; every mutation holds ``lock`` and is journaled before it returns."""

    def __init__(self, path: str | None = None):
        self.path = path
        self.lock = threading.RLock()
        self.networks: dict[str, Network] = {}
        self.ports: dict[str, Port] = {}                        # "switch/interface" -> port
        self.switches: dict[str, Switch] = {}
        self.ports_by_network: dict[str, dict[str, Port]] = {}  # index: network -> {port id: port}
        self.addresses: dict[str, dict[str, str]] = {}          # index: network -> {bare address: port id}
        self.runtime = Runtime()
        # GET /networks of a large state: each network's JSON is kept until the network (or an ofport of one of its
        # ports) changes; a change stamps the network with a new version after the change is made
        self._versions: dict[str, int] = {}
        self._clock = itertools.count(1)
        self._json: dict[str, tuple[int, str]] = {}
        self.journal = Journal(path)
        data = self.journal.load()
        try:
            for name, value in data["networks"].items():
                self._put_network(Network.from_json(name, value))
            for value in data["ports"].values():
                self._put_port(Port.from_json(value))
            for name, value in data["switches"].items():
                self.switches[name] = Switch.from_json(name, value)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise L2smError(f"cannot read controller state {path}: bad record ({err!r})") from err
        self.runtime.settled = set(self.switches)  # their ports were journaled with them

    # runtime facts, under the names the flow computation and the tests use
    @property
    def connected(self) -> set:
        return self.runtime.connected

    @property
    def ofports(self) -> dict:
        return self.runtime.ofports

    @ofports.setter
    def ofports(self, value: dict) -> None:
        self.runtime.ofports = value

    # -- persistence and indexes ------------------------------------------------------------------------------
    def _put_network(self, net: Network) -> None:
        self.networks[net.name] = net
        self.ports_by_network.setdefault(net.name, {})

    def _put_port(self, port: Port) -> None:
        old = self.ports.get(port.id)
        if old is not None:
            self._release_addresses(old)  # a port attached again may have other addresses
        self.ports[port.id] = port  # replaced in place: a reader sees the old port or the new one
        self.ports_by_network.setdefault(port.network, {})[port.id] = port
        held = self.addresses.setdefault(port.network, {})
        for ip in port.ips:
            held[bare(ip)] = port.id

    def _release_addresses(self, port: Port) -> None:
        held = self.addresses.get(port.network, {})
        for ip in port.ips:
            if held.get(bare(ip)) == port.id:
                del held[bare(ip)]

    def _drop_port(self, pid: str) -> Port:
        port = self.ports.pop(pid)
        self.ports_by_network.get(port.network, {}).pop(pid, None)
        self._release_addresses(port)
        return port

    def _journal(self, put=(), delete=()) -> None:
        self.journal.append(put, delete)
        if self.journal.wants_compaction(len(self.networks) + len(self.ports) + len(self.switches)):
            self.journal.compact(self.snapshot())

    def snapshot(self) -> dict:
        """The records as stored JSON, by kind."""
        return {"networks": {n: v.to_json() for n, v in self.networks.items()},
                "ports": {p: v.to_json() for p, v in self.ports.items()},
                "switches": {n: v.to_json() for n, v in self.switches.items()}}

    def close(self) -> None:
        self.journal.close()

    # -- views (no lock: see the module doc) --------------------------------------------------------------------
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
        rt = self.runtime
        net = self.networks.get(name)
        carrying = {p.switch for p in members} | (self.edges() if net is not None and net.interdomain else set())
        progress = {}
        for switch in sorted(carrying):
            connected = switch in rt.connected
            seq = rt.network_batch.get(switch, {}).get(name, rt.resynced.get(switch))
            done = connected and seq is not None and rt.acked.get(switch, 0) >= seq
            progress[switch] = {"connected": connected, "flows": "acknowledged" if done else "pending"}
        return progress

    def networks_on(self, switch: str) -> set[str]:
        """The networks whose view lists ``switch``: those with a port on it, and the inter-domain ones on an edge."""
        names = {p.network for p in list(self.ports.values()) if p.switch == switch}
        sw = self.switches.get(switch)
        if sw is not None and sw.domain_links:
            names |= {n for n, net in list(self.networks.items()) if net.interdomain}
        return names

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
                "connected": name in self.runtime.connected, "ports": dict(self.runtime.ofports.get(name, {}))}
        if sw.domain_links:
            view["domain_links"] = dict(sw.domain_links)
        return view

    def changed(self, *networks) -> None:
        """Stamp ``networks`` with a new version: their cached JSON is stale (call after the change)."""
        for name in networks:
            self._versions[name] = next(self._clock)

    def network_json(self, name: str) -> str:
        """``network_view(name)`` as JSON text, from the cache while the network is unchanged."""
        version = self._versions.get(name)  # read before the view: a change during it gives a newer version
        cached = self._json.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        text = json.dumps(self.network_view(name), separators=(",", ":"))
        self._json[name] = (version, text)
        return text

    def list_networks_json(self) -> str:
        parts = []
        for name in sorted(dict(self.networks)):
            try:
                parts.append(self.network_json(name))
            except KeyError:
                pass  # deleted while we read
        return "[" + ",".join(parts) + "]"

    def list_networks(self) -> list[dict]:
        views = []
        for name in sorted(dict(self.networks)):
            try:
                views.append(self.network_view(name))
            except KeyError:
                pass  # deleted while we read
        return views

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

    # -- runtime facts that show in the views -------------------------------------------------------------------
    def learn_ports(self, switch: str, ports: dict[str, int]) -> None:
        """All the OpenFlow port numbers of ``switch`` (at connection)."""
        with self.lock:
            self.runtime.ofports[switch] = dict(ports)
            mine = [p for p in self.ports.values() if p.switch == switch]
            self._mark_seen([p for p in mine if p.interface in ports])
            self.changed(*{p.network for p in mine})

    def gone_ports(self, switch: str, ports: dict[str, int]) -> list[Port]:
        """The ports of ``switch`` it has reported once but not in ``ports``, its port list at a new connection."""
        with self.lock:
            return [p for p in self.ports.values() if p.switch == switch and p.seen and p.interface not in ports]

    def _mark_seen(self, ports) -> None:
        seen = [replace(p, seen=True) for p in ports if not p.seen]
        if seen:
            self._journal(put=[("ports", p.id, p.to_json()) for p in seen])
            for port in seen:
                self._put_port(port)

    def learn_port(self, switch: str, interface: str, ofport: int | None) -> bool:
        """One port number (``None``: the port is gone); False when nothing changed."""
        with self.lock:
            ports = self.runtime.ofports.setdefault(switch, {})
            if ports.get(interface) == ofport:
                return False
            if ofport is None:
                ports.pop(interface, None)
            else:
                ports[interface] = ofport
            port = self.ports.get(port_id(switch, interface))
            if port is not None:
                if ofport is not None:
                    self._mark_seen([port])
                self.changed(port.network)
            return True

    # -- mutations (each holds the lock, journals the change, and returns what changed) ------------------------
    def create_network(self, name, cidr=None, description=None, interdomain=None,
                       network_id=None) -> tuple[dict, bool]:
        """Create (or find an equal) network; returns (view, created). ``network_id``: the id a new network gets
        when no other network holds it (the one it had under an earlier controller, whose flows the switches
        still hold); else, as without it, the lowest free id."""
        check_name(name, "network name")
        check_cidr(cidr)
        check_optional_text(description, "description")
        interdomain = check_interdomain(interdomain)
        check_network_id(network_id)
        with self.lock:
            if name in self.networks:
                net = self.networks[name]
                if net.cidr != cidr or net.description != description or net.interdomain != interdomain:
                    raise L2smError(f"network {name} already exists with other fields", 409)
                return self.network_view(name), False
            used = {n.id for n in self.networks.values()}
            free = network_id if network_id and network_id not in used else None
            free = free or next((i for i in range(1, MAX_NETWORK_ID + 1) if i not in used), None)
            if free is None:
                raise L2smError(f"no network id left (at most {MAX_NETWORK_ID} networks)", 409)
            tag = interdomain and interdomain["tag"]
            owner = next((n for n, v in self.networks.items() if tag and v.tag == tag), None)
            if owner:
                raise L2smError(f"interdomain tag {tag} is already used by network {owner}", 409)
            net = Network(name, free, cidr, description, interdomain)
            self._journal(put=[("networks", name, net.to_json())])
            self._put_network(net)
            self.changed(name)
            return self.network_view(name), True

    def delete_network(self, name: str) -> None:
        with self.lock:
            if name not in self.networks:
                raise L2smError(f"no network named {name}", 404)
            pids = sorted(self.ports_by_network.get(name, {}))
            self._journal(delete=[("networks", name)] + [("ports", pid) for pid in pids])
            for pid in pids:
                self._drop_port(pid)
            del self.networks[name]
            self.ports_by_network.pop(name, None)
            self.addresses.pop(name, None)
            self.changed(name)
            self._json.pop(name, None)

    def attach_port(self, network, switch, interface, mac=None, ips=None) -> tuple[dict, bool]:
        check_name(network, "network")
        check_name(switch, "switch")
        check_interface(interface)
        mac = check_mac(mac)
        ips = parse_ips(ips)
        with self.lock:
            if network not in self.networks:
                raise L2smError(f"no network named {network}", 404)
            pid = port_id(switch, interface)
            old = self.ports.get(pid)
            if old and old.network != network:
                raise L2smError(f"{pid} is already attached to network {old.network}", 409)
            check_ips(ips, network, self.networks[network].cidr, pid, self.addresses.get(network, {}))
            new = Port(switch, interface, network, mac, ips,
                       seen=old.seen if old else interface in self.runtime.ofports.get(switch, {}))
            if old == new:
                return self.port_view(pid), False
            self._journal(put=[("ports", pid, new.to_json())])
            self._put_port(new)
            self.changed(network)
            return self.port_view(pid), True

    def detach_port(self, switch: str, interface: str) -> Port:
        with self.lock:
            pid = port_id(switch, interface)
            if pid not in self.ports:
                raise L2smError(f"no port {pid}", 404)
            self._journal(delete=[("ports", pid)])
            port = self._drop_port(pid)
            self.changed(port.network)
            return port

    def register_switch(self, name, dpid, tunnels, domain_links=None) -> tuple[dict, bool]:
        """Register or update a switch; returns (view, changed)."""
        check_name(name, "switch name")
        dpid = check_dpid(dpid)
        if tunnels is None:
            tunnels = {}
        if not isinstance(tunnels, dict):
            raise L2smError("tunnels must be an object {peer switch: tunnel interface}", 400)
        for peer, ifname in tunnels.items():
            check_name(peer, "peer switch")
            check_interface(ifname, "tunnel interface")
        domain_links = domain_links or {}
        if not isinstance(domain_links, dict):
            raise L2smError("domain_links must be an object {peer cluster: interface}", 400)
        for peer, ifname in domain_links.items():
            check_name(peer, "peer cluster")
            check_interface(ifname, "domain link interface")
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

    def unregister_switch(self, name: str) -> None:
        with self.lock:
            if name not in self.switches:
                raise L2smError(f"no switch named {name}", 404)
            gone = [pid for pid, port in self.ports.items() if port.switch == name]  # its node's ports go with it
            self._journal(delete=[("switches", name)] + [("ports", pid) for pid in gone])
            del self.switches[name]
            for held in (self.runtime.connected, self.runtime.settled):
                held.discard(name)
            for held in (self.runtime.unsettled, self.runtime.unswept, self.runtime.ofports):
                held.pop(name, None)
            self.changed(*{self._drop_port(pid).network for pid in gone})
