"""GET /api/v1/sync: a change is acknowledged only once the switches hold its flows, and bad input is a 400."""
from __future__ import annotations

import pytest
import requests

from tests.controllers import running_controller


@pytest.fixture
def controller(tmp_path):
    with running_controller(tmp_path) as proc:
        yield proc


def sync(url: str, wait: str | None = None) -> requests.Response:
    return requests.get(f"{url}/api/v1/sync", params={"wait": wait} if wait is not None else None, timeout=70)


def test_sync_lists_registered_switches_and_rejects_a_bad_wait(controller):
    client = controller.client()
    assert sync(controller.url).json() == {"synced": True, "switches": {}}
    client.register_switch("node1", "00000000000000a1", {})
    client.create_network("blue")
    answer = sync(controller.url, "1").json()
    assert answer == {"synced": True, "switches": {"node1": {"connected": False, "queued": 0, "acknowledged": 0,
                                                             "generation": None, "flows": 0}}}
    for bad in ("x", "-1", "61", "nan"):
        resp = sync(controller.url, bad)
        assert resp.status_code == 400 and "wait" in resp.json()["error"], bad


def test_once_synced_the_switches_already_hold_the_flows_of_the_change(two_nodes):
    from tests.switch.l2sm_nodes import BRIDGE, wait_until
    topo = two_nodes
    n1, n2 = sorted(topo.nodes)
    net = topo.client.create_network("blue")
    answer = sync(topo.controller.url, "30").json()
    assert answer["synced"] and all(s["connected"] and s["acknowledged"] for s in answer["switches"].values())
    for node in (n1, n2):  # a network without ports costs no flow on any switch
        assert f"dl_vlan={net['id']}" not in topo.nodes[node].ovs.ofctl("dump-flows", BRIDGE)
    assert topo.client.get_network("blue")["switches"] == {}
    pod = topo.add_pod("a", n1, None, "10.10.0.1/24")
    wait_until(lambda: pod.host_if in topo.switch(n1)["ports"], what="the pod's port known to the controller")
    topo.client.attach_port("blue", n1, pod.host_if, pod.mac)
    assert sync(topo.controller.url, "30").json()["synced"]
    # no polling: acknowledged means installed, on the switch with the port only
    assert f"dl_dst={pod.mac}" in topo.nodes[n1].flows()
    assert f"dl_vlan={net['id']}" in topo.nodes[n1].ovs.ofctl("dump-flows", BRIDGE)
    assert f"dl_vlan={net['id']}" not in topo.nodes[n2].ovs.ofctl("dump-flows", BRIDGE)
    assert topo.client.get_network("blue")["switches"] == {n1: {"connected": True, "flows": "acknowledged"}}
    topo.client.detach_port(n1, pod.host_if)
    assert sync(topo.controller.url, "30").json()["synced"]
    assert f"dl_dst={pod.mac}" not in topo.nodes[n1].flows()
