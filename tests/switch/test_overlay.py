"""Real data plane: two OVS nodes over VXLAN, pods as namespaces, programmed by the controller."""
from __future__ import annotations

import json
import subprocess

import pytest
from l2sm_nodes import BRIDGE, WebServer, wait_until

from osm_l2sm.switch.bridge import del_port


@pytest.fixture
def blue(two_nodes, tmp_path):
    """Network blue with pod a on node1 (10.10.0.1) and pod b on node2 (10.10.0.2)."""
    n1, n2 = sorted(two_nodes.nodes)
    two_nodes.client.create_network("blue", cidr="10.10.0.0/24")
    a = two_nodes.add_pod("a", n1, "blue", "10.10.0.1/24")
    b = two_nodes.add_pod("b", n2, "blue", "10.10.0.2/24")
    return two_nodes, a, b


def test_same_network_across_nodes_carries_ping_and_http(blue, tmp_path):
    topo, a, b = blue
    assert a.ping("10.10.0.2", count=3)
    with WebServer(b, "10.10.0.2", str(tmp_path / "web")) as web:
        assert web.fetch_from(a) == web.content


def test_networks_with_the_same_subnet_are_isolated(blue):
    topo, a, b = blue
    n1, n2 = sorted(topo.nodes)
    topo.client.create_network("red", cidr="10.10.0.0/24")
    # c is red on node2; d is red on node1 with a's very IP and MAC
    c = topo.add_pod("c", n2, "red", "10.10.0.3/24")
    d = topo.add_pod("d", n1, "red", "10.10.0.1/24", mac=a.mac)
    assert d.mac == a.mac
    assert d.ping("10.10.0.3"), "red works across nodes even with addresses and MACs blue uses"
    assert a.ping("10.10.0.2"), "blue still works"
    assert not a.ping("10.10.0.3"), "blue reaches red"
    assert not c.ping("10.10.0.2"), "red reaches blue"
    for pod, ip in ((a, "10.10.0.3"), (c, "10.10.0.2")):
        entry = pod.neigh_state(ip)
        assert "lladdr" not in entry and ("FAILED" in entry or "INCOMPLETE" in entry), entry
    # d's ARP for 10.10.0.3 was answered by c, not by anyone in blue
    assert c.mac in d.neigh_state("10.10.0.3")


def test_detach_stops_traffic_and_reattach_restores_it(blue):
    topo, a, b = blue
    assert a.ping("10.10.0.2")
    topo.client.detach_port(b.node.name, b.host_if)
    wait_until(lambda: f"dl_dst={b.mac}" not in b.node.flows(), what="b's flows removed")
    assert not a.ping("10.10.0.2")
    topo.attach(b, "blue")
    assert a.ping("10.10.0.2")


def test_ports_registered_before_they_exist_work_once_plugged_and_stop_once_unplugged(blue):
    topo, a, b = blue
    n1, n2 = sorted(topo.nodes)
    f = topo.add_pod("f", n2, "blue", "10.10.0.6/24", register_first=True)
    assert a.ping("10.10.0.6") and f.ping("10.10.0.1")
    del_port(f.node.ovs, BRIDGE, f.host_if)
    wait_until(lambda: topo.port_ofport(f) is None, what="unplugged port forgotten")
    assert f"dl_dst={f.mac}" not in f.node.flows()
    assert not a.ping("10.10.0.6")


def test_controller_crash_keeps_traffic_and_restart_resyncs(blue, tmp_path):
    topo, a, b = blue
    n1, n2 = sorted(topo.nodes)
    node1 = topo.nodes[n1]
    with WebServer(b, "10.10.0.2", str(tmp_path / "web")) as web:
        transfer = subprocess.Popen(["ip", "netns", "exec", a.ns, "curl", "-sf", "--limit-rate", "4M",
                                     "--max-time", "60", "http://10.10.0.2:8080/blob"], stdout=subprocess.PIPE)
        try:
            topo.controller.kill()  # while the download runs
            body, _ = transfer.communicate(timeout=90)
        finally:
            if transfer.poll() is None:
                transfer.kill()
        assert transfer.returncode == 0 and body == web.content, "download broke when the controller died"
    assert a.ping("10.10.0.2"), "switches keep forwarding without a controller"

    # flows the restarted controller does not want, one per cookie generation
    node1.ovs.ofctl("add-flow", BRIDGE, "cookie=0x0,table=1,priority=300,dl_dst=02:de:ad:00:00:00,actions=drop")
    node1.ovs.ofctl("add-flow", BRIDGE, "cookie=0x1,table=0,priority=300,in_port=999,actions=drop")
    topo.controller.start()
    nets = {n["name"]: n for n in topo.client.list_networks()}
    assert [p["interface"] for p in nets["blue"]["ports"]] == sorted([a.host_if, b.host_if])
    wait_until(lambda: "02:de:ad" not in node1.flows() and "in_port=999" not in node1.flows(),
               timeout=60, what="stale flows removed after restart")
    assert a.ping("10.10.0.2")
    e = topo.add_pod("e", n2, "blue", "10.10.0.5/24")
    assert a.ping("10.10.0.5") and e.ping("10.10.0.2")


def test_metrics_count_what_the_controller_holds(blue):
    topo, a, b = blue
    text = topo.client.metrics()
    assert "l2sm_networks 1.0" in text and "l2sm_ports 2.0" in text and "l2sm_switches_connected 2.0" in text
    topology = topo.client.topology()
    assert {(l["a"], l["b"]) for l in topology["links"]} == {tuple(sorted(topo.nodes))}
    assert json.dumps(topology)  # plain JSON
