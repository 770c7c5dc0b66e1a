"""desired_flows as a pure function: isolation, tagging, split horizon, determinism."""
from __future__ import annotations

import pytest

from osm_l2sm.controller.flows import (CLASSIFY_TABLE, FORWARD_TABLE, KEY_TABLE, VLAN_PRESENT, Flow, desired_flows,
                                       key_tags)
from osm_l2sm.controller.state import State

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"


@pytest.fixture
def state():
    """Three switches in a full mesh; blue (a on s1, b on s2) and red (same MACs: ra on s1, rb on s2), green on s3
    only. Tunnel ofports are 101.. and access ports 1.."""
    st = State()
    for name in ("s1", "s2", "s3"):
        peers = {p: f"vx-{p}" for p in ("s1", "s2", "s3") if p != name}
        st.register_switch(name, f"{int(name[1]):016x}", peers)
        st.ofports[name] = {f"vx-{p}": 100 + int(p[1]) for p in peers}
    st.create_network("blue")
    st.create_network("red")
    st.create_network("green")
    for net, switch, ifname, mac, ofport in (("blue", "s1", "pa", MAC_A, 1), ("blue", "s2", "pb", MAC_B, 1),
                                             ("red", "s1", "ra", MAC_A, 2), ("red", "s2", "rb", MAC_B, 2),
                                             ("green", "s3", "ga", None, 3)):
        st.attach_port(net, switch, ifname, mac)
        st.ofports[switch][ifname] = ofport
    return st


def outputs(flow: Flow) -> set[int]:
    return {a[1] for a in flow.actions if a[0] == "output"}


def network_of(state, flow: Flow) -> int | None:
    meta = flow.match_dict.get("metadata")
    return meta[0] >> 1 if meta else None


def net_id(state, name):
    return state.networks[name]["id"]


def test_no_flow_of_one_network_outputs_to_a_port_of_another(state):
    for switch in ("s1", "s2", "s3"):
        ports_of = {}
        for p in state.ports.values():
            if p["switch"] == switch:
                ports_of.setdefault(net_id(state, p["network"]), set()).add(state.ofports[switch][p["interface"]])
        for flow in desired_flows(state, switch):
            if flow.table == FORWARD_TABLE and flow.actions:
                nid = network_of(state, flow)
                others = set().union(*(v for k, v in ports_of.items() if k != nid))
                assert not outputs(flow) & others, flow


def key_actions(nid: int) -> list:
    outer, inner = key_tags(nid)
    return [("push_vlan", 0x8100), ("set_field", "vlan_vid", VLAN_PRESENT | inner),
            ("push_vlan", 0x88a8), ("set_field", "vlan_vid", VLAN_PRESENT | outer)]


def test_tunnel_egress_always_carries_the_network_key_and_ingress_matches_it(state):
    tunnel_ofports = {101, 102, 103}
    seen_egress = seen_ingress = seen_key = 0
    for switch in ("s1", "s2", "s3"):
        for flow in desired_flows(state, switch):
            if outputs(flow) & tunnel_ofports:
                seen_egress += 1
                actions = list(flow.actions)
                push = actions.index(("push_vlan", 0x8100))
                assert actions[push:push + 4] == key_actions(network_of(state, flow))
                first_tunnel_out = min(i for i, a in enumerate(actions) if a[0] == "output" and a[1] in tunnel_ofports)
                assert push + 4 <= first_tunnel_out
                assert all(a[1] not in tunnel_ofports for a in actions[:push] if a[0] == "output")
            match = flow.match_dict
            if flow.table == CLASSIFY_TABLE and match.get("in_port") in tunnel_ofports:
                seen_ingress += 1  # the S-tag: the key's group
                group = match["vlan_vid"] ^ VLAN_PRESENT
                assert flow.actions == (("pop_vlan",), ("write_metadata", group << 1 | 1, 0xFFFFFFFFFFFFFFFF),
                                        ("goto_table", KEY_TABLE))
            if flow.table == KEY_TABLE and flow.actions:
                seen_key += 1  # the C-tag within the group names the network
                group = match["metadata"][0] >> 1
                nid = (group - 1) * 4094 + (match["vlan_vid"] ^ VLAN_PRESENT)
                assert flow.actions == (("pop_vlan",), ("write_metadata", nid << 1 | 1, 0xFFFFFFFFFFFFFFFF),
                                        ("goto_table", FORWARD_TABLE))
    assert seen_egress and seen_ingress and seen_key


