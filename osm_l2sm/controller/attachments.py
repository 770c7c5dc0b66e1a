"""Ports (a network's attachment on a switch interface), the addresses they hold, and the OpenFlow port numbers the
switches report for them (a part of :class:`~.state.State`: call on the state)."""
from __future__ import annotations

from dataclasses import replace

from osm_l2sm.errors import L2smError

from .addresses import bare, check_ips, parse_ips
from .checks import check_interface, check_mac, check_name
from .records import Port, port_id


class Attachments:
    """Attach and detach ports; learn the port numbers of a switch's interfaces."""

    # -- records and indexes ------------------------------------------------------------------------------------
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

    # -- port numbers reported by the switches ------------------------------------------------------------------
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

    # -- attach and detach --------------------------------------------------------------------------------------
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
