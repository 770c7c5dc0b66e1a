"""The controller's typed records: network, port, switch and tunnel, immutable (a change replaces the record).

Each record turns into the JSON object it is stored as (:meth:`to_json`) and back (``from_json``). Records also read
like that object (``record["id"]``, ``record.get("mac")``), which keeps code written against the stored form working.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields


class _Readable:
    """Read access by field name, as on the stored JSON object."""

    def __getitem__(self, key):
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key) if key in self._names() else default

    @classmethod
    def _names(cls) -> frozenset:
        names = cls.__dict__.get("_field_names")
        if names is None:
            names = frozenset(f.name for f in fields(cls))
            cls._field_names = names
        return names


@dataclass(frozen=True)
class Network(_Readable):
    name: str
    id: int
    cidr: str | None = None
    description: str | None = None
    interdomain: dict | None = None  # {"tag": N}: the global tag on domain links (docs/multidomain.md)

    @property
    def tag(self) -> int | None:
        return (self.interdomain or {}).get("tag")

    def to_json(self) -> dict:
        data = {"id": self.id, "cidr": self.cidr, "description": self.description}
        if self.interdomain:
            data["interdomain"] = dict(self.interdomain)
        return data

    @staticmethod
    def from_json(name: str, data: dict) -> "Network":
        inter = data.get("interdomain")
        return Network(name, int(data["id"]), data.get("cidr"), data.get("description"), dict(inter) if inter else None)


@dataclass(frozen=True)
class Port(_Readable):
    switch: str
    interface: str
    network: str
    mac: str | None = None
    ips: tuple = ()  # the interface's addresses with prefix ("10.0.0.5/24"), when the attacher gave them
    # the switch has reported this interface once: when it is missing from the switch's port list at a later
    # connection, the interface is gone (its pod deleted while the controller was down, or its node crashed). A port
    # never seen may be registered ahead of its interface (docs/controller-api.md) and is kept.
    seen: bool = field(default=False, compare=False)

    @property
    def id(self) -> str:
        return port_id(self.switch, self.interface)

    def to_json(self) -> dict:
        data = {"network": self.network, "switch": self.switch, "interface": self.interface, "mac": self.mac}
        if self.seen:
            data["seen"] = True
        if self.ips:
            data["ips"] = list(self.ips)
        return data

    @staticmethod
    def from_json(data: dict) -> "Port":
        return Port(data["switch"], data["interface"], data["network"], data.get("mac"), tuple(data.get("ips") or ()),
                    bool(data.get("seen")))


@dataclass(frozen=True, order=True)
class Tunnel:
    """The interface of ``switch`` that reaches ``peer`` (one per ordered pair of switches)."""
    switch: str
    peer: str
    interface: str


@dataclass(frozen=True)
class Switch(_Readable):
    name: str
    dpid: str
    tunnels: dict = field(default_factory=dict)       # peer switch -> tunnel interface
    domain_links: dict = field(default_factory=dict)  # peer cluster -> interface (edge switches only)

    def tunnel_records(self) -> list[Tunnel]:
        return [Tunnel(self.name, peer, ifname) for peer, ifname in sorted(self.tunnels.items())]

    def to_json(self) -> dict:
        data = {"dpid": self.dpid, "tunnels": dict(self.tunnels)}
        if self.domain_links:
            data["domain_links"] = dict(self.domain_links)
        return data

    @staticmethod
    def from_json(name: str, data: dict) -> "Switch":
        return Switch(name, data["dpid"], dict(data.get("tunnels") or {}), dict(data.get("domain_links") or {}))


def port_id(switch: str, interface: str) -> str:
    return f"{switch}/{interface}"
