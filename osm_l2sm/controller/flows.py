"""The flows every switch should hold, as a pure function of the controller state.

Pipeline (OpenFlow 1.3, works on the OVS userspace datapath with kernel VXLAN devices as plain ports):

* table 0 classifies. An access port of network N writes metadata ``N << 1``; a tunnel port carrying 802.1Q tag N
  (for a known N) pops the tag and writes ``N << 1 | 1`` ("from tunnel"). Anything else is dropped (table miss).
* table 1 forwards inside the network named by the metadata only, so no frame ever crosses networks. Known MACs go
  to their local port, or get tag N pushed and go to the tunnel towards the switch hosting them. The rest
  (broadcast, multicast, unknown unicast) floods to the network's local ports and, only when it came from a local
  port (split horizon over the full mesh of tunnels), tagged to the switches that have ports in that network.
"""
from __future__ import annotations

from dataclasses import dataclass

CLASSIFY_TABLE = 0
FORWARD_TABLE = 1
FROM_TUNNEL = 1
ALL_BITS = 0xFFFFFFFFFFFFFFFF
NETWORK_BITS = ALL_BITS ^ FROM_TUNNEL  # match the network whatever the origin
VLAN_PRESENT = 0x1000  # OFPVID_PRESENT
ETH_TYPE_8021Q = 0x8100

PRIO_MISS = 0
PRIO_CLASSIFY = 100
PRIO_FLOOD = 100
PRIO_UNICAST = 200


@dataclass(frozen=True, order=True)
class Flow:
    """One flow entry. ``match`` is a sorted tuple of (field, value) pairs (OFPMatch keyword arguments; a masked
    field's value is a (value, mask) tuple); ``actions`` is a tuple of tuples such as ("output", 3),
    ("push_vlan", 0x8100), ("set_field", "vlan_vid", 0x1005), ("pop_vlan",), ("write_metadata", v, mask),
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


def _tag(network_id: int) -> list:
    return [("push_vlan", ETH_TYPE_8021Q), ("set_field", "vlan_vid", VLAN_PRESENT | network_id)]


def desired_flows(state, switch_name: str) -> list[Flow]:
    """Every flow ``switch_name`` should hold, sorted; ports and tunnels whose ofport is not known yet are left out."""
    with state.lock:
        switch = state.switches.get(switch_name)
        if switch is None:
            return []
        ofports = state.ofports.get(switch_name, {})
        # tunnel ofport towards each peer switch that is registered
        tunnels = {peer: ofports[ifname] for peer, ifname in switch.get("tunnels", {}).items()
                   if ifname in ofports and peer in state.switches}
        flows = [Flow.make(CLASSIFY_TABLE, PRIO_MISS), Flow.make(FORWARD_TABLE, PRIO_MISS)]
        for net_name, net in sorted(state.networks.items()):
            nid = net["id"]
            ports = [p for _, p in sorted(state.ports.items()) if p["network"] == net_name]
            local = [p for p in ports if p["switch"] == switch_name and p["interface"] in ofports]
            local_ofports = sorted(ofports[p["interface"]] for p in local)
            remote_peers = sorted({p["switch"] for p in ports if p["switch"] != switch_name} & set(tunnels))
            for ofport in local_ofports:
                flows.append(Flow.make(CLASSIFY_TABLE, PRIO_CLASSIFY, {"in_port": ofport},
                                       [("write_metadata", _metadata(nid), ALL_BITS), ("goto_table", FORWARD_TABLE)]))
            for peer in sorted(tunnels):
                flows.append(Flow.make(CLASSIFY_TABLE, PRIO_CLASSIFY,
                                       {"in_port": tunnels[peer], "vlan_vid": VLAN_PRESENT | nid},
                                       [("pop_vlan",), ("write_metadata", _metadata(nid, True), ALL_BITS),
                                        ("goto_table", FORWARD_TABLE)]))
            for p in ports:
                if not p.get("mac"):
                    continue
                if p in local:
                    flows.append(Flow.make(FORWARD_TABLE, PRIO_UNICAST,
                                           {"metadata": (_metadata(nid), NETWORK_BITS), "eth_dst": p["mac"]},
                                           [("output", ofports[p["interface"]])]))
                elif p["switch"] in remote_peers:
                    # only frames from local ports go out to a tunnel: frames never transit a switch
                    flows.append(Flow.make(FORWARD_TABLE, PRIO_UNICAST,
                                           {"metadata": (_metadata(nid), ALL_BITS), "eth_dst": p["mac"]},
                                           _tag(nid) + [("output", tunnels[p["switch"]])]))
            if not local_ofports:
                continue  # nothing to deliver here and nothing local to send out
            to_local = [("output", o) for o in local_ofports]
            to_peers = _tag(nid) + [("output", tunnels[s]) for s in remote_peers] if remote_peers else []
            flows.append(Flow.make(FORWARD_TABLE, PRIO_FLOOD, {"metadata": (_metadata(nid), ALL_BITS)},
                                   to_local + to_peers))
            flows.append(Flow.make(FORWARD_TABLE, PRIO_FLOOD, {"metadata": (_metadata(nid, True), ALL_BITS)},
                                   to_local))
        return sorted(set(flows))
