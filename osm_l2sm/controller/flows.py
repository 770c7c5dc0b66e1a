"""The flows every switch should hold, as a pure function of the controller state.

Pipeline (OpenFlow 1.3, works on the OVS userspace datapath with kernel VXLAN devices as plain ports):

* On a tunnel a network is named by a 24-bit key carried as two VLAN tags (:func:`key_tags`): an 802.1ad S-tag
  (the key's high part, its "group") outside an 802.1Q C-tag (its low part), so ids go far beyond the 4094 of one
  tag (:data:`MAX_KEY`). OpenFlow 1.3 matches only the outer tag, so a tunnelled frame is classified in two steps.
* table 0 classifies. An access port of network N writes metadata ``N << 1``. A tunnel port carrying S-tag G pops
  it, writes ``G << 1 | 1`` and goes to table 1. Those flows belong to the switch, not to a network
  (:func:`group_flows`): they are there while a network of group G takes tunnelled frames on the switch
  (:func:`group_of`). Anything else is dropped (table miss).
* table 1 takes the C-tag of a network of group G: pops it, writes ``N << 1 | 1`` ("from tunnel"), goes to table 2.
* table 2 forwards inside the network named by the metadata only, so no frame ever crosses networks. Known MACs go
  to their local port, or get the key's tags pushed and go to the tunnel towards the switch hosting them. The rest
  (broadcast, multicast, unknown unicast) floods to the network's local ports and, only when it came from a local
  port (split horizon over the full mesh of tunnels), tagged to the switches that have ports in that network.
* Inter-domain (docs/multidomain.md): an edge switch is a switch with ``domain_links`` (peer cluster -> interface).
  Only networks with an ``interdomain`` tag reach it: every switch counts the edges among the switches of such a
  network. On a domain link the frame carries the global tag; it is classified "from a domain link" and goes only
  to this cluster's switches (known MAC: the one switch; otherwise all with ports in the network), never back to a
  domain link. Frames the edge gets from its own cluster go to every domain link, one copy each, and never back
  into the cluster. So any number of clusters in full mesh has no loop.

The computation is split so that a change costs work proportional to it: :func:`switch_context` gathers what a
switch's flows depend on besides the networks (its ofports, tunnels, domain links, the edges), and
:func:`network_flows` gives the flows of one network on one switch from that context and the network's ports only.
:func:`desired_flows` is their union; the controller caches the per-network sets and recomputes only the networks a
change touches (core.py). A switch holds flows of a network only if it has a local port of it (with a known
ofport) or is an edge of an inter-domain network: a network without ports costs no flow anywhere.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

from .records import Network, Port

CLASSIFY_TABLE = 0
KEY_TABLE = 1
FORWARD_TABLE = 2  # OpenFlow only goes to a table of a higher number
FROM_TUNNEL = 1
FROM_DOMAIN = 1 << 63  # with FROM_TUNNEL: came in on a domain link
ALL_BITS = 0xFFFFFFFFFFFFFFFF
# match the network from a local port or a tunnel alike; FROM_DOMAIN stays in the mask, so a frame from a domain
# link never takes these flows: an edge forwards it by its own flows (_edge_flows), to its ports and its cluster only
NETWORK_BITS = ALL_BITS ^ FROM_TUNNEL
VLAN_PRESENT = 0x1000  # OFPVID_PRESENT
ETH_TYPE_8021Q = 0x8100
ETH_TYPE_8021AD = 0x88A8
VIDS = 4094  # usable VLAN ids: 1..4094
MAX_KEY = VIDS * VIDS  # the highest network id: every (S-tag, C-tag) pair of usable VLAN ids

PRIO_MISS = 0
PRIO_CLASSIFY = 100
PRIO_FLOOD = 100
PRIO_UNICAST = 200


class Flow(NamedTuple):
    """One flow entry (a named tuple: hundreds of thousands are made on a resync, and tuples are cheap). ``match`` is a sorted tuple of (field, value) pairs (OFPMatch keyword arguments; a masked
    field's value is a (value, mask) tuple); ``actions`` is a tuple of tuples such as ("output", 3),
    ("push_vlan", 0x88a8), ("set_field", "vlan_vid", 0x1005), ("pop_vlan",), ("write_metadata", v, mask),
    ("goto_table", 1). No actions at all means drop."""

    table: int
    priority: int
    match: tuple = ()
    actions: tuple = ()

    @staticmethod
    def make(table: int, priority: int, match: dict | None = None, actions: list | tuple = ()) -> "Flow":
        return Flow(table, priority, tuple(sorted((match or {}).items())), tuple(tuple(a) for a in actions))

    @property
    def match_dict(self) -> dict:
        return dict(self.match)


def _metadata(network_id: int, from_tunnel: bool = False) -> int:
    return network_id << 1 | (FROM_TUNNEL if from_tunnel else 0)


def key_tags(network_id: int) -> tuple[int, int]:
    """The (S-tag, C-tag) VLAN ids that carry network ``network_id`` (1..MAX_KEY) on a tunnel: ids 1..4094 are
    (1, id), 4095..8188 are (2, 1..4094), and so on."""
    group, low = divmod(network_id - 1, VIDS)
    return group + 1, low + 1


def _tag(tag: int) -> list:
    """One 802.1Q tag: the global tag of an inter-domain network on a domain link."""
    return [("push_vlan", ETH_TYPE_8021Q), ("set_field", "vlan_vid", VLAN_PRESENT | tag)]


def _key(network_id: int) -> tuple:
    """The actions that put the key of ``network_id`` on a frame for a tunnel: C-tag first, then the S-tag."""
    outer, inner = key_tags(network_id)
    return (("push_vlan", ETH_TYPE_8021Q), ("set_field", "vlan_vid", VLAN_PRESENT | inner),
            ("push_vlan", ETH_TYPE_8021AD), ("set_field", "vlan_vid", VLAN_PRESENT | outer))




def _key_flow(network_id: int) -> Flow:
    """Table 1: the C-tag of ``network_id`` within its group names the network of a tunnelled frame."""
    outer, inner = key_tags(network_id)
    return Flow(KEY_TABLE, PRIO_CLASSIFY, (("metadata", (outer << 1 | FROM_TUNNEL, ALL_BITS)),
                                           ("vlan_vid", VLAN_PRESENT | inner)),
                (("pop_vlan",), ("write_metadata", _metadata(network_id, True), ALL_BITS),
                 ("goto_table", FORWARD_TABLE)))


def group_of(network_id: int, flows) -> int | None:
    """The group (S-tag) whose classifiers the switch needs for network ``network_id``, whose flows on it are
    ``flows``; ``None`` when the network takes no tunnelled frame there."""
    return key_tags(network_id)[0] if _key_flow(network_id) in flows else None


@functools.lru_cache(maxsize=1 << 12)
def _group_flows(tunnel_ofports: tuple, group: int) -> tuple:
    actions = (("pop_vlan",), ("write_metadata", group << 1 | FROM_TUNNEL, ALL_BITS), ("goto_table", KEY_TABLE))
    return tuple(Flow(CLASSIFY_TABLE, PRIO_CLASSIFY, (("in_port", ofport), ("vlan_vid", VLAN_PRESENT | group)),
                      actions) for ofport in tunnel_ofports)


def group_flows(ctx: "SwitchContext", groups) -> frozenset:
    """Table 0: a frame from any tunnel of the switch with the S-tag of one of ``groups`` goes to table 1. One set
    per switch, however many networks of a group it carries (they would be the same flows in every network)."""
    ofports = tuple(sorted(ctx.tunnels.values()))
    return frozenset().union(*(_group_flows(ofports, g) for g in groups))


@dataclass(frozen=True)
class SwitchContext:
    """Everything a switch's flows depend on besides the networks and their ports."""
    name: str
    ofports: dict            # interface -> ofport
    tunnels: dict            # registered peer switch -> ofport of the tunnel towards it (when known)
    links: tuple             # ofports of the domain links, sorted (edge switches)
    edge: bool               # has domain links
    other_edges: tuple       # the other edge switches, sorted


DEFAULT_FLOWS = (Flow.make(CLASSIFY_TABLE, PRIO_MISS), Flow.make(FORWARD_TABLE, PRIO_MISS),
                 Flow.make(KEY_TABLE, PRIO_MISS))


def switch_context(state, switch_name: str) -> SwitchContext | None:
    """The context of ``switch_name`` (``None`` when not registered); call with the state's lock held."""
    switch = state.switches.get(switch_name)
    if switch is None:
        return None
    ofports = dict(state.ofports.get(switch_name, {}))
    tunnels = {t.peer: ofports[t.interface] for t in switch.tunnel_records()
               if t.interface in ofports and t.peer in state.switches}
    links = tuple(sorted(ofports[i] for i in switch.domain_links.values() if i in ofports))
    edges = tuple(sorted(n for n, sw in state.switches.items() if sw.domain_links and n != switch_name))
    return SwitchContext(switch_name, ofports, tunnels, links, bool(switch.domain_links), edges)


def _edge_flows(ctx: SwitchContext, net: Network, ports, local: list) -> tuple[list[Flow], list]:
    """The flows of an edge switch between its domain links and the rest, for one inter-domain network; and the
    actions that send a frame from its cluster to every domain link (to add to the flood from the tunnels)."""
    tag = net.tag
    if not tag:
        return [], []
    nid, tunnels, flows = net.id, ctx.tunnels, []
    from_domain = _metadata(nid, True) | FROM_DOMAIN
    members = sorted({p.switch for p in ports} & set(tunnels))
    for link in ctx.links:
        flows.append(Flow.make(CLASSIFY_TABLE, PRIO_CLASSIFY, {"in_port": link, "vlan_vid": VLAN_PRESENT | tag},
                               [("pop_vlan",), ("write_metadata", from_domain, ALL_BITS),
                                ("goto_table", FORWARD_TABLE)]))
    to_links = _tag(tag) + [("output", o) for o in ctx.links] if ctx.links else []
    for p in ports:
        if not p.mac:
            continue
        if p.switch in members:
            out = list(_key(nid)) + [("output", tunnels[p.switch])]
        elif p in local:
            out = [("output", ctx.ofports[p.interface])]
        else:
            continue
        flows.append(Flow.make(FORWARD_TABLE, PRIO_UNICAST, {"metadata": (from_domain, ALL_BITS), "eth_dst": p.mac},
                               out))
    # from another cluster: to this edge's own ports and this cluster's switches in the network, never to a link
    to_local = [("output", o) for o in sorted(ctx.ofports[p.interface] for p in local)]
    if members or to_local:
        flows.append(Flow.make(FORWARD_TABLE, PRIO_FLOOD, {"metadata": (from_domain, ALL_BITS)},
                               to_local + (list(_key(nid)) + [("output", tunnels[s]) for s in members] if members
                                           else [])))
    return flows, to_links


def network_flows(ctx: SwitchContext, net: Network, ports) -> frozenset:
    """The flows of network ``net`` (whose ports are ``ports``, in any order) on the switch of ``ctx``.

    Hot on a resync (hundreds of thousands of flows): flows are built as tuples directly (match fields already in
    sorted order), and the action tuples of a network are shared by its flows."""
    nid, ofports, tunnels, here = net.id, ctx.ofports, ctx.tunnels, ctx.name
    local = [p for p in ports if p.switch == here and p.interface in ofports]
    local_ofports = sorted(ofports[p.interface] for p in local)
    flows, to_links = _edge_flows(ctx, net, ports, local) if ctx.edge else ([], [])
    members = {p.switch for p in ports if p.switch != here}
    if net.interdomain:
        members.update(ctx.other_edges)  # the edges stand for the other clusters' ports
    remote_peers = sorted(members & tunnels.keys())
    from_tunnel, from_local = _metadata(nid, True), _metadata(nid)
    to_local = tuple(("output", o) for o in local_ofports)
    to_links = tuple(tuple(a) for a in to_links)
    if to_local or to_links:
        # a tunnelled frame of the network has somewhere to go only here: to the local ports and, on an edge, to
        # every domain link. A switch with neither takes none (its peers send it none either: they tunnel only to
        # the switches with ports in the network, and to the edges), so a network costs nothing where it has no port
        if tunnels:  # the S-tag classifiers of its group are the switch's (group_flows)
            flows.append(_key_flow(nid))
        flows.append(Flow(FORWARD_TABLE, PRIO_FLOOD, (("metadata", (from_tunnel, ALL_BITS)),), to_local + to_links))
    if not local_ofports:
        return frozenset(flows)  # nothing local to send out
    classify_local = (("write_metadata", from_local, ALL_BITS), ("goto_table", FORWARD_TABLE))
    for ofport in local_ofports:
        flows.append(Flow(CLASSIFY_TABLE, PRIO_CLASSIFY, (("in_port", ofport),), classify_local))
    to_network = ("metadata", (from_local, NETWORK_BITS))
    for p in local:
        if p.mac:
            flows.append(Flow(FORWARD_TABLE, PRIO_UNICAST, (("eth_dst", p.mac), to_network),
                              (("output", ofports[p.interface]),)))
    tag = _key(nid)
    to_peer = {s: tag + (("output", tunnels[s]),) for s in remote_peers}
    from_here = ("metadata", (from_local, ALL_BITS))
    for p in ports:
        if p.mac and p.switch in to_peer:
            # only frames from local ports go out to a tunnel: frames never transit a switch
            flows.append(Flow(FORWARD_TABLE, PRIO_UNICAST, (("eth_dst", p.mac), from_here), to_peer[p.switch]))
    # from a local port: to the other local ports, the switches with ports in the network and, on an edge, the links
    to_peers = tag + tuple(("output", tunnels[s]) for s in remote_peers) if remote_peers else ()
    if to_peers and to_links:  # the frame carries the key's two tags already: keep one, the global tag
        to_links = (("pop_vlan",), ("set_field", "vlan_vid", VLAN_PRESENT | net.tag)) + \
            tuple(a for a in to_links if a[0] == "output")
    flows.append(Flow(FORWARD_TABLE, PRIO_FLOOD, (from_here,), to_local + to_peers + to_links))
    return frozenset(flows)


def ports_by_network(ports: dict) -> dict[str, list[Port]]:
    grouped: dict[str, list] = {}
    for port in ports.values():
        grouped.setdefault(port.network, []).append(port)
    return grouped


def desired_flows(state, switch_name: str) -> list[Flow]:
    """Every flow ``switch_name`` should hold, sorted; ports and tunnels whose ofport is not known yet are left out."""
    with state.lock:
        ctx = switch_context(state, switch_name)
        if ctx is None:
            return []
        grouped = ports_by_network(state.ports)
        flows, groups = set(DEFAULT_FLOWS), set()
        for name, net in state.networks.items():
            own = network_flows(ctx, net, grouped.get(name, ()))
            flows |= own
            groups.add(group_of(net.id, own))
        return sorted(flows | group_flows(ctx, groups - {None}))
