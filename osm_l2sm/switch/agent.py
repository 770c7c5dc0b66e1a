"""The node agent: bring a node's switch up (OVS, TLS, bridge and controller target, tunnels, domain links,
registration) or take it down again. The Kubernetes DaemonSet (``osm-l2sm switch up``) and every sandbox node use
these same functions.

What ``up`` made is remembered in ``<run_dir>/agent.json`` so ``down`` removes exactly that, and so an ``up`` again
without peers (a node whose daemons died) keeps the tunnels and domain links the switch had.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from dataclasses import asdict, dataclass, field

from osm_l2sm.constants import BRIDGE
from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError
from osm_l2sm.files import write_json_atomic
from osm_l2sm.protocol import dpid_for

from .bridge import ensure_bridge, ensure_ssl, ensure_tunnel, pair_vni, remove_bridge, remove_tunnel, tunnel_name
from .ovs import OvsInstance

LOG = logging.getLogger(__name__)
DEFAULT_BRIDGE = BRIDGE
# reconnect within a second after a controller restart (OVS backs off to 8 s by default)
CONTROLLER_MAX_BACKOFF_MS = 1000
# a controller gone without closing the connection (its pod deleted, its node down) is noticed after twice this
# (OVS's default 5 s): then the switch connects again through the Service, to whichever replica leads now
CONTROLLER_PROBE_MS = 2000


@dataclass
class DomainLinks:
    """The inter-cluster links of an edge node: one VXLAN link per peer cluster, leaving by ``dev`` from
    ``local_ip`` (an underlay of their own, apart from the cluster's). ``peers``: peer cluster -> (its edge's switch
    name, the edge's address)."""
    local_ip: str
    dev: str
    peers: dict[str, tuple[str, str]] = field(default_factory=dict)


def domain_link_name(peer_cluster: str) -> str:
    return tunnel_name(f"d-{peer_cluster}")


def start_switch(run_dir: str, netns: str | None = None) -> OvsInstance:
    """This node's OVS daemons, started when they do not run."""
    return OvsInstance(run_dir, netns).start()


def connect_controller(ovs: OvsInstance, node: str, controller: str, tls: tuple[str, str, str] | None = None,
                       bridge: str = DEFAULT_BRIDGE) -> None:
    """The bridge with the node's dpid, connected to ``controller`` (an ``ssl:`` target needs ``tls``: key,
    certificate whose common name is ``node``, CA). Settings already right are left alone."""
    if tls:
        ensure_ssl(ovs, *tls)
    elif controller.startswith("ssl:"):
        raise L2smError(f"controller target {controller} needs the switch's TLS key, certificate and CA")
    ensure_bridge(ovs, bridge, dpid_for(node), controller)
    ovs.vsctl("set", "controller", bridge, f"max_backoff={CONTROLLER_MAX_BACKOFF_MS}",
              f"inactivity_probe={CONTROLLER_PROBE_MS}")


def add_tunnel(ovs: OvsInstance, node: str, peer: str, local_ip: str, peer_ip: str, underlay_dev: str,
               bridge: str = DEFAULT_BRIDGE, mtu: int | None = None, netns: str | None = None) -> str:
    """The tunnel to a peer node of the cluster; returns its interface name."""
    return ensure_tunnel(ovs, bridge, peer, local_ip, peer_ip, underlay_dev, vni=pair_vni(node, peer), mtu=mtu,
                         netns=netns)


def add_domain_links(ovs: OvsInstance, node: str, links: DomainLinks, bridge: str = DEFAULT_BRIDGE,
                     mtu: int | None = None, netns: str | None = None) -> dict[str, str]:
    """One link per peer cluster, to that cluster's edge; returns {peer cluster: interface}."""
    return {cluster: ensure_tunnel(ovs, bridge, f"d-{cluster}", links.local_ip, ip, links.dev,
                                   vni=pair_vni(node, edge), mtu=mtu, netns=netns)
            for cluster, (edge, ip) in sorted(links.peers.items())}


def register(node: str, rest: str, token: str | None, tunnels: dict[str, str],
             domain_links: dict[str, str] | None = None) -> dict:
    """Tell the controller this switch's dpid, tunnels and domain links; returns the switch as it reports it."""
    return ControllerClient(rest, token).register_switch(node, dpid_for(node), tunnels, domain_links or None)


def _record_path(run_dir: str) -> str:
    return os.path.join(run_dir, "agent.json")


@contextlib.contextmanager
def record_lock(run_dir: str):
    """Held while the record is written and registered, or read and registered again (by the node daemon): a
    registration from a record read before an ``up`` changed it never lands after that ``up``'s own."""
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "agent.lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def read_record(run_dir: str) -> dict:
    """What the last ``up`` in ``run_dir`` made (empty when none)."""
    path = _record_path(os.path.abspath(run_dir))
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def switch_up(node: str, run_dir: str, controller: str, rest: str, local_ip: str, underlay_dev: str,
              peers: dict[str, str] | None = None, bridge: str = DEFAULT_BRIDGE, netns: str | None = None,
              token: str | None = None, mtu: int | None = None, tls: tuple[str, str, str] | None = None,
              domain: DomainLinks | None = None, register_switch: bool = True) -> dict | None:
    """Start OVS when needed, ensure the bridge, one tunnel per peer (``peers``: name -> address) and, for an edge,
    the domain links; register with the controller unless ``register_switch`` is False (a switch the controller
    knows already, which may not run yet). ``peers`` and ``domain`` None keep what the last ``up`` made.

    Returns the switch as the controller reports it (None when not registered)."""
    record = read_record(run_dir)
    if peers is None:
        peers = dict(record.get("peers", {}))
    if domain is None and record.get("domain"):
        saved = record["domain"]
        domain = DomainLinks(saved["local_ip"], saved["dev"], {c: tuple(p) for c, p in saved["peers"].items()})
    ovs = OvsInstance(run_dir, netns)
    # a switch up before (its record says so) keeps its bridge and the pods' ports when this up fails
    fresh = not ovs.running and not record
    start_switch(run_dir, netns)
    try:
        connect_controller(ovs, node, controller, tls, bridge)
        with record_lock(ovs.run_dir):
            write_json_atomic(_record_path(ovs.run_dir), {  # written first: down must find it
                "node": node, "bridge": bridge, "netns": netns, "peers": dict(peers),
                "domain": asdict(domain) if domain else None, "local_ip": local_ip, "underlay_dev": underlay_dev,
                "mtu": mtu})
            tunnels = {peer: add_tunnel(ovs, node, peer, local_ip, ip, underlay_dev, bridge, mtu, netns)
                       for peer, ip in sorted(peers.items())}
            links = add_domain_links(ovs, node, domain, bridge, mtu, netns) if domain else None
            return register(node, rest, token, tunnels, links) if register_switch else None
    except BaseException:
        if fresh:  # a failed first start leaves no daemons, bridge or tunnels; a running switch is left as it was
            switch_down(node, run_dir, None, netns)
        raise


def switch_down(node: str, run_dir: str, rest: str | None, netns: str | None = None,
                token: str | None = None) -> None:
    """Unregister, remove tunnels, domain links and bridge, stop OVS. Missing pieces are fine; an unreachable
    controller is reported after everything local is gone."""
    path = _record_path(os.path.abspath(run_dir))
    record = read_record(run_dir)
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
    # the devices outlive OVS, so they go even when it is stopped
    for peer in list(record.get("peers", {})) + [f"d-{c}" for c in (record.get("domain") or {}).get("peers", {})]:
        remove_tunnel(ovs if running else None, bridge, peer, netns)
    if running:
        remove_bridge(ovs, bridge)
    ovs.stop()
    for leftover in (path, os.path.join(os.path.dirname(path), "agent.lock")):
        if os.path.exists(leftover):
            os.unlink(leftover)
    if failure:
        raise L2smError(f"switch {node} is down locally but was not unregistered: {failure}", failure.status)
