"""Several clusters in one sandbox: names, ports and the inter-domain link between their edge devices.

Cluster ``cK`` has nodes ``cK-node1..N`` and an edge ``cK-edge`` (a node whose switch also has one domain link per
peer cluster), its own controller (OpenFlow 6653+K, REST 8181+K on the underlay gateway) and its own state file.
The edges meet on a separate underlay: the Linux bridge ``<sandbox>-id`` with its own /24, interface ``id0`` in
each edge, root end ``<sandbox>-dK``. The provider controller (REST 8190) allocates the global tags.
"""
from __future__ import annotations

import ipaddress
import subprocess

from pyroute2 import IPRoute

from osm_l2sm.errors import L2smError
from osm_l2sm.switch import DomainLinks, domain_link_name

from . import netns
from .layout import OF_PORT, REST_PORT, UNDERLAY_MTU, Layout
from .node import Node, bridge_link

INTERDOMAIN_POOL = ipaddress.ip_network("10.232.0.0/16")
INTERDOMAIN_IF = "id0"
PROVIDER_OF_PORT = OF_PORT + 50
PROVIDER_REST_PORT = REST_PORT + 9
__all__ = ["domain_link_name"]  # the switch agent names the links; tests find them by this name


def cluster_names(count: int) -> list[str]:
    return [f"c{k}" for k in range(1, count + 1)]


def edge_name(cluster: str) -> str:
    return f"{cluster}-edge"


def cluster_ports(cluster: str) -> tuple[int, int]:
    k = int(cluster[1:])
    return OF_PORT + k, REST_PORT + k


def interdomain_bridge(layout: Layout) -> str:
    return f"{layout.name}-id"


def linux_bridge(name: str, address: str | None = None) -> None:
    """A Linux bridge in the root namespace at the underlay MTU, up, with ``address``/24 when given; the sandbox's
    underlay and the edges' inter-domain underlay are both such bridges. Left alone when it exists."""
    with IPRoute() as ipr:
        if ipr.link_lookup(ifname=name):
            return
        ipr.link("add", ifname=name, kind="bridge", mtu=UNDERLAY_MTU)
        index = ipr.link_lookup(ifname=name)[0]
        if address:
            ipr.addr("add", index=index, address=address, prefixlen=24)
        ipr.link("set", index=index, state="up")


def edge_address(subnet: str, cluster: str) -> str:
    return str(ipaddress.ip_network(subnet).network_address + 10 + int(cluster[1:]))


def connect_edges(layout: Layout, subnet: str, edges: dict[str, Node], delay_ms: float | None = None,
                  loss_pct: float | None = None) -> dict[str, DomainLinks]:
    """Link every edge to the inter-domain bridge (with ``delay_ms``/``loss_pct`` of netem on it); returns each
    cluster's domain links, one per peer cluster, for its edge's switch agent to make (none without edges)."""
    if edges:
        linux_bridge(interdomain_bridge(layout))
    for cluster, edge in edges.items():
        k = int(cluster[1:])
        bridge_link(edge.netns, interdomain_bridge(layout), f"{layout.name}-d{k}", f"{layout.name}-q{k}",
                    INTERDOMAIN_IF, edge_address(subnet, cluster))
        if delay_ms or loss_pct:
            netem = ["delay", f"{delay_ms or 0}ms"] + (["loss", f"{loss_pct}%"] if loss_pct else [])
            done = netns.run(edge.netns, ["tc", "qdisc", "replace", "dev", INTERDOMAIN_IF, "root", "netem", *netem])
            if done.returncode != 0:
                raise L2smError(f"tc netem on {cluster}'s inter-domain link failed: {done.stderr.strip()}")
    return {cluster: DomainLinks(edge_address(subnet, cluster), INTERDOMAIN_IF, {
        peer: (edge_name(peer), edge_address(subnet, peer)) for peer in edges if peer != cluster}) for cluster in edges}


def set_link(layout: Layout, cluster: str, up: bool) -> None:
    """Cut or restore a cluster's inter-domain underlay link (the root end of its edge's veth)."""
    subprocess.run(["ip", "link", "set", f"{layout.name}-d{cluster[1:]}", "up" if up else "down"], check=True)
