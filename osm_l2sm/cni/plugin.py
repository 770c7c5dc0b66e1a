"""`l2sm-cni`: the CNI 1.0 plugin that plugs a pod into an L2S-M network.

ADD makes a veth into the pod, plugs its host end into the node's OVS bridge and registers the port with the
controller; any failure undoes what was done so far. DEL is idempotent. CHECK verifies the interface, its addresses
and the controller's port. The runtime runs this in the node's network namespace, where the node's OVS runs.
"""
from __future__ import annotations

import json
import os
import sys
from typing import NoReturn

from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError
from osm_l2sm.switch import OvsInstance, add_port, del_port, port_names

from . import link
from .config import SUPPORTED_VERSIONS, CniEnv, NetConf, parse_netconf, read_env
from .errors import INVALID_CONFIG, OTHER, TRY_AGAIN_LATER, CniError


def _controller_error(err: L2smError, what: str) -> CniError:
    status = getattr(err, "status", None)
    if status in (400, 404, 409):
        return CniError(INVALID_CONFIG, f"{what}: {err}")
    return CniError(TRY_AGAIN_LATER, f"{what}: {err}")


def _client(conf: NetConf) -> ControllerClient:
    return ControllerClient(conf.controller, token=conf.token)


def _ovs(conf: NetConf) -> OvsInstance:
    return OvsInstance(conf.ovs_rundir)


def cmd_add(env: CniEnv, conf: NetConf) -> dict:
    client = _client(conf)
    try:
        client.get_network(conf.network)  # fail before touching anything when it is unknown or unreachable
    except L2smError as err:
        raise _controller_error(err, f"network {conf.network}") from err
    undo = []
    try:
        pod_link = link.create(env.container_id, env.netns, env.ifname, conf.mtu)
        undo.append(lambda: link.delete_host_end(pod_link.host_if))
        link.add_addresses(env.netns, env.ifname, conf.ips)
        ovs = _ovs(conf)
        try:
            add_port(ovs, conf.bridge, pod_link.host_if)
        except L2smError as err:
            raise CniError(OTHER, f"cannot add {pod_link.host_if} to bridge {conf.bridge}: {err}") from err
        undo.append(lambda: del_port(ovs, conf.bridge, pod_link.host_if))
        try:
            client.attach_port(conf.network, conf.switch, pod_link.host_if, mac=pod_link.pod_mac)
        except L2smError as err:
            raise _controller_error(err, f"cannot attach to network {conf.network}") from err
    except BaseException:
        for step in reversed(undo):
            try:
                step()
            except Exception:  # keep undoing; the original error is what the runtime must see
                pass
        raise
    return {
        "cniVersion": conf.cni_version,
        "interfaces": [
            {"name": pod_link.host_if, "mac": pod_link.host_mac},
            {"name": pod_link.pod_if, "mac": pod_link.pod_mac, "sandbox": env.netns},
        ],
        "ips": [{"address": str(ip), "interface": 1} for ip in conf.ips],
        "dns": {},
    }


def cmd_del(env: CniEnv, conf: NetConf) -> None:
    host_if = link.host_ifname(env.container_id, env.ifname)
    del_port(_ovs(conf), conf.bridge, host_if)
    if not link.delete_host_end(host_if):
        link.delete_pod_end(env.netns, env.ifname)
    try:
        _client(conf).detach_port(conf.switch, host_if)
    except L2smError as err:
        if getattr(err, "status", None) != 404:
            raise _controller_error(err, f"cannot detach {host_if}") from err


def cmd_check(env: CniEnv, conf: NetConf) -> None:
    host_if = link.host_ifname(env.container_id, env.ifname)
    state = link.pod_end_state(env.netns, env.ifname)
    if state is None:
        raise CniError(OTHER, f"interface {env.ifname} is missing in {env.netns}")
    if not link.host_end_exists(host_if):
        raise CniError(OTHER, f"host interface {host_if} is missing")
    mac, addrs = state
    missing = {str(ip) for ip in conf.ips} - addrs
    if missing:
        raise CniError(OTHER, f"{env.ifname} lacks the addresses {', '.join(sorted(missing))}")
    if host_if not in port_names(_ovs(conf), conf.bridge):
        raise CniError(OTHER, f"{host_if} is not a port of bridge {conf.bridge}")
    try:
        ports = _client(conf).list_ports()
    except L2smError as err:
        raise _controller_error(err, "cannot list the controller's ports") from err
    port = next((p for p in ports if p.get("switch") == conf.switch and p.get("interface") == host_if), None)
    if port is None or port.get("network") != conf.network:
        raise CniError(OTHER, f"the controller has no port {conf.switch}/{host_if} on network {conf.network}")
    if port.get("mac") and port["mac"].lower() != mac.lower():
        raise CniError(OTHER, f"the controller knows {host_if} with MAC {port['mac']}, the pod has {mac}")


def run(stdin: bytes, environ: dict[str, str]) -> tuple[int, str]:
    """One invocation: (exit status, what goes to stdout)."""
    version = "1.0.0"
    try:
        env = read_env(environ)
        if env.command == "VERSION":
            return 0, json.dumps({"cniVersion": "1.0.0", "supportedVersions": list(SUPPORTED_VERSIONS)})
        conf = parse_netconf(stdin, environ)
        version = conf.cni_version
        if env.command == "ADD":
            return 0, json.dumps(cmd_add(env, conf))
        if env.command == "DEL":
            cmd_del(env, conf)
        else:
            cmd_check(env, conf)
        return 0, ""
    except CniError as err:
        return 1, err.to_json(version)
    except L2smError as err:
        return 1, CniError(OTHER, str(err)).to_json(version)
    except Exception as err:  # the runtime must always get the spec's error object
        return 1, CniError(OTHER, f"{type(err).__name__}: {err}").to_json(version)


def main() -> NoReturn:
    """Exits with the status itself: a zipapp's generated ``__main__`` calls ``main()`` and drops what it returns,
    and an error that exits 0 is taken by the runtime as success with an empty result (a pod without its
    interface, for good)."""
    status, out = run(sys.stdin.buffer.read(), dict(os.environ))
    if out:
        print(out, flush=True)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
