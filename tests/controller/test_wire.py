"""The flow-mods the controller packs itself are byte for byte what os-ken's serializer makes of the same flows."""
from __future__ import annotations

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from osm_l2sm.controller import wire
from osm_l2sm.controller.flows import desired_flows
from osm_l2sm.controller.state import State


class Datapath:  # what os-ken's message classes read from a datapath
    ofproto = ofp
    ofproto_parser = parser
    id = 1


def instructions(actions: tuple) -> list:
    apply, result = [], []
    for kind, *args in actions:
        if kind == "output":
            apply.append(parser.OFPActionOutput(args[0]))
        elif kind == "push_vlan":
            apply.append(parser.OFPActionPushVlan(args[0]))
        elif kind == "pop_vlan":
            apply.append(parser.OFPActionPopVlan())
        elif kind == "set_field":
            apply.append(parser.OFPActionSetField(**{args[0]: args[1]}))
        elif kind == "write_metadata":
            result.append(parser.OFPInstructionWriteMetadata(args[0], args[1]))
        elif kind == "goto_table":
            result.append(parser.OFPInstructionGotoTable(args[0]))
    if apply:
        result.insert(0, parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, apply))
    return result


def serialized(msg, xid: int) -> bytes:
    msg.xid = xid
    msg.serialize()
    return bytes(msg.buf)


def every_kind_of_flow() -> list:
    """Flows of two nodes and an edge with domain links: access and tunnel classifiers, unicast, floods, domain."""
    st = State()
    names = ("n1", "n2", "e")
    for i, name in enumerate(names, start=1):
        st.register_switch(name, f"{i:016x}", {p: f"vx-{p}" for p in names if p != name},
                           {"b": "dl-b"} if name == "e" else None)
        st.ofports[name] = {f"vx-{p}": 100 + names.index(p) for p in names if p != name}
    st.ofports["e"]["dl-b"] = 201
    st.create_network("local")
    st.create_network("span", interdomain={"tag": 77})
    for net, switch, ifname, mac, ofport in (("span", "n1", "p1", "02:00:00:00:00:0a", 1), ("local", "n1", "p2", None, 2),
                                             ("span", "e", "p3", "02:00:00:00:00:0b", 3),
                                             ("local", "n2", "p4", "02:00:00:00:00:0c", 4)):
        st.attach_port(net, switch, ifname, mac)
        st.ofports[switch][ifname] = ofport
    return sorted({f for name in names for f in desired_flows(st, name)})


FLOWS = every_kind_of_flow()


@pytest.mark.parametrize("flow", FLOWS, ids=[str(i) for i in range(len(FLOWS))])
def test_flow_add_and_strict_delete_equal_os_ken(flow):
    dp = Datapath()
    add = parser.OFPFlowMod(dp, cookie=1, table_id=flow.table, priority=flow.priority, command=ofp.OFPFC_ADD,
                            match=parser.OFPMatch(**flow.match_dict), instructions=instructions(flow.actions))
    assert wire.add(flow, 1, xid=42) == serialized(add, 42)
    assert wire.with_cookie(wire.add(flow, 0, xid=42), 1) == serialized(add, 42)
    delete = parser.OFPFlowMod(dp, table_id=flow.table, priority=flow.priority, command=ofp.OFPFC_DELETE_STRICT,
                               out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=parser.OFPMatch(**flow.match_dict))
    assert wire.delete_strict(flow, xid=7) == serialized(delete, 7)


def test_generation_delete_and_barrier_equal_os_ken():
    dp = Datapath()
    delete = parser.OFPFlowMod(dp, cookie=1, cookie_mask=1, table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE,
                               out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=parser.OFPMatch())
    assert wire.delete_generation(1, 1, xid=3) == serialized(delete, 3)
    assert wire.barrier(9) == serialized(parser.OFPBarrierRequest(dp), 9)


def test_the_flows_cover_every_action_and_match_field():
    kinds = {a[0] for f in FLOWS for a in f.actions}
    fields = {k for f in FLOWS for k, _ in f.match}
    assert kinds == {"output", "push_vlan", "pop_vlan", "set_field", "write_metadata", "goto_table"}
    assert fields == {"in_port", "vlan_vid", "metadata", "eth_dst"}
