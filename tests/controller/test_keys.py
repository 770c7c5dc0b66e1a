"""More networks than one VLAN tag can name (4094): each is named on tunnels by its 24-bit key (two tags), and
frames walked through the computed flows of three switches (tests/fakeof.py) reach their own network only."""
from __future__ import annotations

import itertools

from osm_l2sm.controller.state import State
from tests.fakeof import Fabric

BROADCAST = "ff:ff:ff:ff:ff:ff"
SWITCHES = ("s1", "s2", "s3")
NETWORKS = 4094 + 10  # two S-tag groups
# networks that share a C-tag across groups (1 and 4095, 2 and 4096) or an S-tag (1, 2, 4094 in group 1)
WATCHED = (1, 2, 4094, 4095, 4096, NETWORKS)


def mac(switch: str) -> str:
    """The same MACs in every network: only the network tells the frames apart."""
    return "02:00:00:00:00:%02x" % (SWITCHES.index(switch) + 1)


def fabric() -> tuple[State, Fabric]:
    st = State()
    for i, name in enumerate(SWITCHES, start=1):
        st.register_switch(name, f"{i:016x}", {p: f"vx-{p}" for p in SWITCHES if p != name})
        st.ofports[name] = {f"vx-{p}": 100 + SWITCHES.index(p) for p in SWITCHES if p != name}
    for n in range(1, NETWORKS + 1):
        assert st.create_network(f"n{n}")[0]["id"] == n
    fab = Fabric()
    for name in SWITCHES:
        fab.switch(f"c/{name}", st)
    for a, b in itertools.combinations(SWITCHES, 2):
        fab.wire((f"c/{a}", 100 + SWITCHES.index(b)), (f"c/{b}", 100 + SWITCHES.index(a)))
    for k, n in enumerate(WATCHED, start=1):
        for name in SWITCHES:
            st.attach_port(f"n{n}", name, f"p{n}", mac(name))
            st.ofports[name][f"p{n}"] = k
            fab.pod(f"{n}@{name}", f"c/{name}", k)
    return st, fab


def test_networks_beyond_4094_are_isolated_across_switches():
    st, fab = fabric()
    assert len(st.networks) == NETWORKS
    for n in WATCHED:
        peers = [f"{n}@{s}" for s in SWITCHES[1:]]
        assert fab.send(f"{n}@s1", BROADCAST) == peers, n
        assert fab.send(f"{n}@s1", mac("s3")) == [f"{n}@s3"], n
        assert fab.send(f"{n}@s3", mac("s1")) == [f"{n}@s1"], n
