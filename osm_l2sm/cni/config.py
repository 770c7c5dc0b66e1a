"""What one CNI invocation asks for: the CNI_* environment plus the network configuration on stdin.

The node-wide defaults (switch name, controller URL, token, bridge) come, in this order, from the configuration,
the environment (``L2SM_SWITCH``, ``L2SM_CONTROLLER``, ``L2SM_CONTROLLER_TOKEN``), the node file written by the
Kubernetes chart (``/etc/l2sm/node.json``, or ``L2SM_NODE_FILE``) and finally the host name (switch only), because
Multus passes a NetworkAttachmentDefinition's config that does not know which node it runs on.
"""
from __future__ import annotations

import ipaddress
import json
import os
import socket
from dataclasses import dataclass, field

from .errors import DECODE_FAILURE, INCOMPATIBLE_VERSION, INVALID_CONFIG, INVALID_ENV, CniError

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")
COMMANDS = ("ADD", "DEL", "CHECK", "VERSION")
DEFAULT_NODE_FILE = "/etc/l2sm/node.json"
DEFAULT_BRIDGE = "br-l2sm"
DEFAULT_MTU = 1450  # fits a VXLAN overlay with a network tag inside a 1500 underlay
DEFAULT_OVS_RUNDIR = "/var/run/openvswitch"


@dataclass
class CniEnv:
    command: str
    container_id: str
    netns: str
    ifname: str
    args: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)


@dataclass
class NetConf:
    cni_version: str
    name: str
    network: str
    controller: str
    switch: str
    bridge: str
    ovs_rundir: str
    mtu: int
    ips: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]
    token: str | None = None
    prev_result: dict | None = None


def read_env(environ: dict[str, str]) -> CniEnv:
    """The CNI_* variables; which ones are required depends on the command."""
    command = environ.get("CNI_COMMAND", "")
    if command not in COMMANDS:
        raise CniError(INVALID_ENV, f"CNI_COMMAND must be one of {', '.join(COMMANDS)}, not {command!r}")
    env = CniEnv(command=command, container_id=environ.get("CNI_CONTAINERID", ""),
                 netns=environ.get("CNI_NETNS", ""), ifname=environ.get("CNI_IFNAME", ""),
                 path=[p for p in environ.get("CNI_PATH", "").split(os.pathsep) if p])
    for pair in filter(None, environ.get("CNI_ARGS", "").split(";")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise CniError(INVALID_ENV, f"CNI_ARGS item {pair!r} is not KEY=VALUE")
        env.args[key] = value
    required = {"ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
                "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
                "DEL": ("CNI_CONTAINERID", "CNI_IFNAME")}.get(command, ())
    missing = [name for name in required if not environ.get(name)]
    if missing:
        raise CniError(INVALID_ENV, f"{command} needs the environment variables {', '.join(missing)}")
    return env


def _node_file(environ: dict[str, str]) -> dict:
    path = environ.get("L2SM_NODE_FILE", DEFAULT_NODE_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise CniError(INVALID_CONFIG, f"node file {path} is unreadable: {err}") from err
    return data if isinstance(data, dict) else {}


def _requested_ips(raw: dict) -> list:
    """Addresses from the config, Multus' runtimeConfig or args.cni, whichever is set (in that order of weight)."""
    runtime = raw.get("runtimeConfig") or {}
    cni_args = (raw.get("args") or {}).get("cni") or {}
    for source in (runtime.get("ips"), cni_args.get("ips"), raw.get("ips")):
        if source:
            break
    else:
        return []
    if not isinstance(source, list):
        raise CniError(INVALID_CONFIG, "ips must be a list of \"IP/PREFIX\" strings")
    ips = []
    for item in source:
        if not isinstance(item, str) or "/" not in item:
            raise CniError(INVALID_CONFIG, f"ip {item!r} is not of the form IP/PREFIX")
        try:
            ips.append(ipaddress.ip_interface(item))
        except ValueError as err:
            raise CniError(INVALID_CONFIG, f"ip {item!r} is not valid: {err}") from err
    return ips


def parse_netconf(data: bytes | str, environ: dict[str, str]) -> NetConf:
    """Validate the network configuration; raise CniError with the spec's code on anything wrong."""
    try:
        raw = json.loads(data or b"")
    except ValueError as err:
        raise CniError(DECODE_FAILURE, f"network configuration is not JSON: {err}") from err
    if not isinstance(raw, dict):
        raise CniError(DECODE_FAILURE, "network configuration must be a JSON object")
    version = raw.get("cniVersion")
    if version not in SUPPORTED_VERSIONS:
        raise CniError(INCOMPATIBLE_VERSION, f"cniVersion {version!r} is not supported",
                       f"supported: {', '.join(SUPPORTED_VERSIONS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise CniError(INVALID_CONFIG, "network configuration needs a \"name\"")
    network = raw.get("network", name)
    if not isinstance(network, str) or not network:
        raise CniError(INVALID_CONFIG, "\"network\" must be a non-empty string")
    node = _node_file(environ)
    controller = raw.get("controller") or environ.get("L2SM_CONTROLLER") or node.get("controller")
    if not controller:
        raise CniError(INVALID_CONFIG, "no controller URL: set \"controller\", L2SM_CONTROLLER or the node file")
    switch = raw.get("switch") or environ.get("L2SM_SWITCH") or node.get("switch") or socket.gethostname()
    token = raw.get("token") or environ.get("L2SM_CONTROLLER_TOKEN") or node.get("token")
    bridge = raw.get("bridge") or node.get("bridge") or DEFAULT_BRIDGE
    ovsdb = raw.get("ovsdb") or ""
    if ovsdb and not ovsdb.startswith("unix:"):
        raise CniError(INVALID_CONFIG, f"ovsdb {ovsdb!r} must be unix:<path to db.sock>")
    ovs_rundir = raw.get("ovs_rundir") or (os.path.dirname(ovsdb[len("unix:"):]) if ovsdb else DEFAULT_OVS_RUNDIR)
    mtu = raw.get("mtu", DEFAULT_MTU)
    if not isinstance(mtu, int) or isinstance(mtu, bool) or not 576 <= mtu <= 9000:
        raise CniError(INVALID_CONFIG, f"mtu {mtu!r} must be an integer from 576 to 9000")
    return NetConf(cni_version=version, name=name, network=network, controller=controller, switch=switch,
                   bridge=bridge, ovs_rundir=ovs_rundir, mtu=mtu, ips=_requested_ips(raw), token=token,
                   prev_result=raw.get("prevResult"))
