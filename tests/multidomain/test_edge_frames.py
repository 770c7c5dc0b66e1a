"""Frames walked through the computed flows of two clusters joined by their edges (tests/fakeof.py): pods on edge
switches receive unicast and broadcast from the other cluster, every pod of a network gets one copy of a broadcast,
and nothing reaches another network."""
from __future__ import annotations

import itertools

import pytest

from osm_l2sm.controller.state import State
from tests.fakeof import Fabric

BROADCAST = "ff:ff:ff:ff:ff:ff"
LINK = 201  # ofport of each edge's domain link
NODES = {"c1": ("n1", "n2", "e1"), "c2": ("m1", "m2", "e2")}
EDGES = {"c1": "e1", "c2": "e2"}
# pod: (cluster, switch, ofport, network); span is inter-domain, quiet exists in both clusters but is not; b and e
# sit on the edges
PODS = {"a": ("c1", "n1", 1, "span"), "b": ("c1", "e1", 1, "span"), "c": ("c1", "n2", 1, "span"),
        "d": ("c2", "m1", 1, "span"), "e": ("c2", "e2", 1, "span"),
        "qa": ("c1", "e1", 2, "quiet"), "qb": ("c2", "e2", 2, "quiet")}


def mac(pod: str) -> str:
    return "02:00:00:00:00:%02x" % (list(PODS).index(pod) + 1)


def cluster_state(cluster: str) -> State:
    st = State()
    names = NODES[cluster]
    if cluster == "c2":
        st.create_network("first")  # so that span has another local id in each cluster
    for i, name in enumerate(names, start=1):
        peers = {p: f"vx-{p}" for p in names if p != name}
        links = {"other": "dl-other"} if name == EDGES[cluster] else None
        st.register_switch(name, f"{i:016x}", peers, links)
        st.ofports[name] = {f"vx-{p}": 100 + names.index(p) for p in peers}
    st.ofports[EDGES[cluster]]["dl-other"] = LINK
    st.create_network("span", interdomain={"tag": 77})
    st.create_network("quiet")
    for pod, (where, switch, ofport, network) in PODS.items():
        if where == cluster:
            st.attach_port(network, switch, f"p-{pod}", mac(pod))
            st.ofports[switch][f"p-{pod}"] = ofport
    return st


@pytest.fixture(scope="module")
def fabric() -> Fabric:
    fab = Fabric()
    for cluster, names in NODES.items():
        st = cluster_state(cluster)
        for name in names:
            fab.switch(f"{cluster}/{name}", st)
        for a, b in itertools.combinations(names, 2):
            fab.wire((f"{cluster}/{a}", 100 + names.index(b)), (f"{cluster}/{b}", 100 + names.index(a)))
    fab.wire(("c1/e1", LINK), ("c2/e2", LINK))
    for pod, (cluster, switch, ofport, _net) in PODS.items():
        fab.pod(pod, f"{cluster}/{switch}", ofport)
    return fab


def peers(pod: str) -> set[str]:
    """The other pods on ``pod``'s network: span spans both clusters, quiet is one network per cluster."""
    cluster, _, _, network = PODS[pod]
    return {p for p, (c, _, _, n) in PODS.items() if p != pod and n == network and (n == "span" or c == cluster)}


@pytest.mark.parametrize("sender", sorted(PODS))
def test_a_broadcast_reaches_every_other_pod_of_its_network_once(fabric, sender):
    assert fabric.send(sender, BROADCAST) == sorted(peers(sender))


@pytest.mark.parametrize("sender,target", [(s, t) for s in sorted(PODS) for t in sorted(PODS) if t in peers(s)])
def test_unicast_reaches_its_target_once_and_never_leaves_the_network(fabric, sender, target):
    got = fabric.send(sender, mac(target))
    assert got.count(target) == 1
    assert set(got) <= peers(sender)
    if PODS[sender][0] == PODS[target][0]:
        assert got == [target]  # a cluster knows its own MACs: no flood
    else:  # unknown to the sender's cluster it floods there, but the target's cluster delivers to the target only
        assert not [p for p in got if p != target and PODS[p][0] == PODS[target][0]]
