"""GET /api/v1/sync: a change is acknowledged only once the switches hold its flows, and bad input is a 400."""
from __future__ import annotations

import requests

from osm_l2sm.constants import BRIDGE
from osm_l2sm.sandbox import temporary_sandbox
from tests.hand_ports import HandPort
from tests.polling import wait_for


def sync(url: str, wait: str | None = None, session=requests) -> requests.Response:
    """GET /sync; ``session``: a controller client's, which carries its token."""
    return session.get(f"{url}/api/v1/sync", params={"wait": wait} if wait is not None else None, timeout=70)


def test_sync_lists_registered_switches_and_rejects_a_bad_wait(controller):
    client = controller.client()
    assert sync(controller.url).json() == {"synced": True, "switches": {}}
    client.register_switch("node1", "00000000000000a1", {})
    client.create_network("blue")
    answer = sync(controller.url, "1").json()
    assert answer == {"synced": True, "switches": {"node1": {"connected": False, "queued": 0, "acknowledged": 0,
                                                             "generation": None, "settled": False,
                                                             "flows": 0}}}
    for bad in ("x", "-1", "61", "nan"):
        resp = sync(controller.url, bad)
        assert resp.status_code == 400 and "wait" in resp.json()["error"], bad


def test_once_synced_the_switches_already_hold_the_flows_of_the_change(require_root_ovs):
    with temporary_sandbox(prefix="y", nodes=2) as sb:
        client = sb.controller_client()
        url, session = client.url, client.session

        def flows(node: str) -> str:
            return sb.node_ovs(node).ofctl("dump-flows", BRIDGE)

        net = client.create_network("blue")
        answer = sync(url, "30", session).json()
        assert answer["synced"] and all(s["connected"] and s["acknowledged"] for s in answer["switches"].values())
        for node in ("node1", "node2"):  # a network without ports costs no flow on any switch
            assert f"dl_vlan={net['id']}" not in flows(node)
        assert client.get_network("blue")["switches"] == {}
        pod = HandPort(sb, "a", "node1", "10.10.0.1/24")
        wait_for(lambda: pod.host_if in next(s for s in client.list_switches() if s["name"] == "node1")["ports"],
                 "the pod's port known to the controller")
        client.attach_port("blue", "node1", pod.host_if, pod.mac)
        assert sync(url, "30", session).json()["synced"]
        # no polling: acknowledged means installed, on the switch with the port only
        assert f"dl_dst={pod.mac}" in flows("node1")
        assert f"dl_vlan={net['id']}" in flows("node1")
        assert f"dl_vlan={net['id']}" not in flows("node2")
        assert client.get_network("blue")["switches"] == {"node1": {"connected": True, "flows": "acknowledged"}}
        client.detach_port("node1", pod.host_if)
        assert sync(url, "30", session).json()["synced"]
        assert f"dl_dst={pod.mac}" not in flows("node1")
