"""The controller's state: networks (with their tag ids), ports and registered switches.

Persisted as JSON on every change (temp file + rename, so a crash never leaves half a file). Runtime facts learned
from the switches (connection, OpenFlow port numbers) live here too but are not persisted: they are re-learned when
each switch (re)connects.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
import threading

from osm_l2sm.errors import L2smError

MAX_NETWORK_ID = 4094
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_DPID = re.compile(r"^[0-9a-f]{16}$")
_IFNAME = re.compile(r"^[^/\s]{1,15}$")


def check_name(value, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise L2smError(f"{what} must be 1-63 letters, digits, '-', '.' or '_' (got {value!r})", 400)
    return value


def check_interface(value, what: str = "interface") -> str:
    if not isinstance(value, str) or not _IFNAME.match(value):
        raise L2smError(f"{what} must be an interface name of 1-15 characters without '/' (got {value!r})", 400)
    return value


def check_mac(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _MAC.match(value.lower()):
        raise L2smError(f"mac must look like 02:00:00:00:00:01 (got {value!r})", 400)
    return value.lower()


def check_dpid(value) -> str:
    if not isinstance(value, str) or not _DPID.match(value.lower()):
        raise L2smError(f"dpid must be 16 hex digits (got {value!r})", 400)
    return value.lower()


def check_optional_text(value, what: str) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 256):
        raise L2smError(f"{what} must be a string of at most 256 characters", 400)
    return value


def check_cidr(value) -> str | None:
    """``None`` or an IP range such as 10.0.0.0/24 (host bits allowed); kept as given."""
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        raise L2smError(f"cidr must be an IP range such as 10.0.0.0/24 (got {value!r})", 400) from None
    return value


def check_interdomain(value) -> dict | None:
    """``None`` or ``{"tag": N}``: the global tag (1..4094) a network carries on domain links."""
    if value is None:
        return None
    tag = value.get("tag") if isinstance(value, dict) else None
    if not isinstance(tag, int) or isinstance(tag, bool) or not 1 <= tag <= MAX_NETWORK_ID:
        raise L2smError(f"interdomain must be {{\"tag\": 1..{MAX_NETWORK_ID}}} (got {value!r})", 400)
    return {"tag": tag}


def port_id(switch: str, interface: str) -> str:
    return f"{switch}/{interface}"


class State:
    """Networks, ports and switches, guarded by one lock; every mutation is saved before it returns."""

    def __init__(self, path: str | None = None):
        self.path = path
        self.lock = threading.RLock()
        self.networks: dict[str, dict] = {}   # name -> {"id", "cidr", "description"}
        self.ports: dict[str, dict] = {}      # "switch/interface" -> {"network", "switch", "interface", "mac"}
        self.switches: dict[str, dict] = {}   # name -> {"dpid", "tunnels": {peer: interface}}
        # runtime only
        self.connected: set[str] = set()
        self.ofports: dict[str, dict[str, int]] = {}  # switch -> {interface: ofport}
        if path and os.path.exists(path):
            self._load()

    # -- persistence -------------------------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            self.networks = dict(data.get("networks", {}))
            self.ports = dict(data.get("ports", {}))
            self.switches = dict(data.get("switches", {}))
        except (OSError, ValueError, AttributeError) as err:
            raise L2smError(f"cannot read controller state {self.path}: {err}") from err

    def save(self) -> None:
        if not self.path:
            return
        data = {"networks": self.networks, "ports": self.ports, "switches": self.switches}
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    # -- views -------------------------------------------------------------------------------------------------
    def network_view(self, name: str) -> dict:
        net = self.networks[name]
        ports = [self.port_view(pid) for pid in sorted(self.ports) if self.ports[pid]["network"] == name]
        view = {"name": name, "id": net["id"], "cidr": net.get("cidr"), "description": net.get("description"),
                "ports": ports}
        if net.get("interdomain"):
            view["interdomain"] = dict(net["interdomain"])
        return view

    def port_view(self, pid: str) -> dict:
        p = self.ports[pid]
        return {"id": pid, "network": p["network"], "switch": p["switch"], "interface": p["interface"],
                "mac": p.get("mac"), "ofport": self.ofports.get(p["switch"], {}).get(p["interface"])}

    def switch_view(self, name: str) -> dict:
        sw = self.switches[name]
        view = {"name": name, "dpid": sw["dpid"], "tunnels": dict(sw.get("tunnels", {})),
                "connected": name in self.connected, "ports": dict(self.ofports.get(name, {}))}
        if sw.get("domain_links"):
            view["domain_links"] = dict(sw["domain_links"])
        return view

    def list_networks(self) -> list[dict]:
        with self.lock:
            return [self.network_view(n) for n in sorted(self.networks)]

    def get_network(self, name: str) -> dict:
        with self.lock:
            if name not in self.networks:
                raise L2smError(f"no network named {name}", 404)
            return self.network_view(name)

    def list_ports(self) -> list[dict]:
        with self.lock:
            return [self.port_view(p) for p in sorted(self.ports)]

    def list_switches(self) -> list[dict]:
        with self.lock:
            return [self.switch_view(s) for s in sorted(self.switches)]

    def switch_by_dpid(self, dpid: str) -> str | None:
        for name, sw in self.switches.items():
            if sw["dpid"] == dpid:
                return name
        return None

    def switches_of_network(self, network: str) -> set[str]:
        """The switches whose flows depend on ``network``: those with its ports, and edges when inter-domain."""
        edges = {n for n, sw in self.switches.items() if sw.get("domain_links")}
        inter = (self.networks.get(network) or {}).get("interdomain")
        return {p["switch"] for p in self.ports.values() if p["network"] == network} | (edges if inter else set())

    def topology(self) -> dict:
        with self.lock:
            return self._topology()

    def _topology(self) -> dict:
        links = []
        names = sorted(self.switches)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                a_if = self.switches[a].get("tunnels", {}).get(b)
                b_if = self.switches[b].get("tunnels", {}).get(a)
                if a_if or b_if:
                    links.append({"a": a, "b": b, "a_interface": a_if, "b_interface": b_if})
        return {"switches": [self.switch_view(n) for n in names], "links": links}

    # -- mutations (each returns what it changed and the switches whose flows it affects) -----------------------
    def create_network(self, name, cidr=None, description=None, interdomain=None) -> tuple[dict, bool]:
        """Create (or find an equal) network; returns (view, created)."""
        check_name(name, "network name")
        check_cidr(cidr)
        check_optional_text(description, "description")
        interdomain = check_interdomain(interdomain)
        with self.lock:
            if name in self.networks:
                net = self.networks[name]
                if (net.get("cidr") != cidr or net.get("description") != description
                        or net.get("interdomain") != interdomain):
                    raise L2smError(f"network {name} already exists with other fields", 409)
                return self.network_view(name), False
            used = {n["id"] for n in self.networks.values()}
            free = next((i for i in range(1, MAX_NETWORK_ID + 1) if i not in used), None)
            if free is None:
                raise L2smError(f"no network id left (at most {MAX_NETWORK_ID} networks)", 409)
            tag = interdomain and interdomain["tag"]
            owner = next((n for n, v in self.networks.items() if tag and (v.get("interdomain") or {}).get("tag") == tag),
                         None)
            if owner:
                raise L2smError(f"interdomain tag {tag} is already used by network {owner}", 409)
            self.networks[name] = {"id": free, "cidr": cidr, "description": description}
            if interdomain:
                self.networks[name]["interdomain"] = interdomain
            self.save()
            return self.network_view(name), True

    def delete_network(self, name: str) -> set[str]:
        with self.lock:
            if name not in self.networks:
                raise L2smError(f"no network named {name}", 404)
            affected = set(self.switches)
            del self.networks[name]
            for pid in [pid for pid, p in self.ports.items() if p["network"] == name]:
                del self.ports[pid]
            self.save()
            return affected

    def attach_port(self, network, switch, interface, mac=None) -> tuple[dict, bool]:
        check_name(network, "network")
        check_name(switch, "switch")
        check_interface(interface)
        mac = check_mac(mac)
        with self.lock:
            if network not in self.networks:
                raise L2smError(f"no network named {network}", 404)
            pid = port_id(switch, interface)
            old = self.ports.get(pid)
            if old and old["network"] != network:
                raise L2smError(f"{pid} is already attached to network {old['network']}", 409)
            new = {"network": network, "switch": switch, "interface": interface, "mac": mac}
            if old == new:
                return self.port_view(pid), False
            self.ports[pid] = new
            self.save()
            return self.port_view(pid), True

    def detach_port(self, switch: str, interface: str) -> None:
        with self.lock:
            pid = port_id(switch, interface)
            if pid not in self.ports:
                raise L2smError(f"no port {pid}", 404)
            del self.ports[pid]
            self.save()

    def register_switch(self, name, dpid, tunnels, domain_links=None) -> dict:
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
            record = {"dpid": dpid, "tunnels": dict(tunnels)}
            if domain_links:
                record["domain_links"] = dict(domain_links)
            if self.switches.get(name) != record:
                self.switches[name] = record
                self.save()
            return self.switch_view(name)

    def unregister_switch(self, name: str) -> None:
        with self.lock:
            if name not in self.switches:
                raise L2smError(f"no switch named {name}", 404)
            del self.switches[name]
            self.connected.discard(name)
            self.ofports.pop(name, None)
            self.save()
