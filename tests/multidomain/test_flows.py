"""Inter-domain flows as a pure function: only tagged networks reach a domain link, split horizon, one copy each."""
from __future__ import annotations

from osm_l2sm.controller.flows import FORWARD_TABLE, VLAN_PRESENT, desired_flows
from osm_l2sm.controller.state import State

MAC = "02:00:00:00:00:0a"


def cluster() -> State:
    """Nodes n1, n2 and edge e (domain links to clusters b and c on ofports 201, 202); tunnels 10x; access 1.
    span is inter-domain (tag 77) on n1; local is not, also on n1."""
    st = State()
    names = ("n1", "n2", "e")
    for i, name in enumerate(names, start=1):
        peers = {p: f"vx-{p}" for p in names if p != name}
        links = {"b": "dl-b", "c": "dl-c"} if name == "e" else None
        st.register_switch(name, f"{i:016x}", peers, links)
        st.ofports[name] = {f"vx-{p}": 100 + names.index(p) for p in peers}
    st.ofports["e"].update({"dl-b": 201, "dl-c": 202})
    st.create_network("local")
    st.create_network("span", interdomain={"tag": 77})
    st.attach_port("span", "n1", "p1", MAC)
    st.attach_port("local", "n1", "p2")
    st.ofports["n1"].update({"p1": 1, "p2": 2})
    return st


def outputs(flow) -> set[int]:
    return {a[1] for a in flow.actions if a[0] == "output"}


def test_only_interdomain_networks_reach_domain_links():
    st = cluster()
    edge = desired_flows(st, "e")
    span, local = st.networks["span"]["id"], st.networks["local"]["id"]
    to_links = [f for f in edge if outputs(f) & {201, 202}]
    assert to_links and all(f.match_dict["metadata"][0] >> 1 & 0xFFF == span for f in to_links)
    # one copy per domain link, carrying the global tag
    (flood,) = to_links
    assert sorted(a[1] for a in flood.actions if a[0] == "output") == [201, 202]
    assert ("set_field", "vlan_vid", VLAN_PRESENT | 77) in flood.actions
    assert not any(f.match_dict.get("vlan_vid") == VLAN_PRESENT | local and f.match_dict.get("in_port") in (201, 202)
                   for f in edge)
    # node n1 floods span to n2? no (no port there) but to the edge; local never to the edge
    n1 = desired_flows(st, "n1")
    edge_tunnel = 100 + 2
    assert any(edge_tunnel in outputs(f) for f in n1 if f.match_dict.get("metadata", (0,))[0] >> 1 == span)
    assert not any(edge_tunnel in outputs(f) for f in n1 if f.match_dict.get("metadata", (0,))[0] >> 1 == local)


def test_split_horizon_from_domain_link():
    st = cluster()
    edge = desired_flows(st, "e")
    classify = [f for f in edge if f.match_dict.get("in_port") == 201]
    assert [f.match_dict["vlan_vid"] for f in classify] == [VLAN_PRESENT | 77]
    meta = [a for a in classify[0].actions if a[0] == "write_metadata"][0][1]
    from_domain = [f for f in edge if f.table == FORWARD_TABLE and f.match_dict.get("metadata", (None,))[0] == meta]
    assert from_domain
    n1_tunnel = 100
    for flow in from_domain:  # only towards n1 (the switch with span's port), never to a domain link
        assert outputs(flow) == {n1_tunnel}
        assert ("set_field", "vlan_vid", VLAN_PRESENT | st.networks["span"]["id"]) in flow.actions


def test_interdomain_tag_is_unique_and_checked():
    st = cluster()
    import pytest

    from osm_l2sm.errors import L2smError
    with pytest.raises(L2smError, match="already used"):
        st.create_network("again", interdomain={"tag": 77})
    with pytest.raises(L2smError, match="interdomain"):
        st.create_network("bad", interdomain={"tag": 5000})
