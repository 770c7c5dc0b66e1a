"""What one CNI request asks for, as the plugin forwards it: the CNI_* environment and the network configuration.

The node's own settings (switch name, controller URL, token, bridge, OVS) are the daemon's :class:`NodeConfig`,
given when the daemon starts. A network configuration cannot change them: fields such as ``controller``, ``token``,
``switch``, ``bridge``, ``ovsdb`` or ``ovs_rundir`` in it are ignored, so whoever may write a
NetworkAttachmentDefinition cannot make the node send its token elsewhere or plug pods into another bridge.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from osm_l2sm.constants import POD_MTU

from .errors import DECODE_FAILURE, INVALID_CONFIG, INVALID_ENV, CniError
from .records import Result

COMMANDS = ("ADD", "DEL", "CHECK", "STATUS", "GC")
DEFAULT_MTU = POD_MTU
RESULT_VERSIONS = ("1.0.0", "1.1.0")  # what the daemon answers in; the plugin converts to older versions


@dataclass
class NodeConfig:
    switch: str
    controller: str
    bridge: str
    ovs_rundir: str
    token: str | None = None


@dataclass
class Request:
    command: str
    container_id: str
    netns: str
    ifname: str
    config: str
    args: dict[str, str] = field(default_factory=dict)


@dataclass
class NetConf:
    cni_version: str
    name: str
    network: str
    mtu: int
    ips: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]
    prev_result: Result | None = None
    valid_attachments: set[tuple[str, str]] = field(default_factory=set)  # GC: (containerID, ifname) to keep
    routes: list[dict] = field(default_factory=list)  # [{"dst": "CIDR", "gw": "IP"?}], the CNI result's form

    @property
    def result_version(self) -> str:
        return self.cni_version if self.cni_version in RESULT_VERSIONS else "1.0.0"


def parse_request(data: bytes) -> Request:
    """The plugin's request line; the plugin (the CNI library) has checked the environment already."""
    try:
        raw = json.loads(data)
    except ValueError as err:
        raise CniError(DECODE_FAILURE, f"request is not JSON: {err}") from err
    if not isinstance(raw, dict) or raw.get("command") not in COMMANDS:
        raise CniError(INVALID_ENV, f"CNI_COMMAND must be one of {', '.join(COMMANDS)}")
    req = Request(command=raw["command"], container_id=str(raw.get("containerID") or ""),
                  netns=str(raw.get("netns") or ""), ifname=str(raw.get("ifName") or ""),
                  config=str(raw.get("config") or ""))
    for pair in filter(None, str(raw.get("args") or "").split(";")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise CniError(INVALID_ENV, f"CNI_ARGS item {pair!r} is not KEY=VALUE")
        req.args[key] = value
    return req


def _object(raw: dict, key: str) -> dict:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CniError(INVALID_CONFIG, f"network configuration field {key!r} must be an object")
    return value


def _requested_ips(raw: dict) -> list:
    """Addresses from the ``ips`` capability (runtimeConfig), args.cni or the config itself, in that order."""
    runtime = _object(raw, "runtimeConfig")
    cni_args = _object(_object(raw, "args"), "cni")
    for where, source in (("runtimeConfig.ips", runtime.get("ips")), ("args.cni.ips", cni_args.get("ips")),
                          ("ips", raw.get("ips"))):
        if source:
            break
    else:
        return []
    if not isinstance(source, list):
        raise CniError(INVALID_CONFIG, f"{where} must be a list of \"IP/PREFIX\" strings")
    ips = []
    for item in source:
        if not isinstance(item, str) or "/" not in item:
            raise CniError(INVALID_CONFIG, f"{where}: {item!r} is not of the form IP/PREFIX")
        try:
            ips.append(ipaddress.ip_interface(item))
        except ValueError as err:
            raise CniError(INVALID_CONFIG, f"{where}: {item!r} is not valid: {err}") from err
    return ips


def _requested_routes(raw: dict) -> list[dict]:
    """Routes to add in the pod through this interface, from ``args.cni.routes`` (a Multus network selection
    element's ``cni-args``), in the CNI result's form ``{"dst": CIDR, "gw": IP}`` (``gw`` optional: on-link)."""
    source = _object(_object(raw, "args"), "cni").get("routes")
    if source is None:
        return []
    if not isinstance(source, list):
        raise CniError(INVALID_CONFIG, "args.cni.routes must be a list of {\"dst\": CIDR, \"gw\": IP} objects")
    routes = []
    for item in source:
        if not isinstance(item, dict) or not isinstance(item.get("dst"), str):
            raise CniError(INVALID_CONFIG, f"args.cni.routes: {item!r} is not a {{\"dst\": CIDR, \"gw\": IP}} object")
        try:
            route = {"dst": str(ipaddress.ip_network(item["dst"]))}
            if item.get("gw") is not None:
                route["gw"] = str(ipaddress.ip_address(item["gw"]))
        except (TypeError, ValueError) as err:
            raise CniError(INVALID_CONFIG, f"args.cni.routes: {item!r} is not valid: {err}") from err
        routes.append(route)
    return routes


def parse_netconf(data: str) -> NetConf:
    """Validate the network configuration; raise CniError with the spec's code on anything wrong."""
    try:
        raw = json.loads(data or "")
    except ValueError as err:
        raise CniError(DECODE_FAILURE, f"network configuration is not JSON: {err}") from err
    if not isinstance(raw, dict):
        raise CniError(DECODE_FAILURE, "network configuration must be a JSON object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise CniError(INVALID_CONFIG, "network configuration needs a \"name\"")
    network = raw.get("network", name)
    if not isinstance(network, str) or not network:
        raise CniError(INVALID_CONFIG, "\"network\" must be a non-empty string")
    if raw.get("ipam"):
        # The addresses of an L2S-M network are planned by the operator and passed with the ips capability; a
        # second allocator on the node would hand out addresses the plan does not know.
        raise CniError(INVALID_CONFIG, "\"ipam\" is not supported: give addresses with the ips capability "
                                       "(runtimeConfig.ips)")
    mtu = raw.get("mtu", DEFAULT_MTU)
    if not isinstance(mtu, int) or isinstance(mtu, bool) or not 576 <= mtu <= 9000:
        raise CniError(INVALID_CONFIG, f"mtu {mtu!r} must be an integer from 576 to 9000")
    prev = Result.from_json(raw["prevResult"]) if raw.get("prevResult") is not None else None
    valid = raw.get("cni.dev/valid-attachments", [])
    if not isinstance(valid, list) or not all(isinstance(v, dict) for v in valid):
        raise CniError(INVALID_CONFIG, "cni.dev/valid-attachments must be a list of objects")
    return NetConf(cni_version=str(raw.get("cniVersion", "")), name=name, network=network, mtu=mtu,
                   ips=_requested_ips(raw), prev_result=prev,
                   valid_attachments={(v.get("containerID"), v.get("ifname")) for v in valid},
                   routes=_requested_routes(raw))
