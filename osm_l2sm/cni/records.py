"""The CNI records the daemon reads and writes, as small types: the result of ADD (also what ``prevResult`` brings
from an earlier plugin of the chain, in CNI 1.x form), and the daemon's own record of one attachment.

Each parses from and serializes to the JSON of the CNI specification (result) or of ``cni-attachments.json``
(attachment). Fields of a result this daemon does not use (an interface's ``mtu``, a route's ``table``, ...) are
kept as they came, so a result passed along the chain loses nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import INVALID_CONFIG, CniError


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise CniError(INVALID_CONFIG, f"{where} must be an object")
    return value


def _list(value, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CniError(INVALID_CONFIG, f"{where} must be a list")
    return value


def _rest(raw: dict, known: tuple[str, ...]) -> dict:
    return {k: v for k, v in raw.items() if k not in known}


@dataclass
class Interface:
    name: str
    mac: str = ""
    sandbox: str = ""  # the pod's netns path; empty for a host interface
    other: dict = field(default_factory=dict)

    KNOWN = ("name", "mac", "sandbox")

    @classmethod
    def from_json(cls, raw, where: str = "interface") -> Interface:
        raw = _object(raw, where)
        return cls(str(raw.get("name") or ""), str(raw.get("mac") or ""), str(raw.get("sandbox") or ""),
                   _rest(raw, cls.KNOWN))

    def to_json(self) -> dict:
        out = {"name": self.name, "mac": self.mac}
        if self.sandbox:
            out["sandbox"] = self.sandbox
        return {**out, **self.other}


@dataclass
class IpConfig:
    address: str  # IP/PREFIX
    interface: int | None = None  # index into the result's interfaces
    other: dict = field(default_factory=dict)  # gateway, ...

    KNOWN = ("address", "interface", "version")  # version: CNI 0.x only, dropped in a 1.x result

    @classmethod
    def from_json(cls, raw, where: str = "ip") -> IpConfig:
        raw = _object(raw, where)
        interface = raw.get("interface")
        return cls(str(raw.get("address") or ""), interface if isinstance(interface, int) else None,
                   _rest(raw, cls.KNOWN))

    def to_json(self) -> dict:
        out: dict = {"address": self.address}
        if self.interface is not None:
            out["interface"] = self.interface
        return {**out, **self.other}


@dataclass
class Route:
    dst: str  # CIDR
    gw: str | None = None  # None: on-link
    other: dict = field(default_factory=dict)

    KNOWN = ("dst", "gw")

    @classmethod
    def from_json(cls, raw, where: str = "route") -> Route:
        raw = _object(raw, where)
        return cls(str(raw.get("dst") or ""), raw.get("gw"), _rest(raw, cls.KNOWN))

    def to_json(self) -> dict:
        out = {"dst": self.dst}
        if self.gw is not None:
            out["gw"] = self.gw
        return {**out, **self.other}


@dataclass
class Result:
    """A CNI 1.x result (the plugin converts it to the configuration's version)."""

    cni_version: str
    interfaces: list[Interface] = field(default_factory=list)
    ips: list[IpConfig] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    dns: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw, where: str = "prevResult") -> Result:
        raw = _object(raw, where)
        return cls(str(raw.get("cniVersion") or ""),
                   [Interface.from_json(i, f"{where}.interfaces[]") for i in _list(raw.get("interfaces"),
                                                                                    f"{where}.interfaces")],
                   [IpConfig.from_json(i, f"{where}.ips[]") for i in _list(raw.get("ips"), f"{where}.ips")],
                   [Route.from_json(r, f"{where}.routes[]") for r in _list(raw.get("routes"), f"{where}.routes")],
                   dict(_object(raw.get("dns") or {}, f"{where}.dns")))

    def to_json(self) -> dict:
        out: dict = {"cniVersion": self.cni_version, "interfaces": [i.to_json() for i in self.interfaces],
                     "ips": [ip.to_json() for ip in self.ips]}
        if self.routes:
            out["routes"] = [r.to_json() for r in self.routes]
        if self.dns:
            out["dns"] = self.dns
        return out


@dataclass
class Attachment:
    """What the daemon made for one ADD (a record of ``cni-attachments.json``, keyed by the host interface)."""

    name: str  # the network configuration's name (GC goes by it)
    network: str
    netns: str
    container_id: str
    ifname: str
    mac: str | None = None  # None in records of versions that did not keep it
    ips: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: dict) -> Attachment:
        return cls(raw.get("name", ""), raw.get("network", ""), raw.get("netns", ""), raw.get("containerID", ""),
                   raw.get("ifname", ""), raw.get("mac"), list(raw.get("ips") or []))

    def to_json(self) -> dict:
        return {"name": self.name, "network": self.network, "netns": self.netns, "containerID": self.container_id,
                "ifname": self.ifname, "mac": self.mac, "ips": list(self.ips)}
