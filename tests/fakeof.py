"""A small OpenFlow 1.3 table simulator for the flows of ``flows.desired_flows`` (after Faucet's FakeOFTable).

:func:`apply` runs one frame through one switch's flows: in each table the single highest-priority matching flow
applies its actions in order (an ambiguous match is an error: OVS would pick either), then goes to the next table or
stops. :class:`Fabric` joins switches (of one or several controllers) by their tunnels and domain links and walks a
frame from a pod to every pod it reaches, so a test states what a user would see: who receives the frame, how often.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from osm_l2sm.controller.flows import VLAN_PRESENT, desired_flows

MAX_HOPS = 16  # a frame that crosses more switches than this is looping


@dataclass(frozen=True)
class Packet:
    in_port: int
    eth_dst: str
    vlans: tuple = ()  # the VLAN ids of its tags (OFPVID_PRESENT | id), outermost first
    metadata: int = 0

    @property
    def vlan_vid(self) -> int | None:
        """What OpenFlow 1.3 matches: the outermost tag only."""
        return self.vlans[0] if self.vlans else None


def _matches(flow, pkt: Packet) -> bool:
    for key, want in flow.match:
        if key == "metadata":
            value, mask = want
            if pkt.metadata & mask != value & mask:
                return False
        elif getattr(pkt, key) != want:
            return False
    return True


def apply(flows, pkt: Packet) -> list[tuple[int, int | None]]:
    """The (ofport, vlans) of every copy ``flows`` send out for ``pkt``, in order (none back to its in_port)."""
    table, out = 0, []
    fields = {"vlans": pkt.vlans, "metadata": 0}
    while table is not None:
        candidates = [f for f in flows if f.table == table and _matches(f, Packet(pkt.in_port, pkt.eth_dst,
                                                                                   fields["vlans"],
                                                                                   fields["metadata"]))]
        if not candidates:
            return out
        best = max(f.priority for f in candidates)
        chosen = [f for f in candidates if f.priority == best]
        assert len(chosen) == 1, f"ambiguous flows for {pkt}: {chosen}"
        current, table = table, None
        for action in chosen[0].actions:
            kind = action[0]
            if kind == "pop_vlan":
                assert fields["vlans"], f"pop_vlan of an untagged frame: {chosen[0]}"
                fields["vlans"] = fields["vlans"][1:]
            elif kind == "push_vlan":  # the new outer tag takes the VLAN id of the one it covers, as in OVS
                fields["vlans"] = (fields["vlans"][0] if fields["vlans"] else VLAN_PRESENT,) + fields["vlans"]
            elif kind == "set_field" and action[1] == "vlan_vid":
                assert fields["vlans"], f"vlan_vid set on an untagged frame: {chosen[0]}"
                fields["vlans"] = (action[2],) + fields["vlans"][1:]
            elif kind == "set_field":
                fields[action[1]] = action[2]
            elif kind == "write_metadata":
                fields["metadata"] = fields["metadata"] & ~action[2] | action[1] & action[2]
            elif kind == "goto_table":  # OVS refuses a flow that goes back (OFPBIC_BAD_TABLE_ID)
                assert action[1] > current, f"goto_table {action[1]} from table {current}: {chosen[0]}"
                table = action[1]
            elif kind == "output" and action[1] != pkt.in_port:  # OpenFlow never outputs to the ingress port
                out.append((action[1], fields["vlans"]))
            elif kind == "output":
                pass
            else:
                raise AssertionError(f"unknown action {action}")
    return out


@dataclass
class Fabric:
    """Switches by (controller state, switch name), and the wires between their ofports."""
    wires: dict = field(default_factory=dict)   # (switch key, ofport) -> (switch key, ofport)
    pods: dict = field(default_factory=dict)    # (switch key, ofport) -> pod name
    states: dict = field(default_factory=dict)  # switch key -> controller state

    def switch(self, key: str, state) -> None:
        self.states[key] = state

    def wire(self, a: tuple[str, int], b: tuple[str, int]) -> None:
        self.wires[a] = b
        self.wires[b] = a

    def pod(self, name: str, key: str, ofport: int) -> None:
        self.pods[(key, ofport)] = name

    def send(self, pod: str, eth_dst: str) -> list[str]:
        """The pods that receive the frame ``pod`` sends to ``eth_dst``, one entry per copy, sorted."""
        (start,) = [where for where, name in self.pods.items() if name == pod]
        received, todo = [], [(start, (), 0)]
        while todo:
            (key, port), vlan, hops = todo.pop()
            assert hops <= MAX_HOPS, f"frame from {pod} to {eth_dst} loops"
            name = key.split("/", 1)[1]
            for ofport, out_vlan in apply(desired_flows(self.states[key], name), Packet(port, eth_dst, vlan)):
                if (key, ofport) in self.pods:
                    assert not out_vlan, f"tagged frame delivered to pod {self.pods[(key, ofport)]}"
                    received.append(self.pods[(key, ofport)])
                elif (key, ofport) in self.wires:
                    todo.append((self.wires[(key, ofport)], out_vlan, hops + 1))
                else:
                    raise AssertionError(f"frame to {eth_dst} leaves {key} on unwired port {ofport}")
        return sorted(received)
