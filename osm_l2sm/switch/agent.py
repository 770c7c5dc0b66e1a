"""The node agent: bring a node's switch up (OVS, bridge, tunnels, registration) or take it down again.

What ``up`` made is remembered in ``<run_dir>/agent.json`` so ``down`` removes exactly that.
"""
from __future__ import annotations

import json
import logging
import os

from osm_l2sm.constants import BRIDGE
from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError

from .bridge import ensure_bridge, ensure_ssl, ensure_tunnel, pair_vni, remove_bridge, remove_tunnel
from .ovs import OvsInstance, dpid_for

LOG = logging.getLogger(__name__)
DEFAULT_BRIDGE = BRIDGE


def _record_path(run_dir: str) -> str:
    return os.path.join(run_dir, "agent.json")


def switch_up(node: str, run_dir: str, controller: str, rest: str, local_ip: str, underlay_dev: str,
              peers: dict[str, str] | None = None, bridge: str = DEFAULT_BRIDGE, netns: str | None = None,
              token: str | None = None, mtu: int = 1500, tls: tuple[str, str, str] | None = None) -> dict:
    """Start OVS when needed, ensure the bridge and one tunnel per peer, register with the controller.

    ``tls`` (key, certificate, CA) is what an ``ssl:`` controller target needs; the certificate's common name must
    be ``node``, whose dpid the controller expects.

    Returns the switch as the controller reports it."""
    peers = dict(peers or {})
    ovs = OvsInstance(run_dir, netns)
    fresh = not ovs.running
    ovs.start()
    dpid = dpid_for(node)
    try:
        if tls:
            ensure_ssl(ovs, *tls)
        elif controller.startswith("ssl:"):
            raise L2smError(f"controller target {controller} needs the switch's TLS key, certificate and CA")
        ensure_bridge(ovs, bridge, dpid, controller)
        with open(_record_path(ovs.run_dir), "w", encoding="utf-8") as f:  # written first: down must find it
            json.dump({"node": node, "bridge": bridge, "netns": netns, "peers": peers}, f)
        tunnels = {peer: ensure_tunnel(ovs, bridge, peer, local_ip, ip, underlay_dev, vni=pair_vni(node, peer),
                                       mtu=mtu, netns=netns)
                   for peer, ip in sorted(peers.items())}
        return ControllerClient(rest, token).register_switch(node, dpid, tunnels)
    except BaseException:
        if fresh:  # a failed first start leaves no daemons, bridge or tunnels; a running switch is left as it was
            switch_down(node, run_dir, None, netns)
        raise


def switch_down(node: str, run_dir: str, rest: str | None, netns: str | None = None,
                token: str | None = None) -> None:
    """Unregister, remove tunnels and bridge, stop OVS. Missing pieces are fine; an unreachable controller is
    reported after everything local is gone."""
    path = _record_path(os.path.abspath(run_dir))
    record = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    netns = netns or record.get("netns")
    failure = None
    if rest:
        try:
            ControllerClient(rest, token).unregister_switch(node)
        except L2smError as err:
            if err.status != 404:
                failure = err
    ovs = OvsInstance(run_dir, netns)
    bridge = record.get("bridge", DEFAULT_BRIDGE)
    running = ovs.running
    for peer in record.get("peers", {}):  # the devices outlive OVS, so they go even when it is stopped
        remove_tunnel(ovs if running else None, bridge, peer, netns)
    if running:
        remove_bridge(ovs, bridge)
    ovs.stop()
    if os.path.exists(path):
        os.unlink(path)
    if failure:
        raise L2smError(f"switch {node} is down locally but was not unregistered: {failure}", failure.status)