def test_network_keys_are_24_bits_carried_as_two_tags():
    assert key_tags(1) == (1, 1) and key_tags(4094) == (1, 4094) and key_tags(4095) == (2, 1)
    assert key_tags(4094 * 4094) == (4094, 4094)
    keys = {key_tags(n) for n in range(1, 3 * 4094 + 7)}
    assert len(keys) == 3 * 4094 + 6 and all(1 <= t <= 4094 for k in keys for t in k)


def test_frames_from_a_tunnel_never_go_back_out_to_a_tunnel(state):
    for switch in ("s1", "s2", "s3"):
        for flow in desired_flows(state, switch):
            meta = flow.match_dict.get("metadata")
            if meta and meta[0] & 1:  # from a tunnel
                assert not outputs(flow) & {101, 102, 103}, flow


def test_flood_from_a_local_port_reaches_local_ports_and_only_tunnels_of_switches_in_the_network(state):
    blue = net_id(state, "blue")
    flood = [f for f in desired_flows(state, "s1")
             if f.table == FORWARD_TABLE and "eth_dst" not in f.match_dict and f.match_dict.get("metadata") ==
             (blue << 1, 0xFFFFFFFFFFFFFFFF)]
    assert len(flood) == 1
    assert outputs(flood[0]) == {1, 102}  # local pa and the tunnel to s2; not s3, which has no blue port


def test_same_macs_in_two_networks_get_separate_unicast_flows(state):
    flows = [f for f in desired_flows(state, "s1") if f.match_dict.get("eth_dst") == MAC_B]
    by_net = {network_of(state, f): f for f in flows}
    assert set(by_net) == {net_id(state, "blue"), net_id(state, "red")}
    # both go to s2 over the same tunnel, but each carries its own network's key
    keys = {tuple(a for a in f.actions if a[0] != "output") for f in flows}
    assert keys == {tuple(key_actions(net_id(state, n))) for n in ("blue", "red")}


def test_unknown_traffic_is_dropped_by_table_miss(state):
    flows = desired_flows(state, "s3")
    misses = [f for f in flows if not f.match and f.priority == 0]
    assert {f.table for f in misses} == {CLASSIFY_TABLE, FORWARD_TABLE, KEY_TABLE}
    assert all(not f.actions for f in misses)


def test_output_is_deterministic_and_independent_of_insertion_order(state):
    first = desired_flows(state, "s1")
    again = State()
    again.switches = dict(reversed(list(state.switches.items())))
    again.networks = dict(reversed(list(state.networks.items())))
    again.ports = dict(reversed(list(state.ports.items())))
    again.ofports = {k: dict(reversed(list(v.items()))) for k, v in state.ofports.items()}
    assert desired_flows(again, "s1") == first == sorted(first)
    assert len(set(first)) == len(first)


def test_ports_without_a_known_ofport_or_unregistered_switch_give_no_flows(state):
    state.attach_port("blue", "s1", "pending", "02:00:00:00:00:99")
    assert not any(f.match_dict.get("eth_dst") == "02:00:00:00:00:99" for f in desired_flows(state, "s1"))
    assert desired_flows(state, "nobody") == []


def test_detaching_the_last_port_removes_its_network_flows_from_the_switch(state):
    green = net_id(state, "green")
    assert any(network_of(state, f) == green for f in desired_flows(state, "s3"))
    state.detach_port("s3", "ga")
    assert not any(network_of(state, f) == green for f in desired_flows(state, "s3"))


def test_a_switch_without_ports_of_a_network_holds_none_of_its_flows(state):
    """green has its only port on s3: s1 and s2 have nothing to deliver its frames to, so no classifier either."""
    green = net_id(state, "green")
    for switch in ("s1", "s2"):
        flows = desired_flows(state, switch)
        assert not any(network_of(state, f) == green or ("write_metadata", green << 1 | 1, 0xFFFFFFFFFFFFFFFF)
                       in f.actions for f in flows), switch
    assert any(f.table == KEY_TABLE and f.match_dict.get("vlan_vid") == VLAN_PRESENT | green
               for f in desired_flows(state, "s3"))
