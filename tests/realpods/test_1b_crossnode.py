"""L2S-M across nodes on real pods: the stock chart's switches find each other from the Node objects (no per-node
values), and pods pinned to different nodes share a link layer through the VXLAN tunnels between the nodes' switch
pods, over the nodes' underlay; same-CIDR networks stay apart across nodes, and a broadcast reaches exactly its
network's pods on every node."""
from __future__ import annotations

import pytest

from tests.polling import wait_for
from tests.realpods.conftest import NODE_NAMES, Cluster, ipv4_of, l2network, pod_manifest, workload

pytestmark = pytest.mark.skipif(len(NODE_NAMES) < 3, reason="needs the cluster of 3 nodes")
ONE, TWO, THREE = NODE_NAMES[:3]


def test_every_switch_has_a_tunnel_to_every_other_node(l2sm: Cluster):
    for node in l2sm.nodes:
        wanted = {f"vx-{peer}" for peer in l2sm.nodes if peer != node}
        wait_for(lambda n=node, w=wanted: w <= l2sm.ovs_ports(n), f"the tunnels of {node}'s switch", timeout=60)
    switches = {s["name"]: s for s in l2sm.controller_get("switches")}
    for node in l2sm.nodes:
        assert set(switches[node]["tunnels"]) == set(l2sm.nodes) - {node}, switches[node]
    # the VXLAN devices fit the nodes' underlay (eth0, MTU 1500): 1450, so that no encapsulated frame exceeds it
    for node in l2sm.nodes:
        underlay = l2sm.on_node("cat", "/sys/class/net/eth0/mtu", node=node).stdout.strip()
        for peer in set(l2sm.nodes) - {node}:
            mtu = l2sm.on_node("cat", f"/sys/class/net/vx-{peer}/mtu", node=node).stdout.strip()
            assert (underlay, mtu) == ("1500", "1450"), (node, peer)


@pytest.fixture(scope="module")
def spread(l2sm: Cluster):
    with workload(l2sm,
                  l2network("far-network", "10.30.0.0/24"),
                  pod_manifest("far-a", '[{"name": "far-network", "ips": ["10.30.0.1/24"]}]', node=ONE),
                  pod_manifest("far-b", '[{"name": "far-network", "ips": ["10.30.0.2/24"]}]', node=TWO),
                  pod_manifest("far-c", '[{"name": "far-network", "ips": ["10.30.0.3/24"]}]', node=THREE)) as c:
        yield c


def test_pods_on_three_nodes_are_placed_as_asked(spread: Cluster):
    assert [spread.node_of(p) for p in ("far-a", "far-b", "far-c")] == [ONE, TWO, THREE]


def test_ping_pong_between_every_pair_of_nodes(spread: Cluster):
    for pod, peer in (("far-a", "10.30.0.2"), ("far-a", "10.30.0.3"), ("far-b", "10.30.0.3"), ("far-c", "10.30.0.1")):
        out = spread.exec(pod, "ping", "-c", "3", "-W", "2", "-I", "net1", peer, check=False).stdout
        assert "3 received" in out, f"{pod} -> {peer}: {out}"


def test_a_full_size_packet_crosses_nodes_unfragmented_in_the_pod(spread: Cluster):
    # 1422 bytes of ICMP payload + 28 of headers = the pods' MTU (1450), with Don't Fragment
    out = spread.exec("far-a", "ping", "-c", "2", "-W", "2", "-M", "do", "-s", "1422", "-I", "net1", "10.30.0.3",
                      check=False).stdout
    assert "2 received" in out, out


def test_a_4_mib_transfer_across_nodes_keeps_its_sha256(spread: Cluster):
    spread.exec("far-a", "sh", "-c", "head -c 4194304 /dev/urandom > /tmp/blob")
    sent = spread.exec("far-a", "sha256sum", "/tmp/blob").stdout.split()[0]
    spread.exec("far-c", "sh", "-c", "rm -f /tmp/got; setsid sh -c 'nc -l 5000 > /tmp/got' < /dev/null > /dev/null "
                                     "2>&1 & sleep 0.5")
    spread.exec("far-a", "sh", "-c", "nc -N -w 10 10.30.0.3 5000 < /tmp/blob", timeout=120)
    received = "[ $(stat -c %s /tmp/got) = 4194304 ] && sha256sum /tmp/got"
    got = wait_for(lambda: spread.exec("far-c", "sh", "-c", received, check=False).stdout.split(),
                   "the transfer on far-c", timeout=120)
    assert got[0] == sent


@pytest.fixture(scope="module")
def twins(l2sm: Cluster):
    with workload(l2sm,
                  l2network("blue-far", "10.40.0.0/24"),
                  l2network("red-far", "10.40.0.0/24"),
                  pod_manifest("bluefar-a", '[{"name": "blue-far", "ips": ["10.40.0.1/24"]}]', node=ONE),
                  pod_manifest("bluefar-b", '[{"name": "blue-far", "ips": ["10.40.0.2/24"]}]', node=TWO),
                  pod_manifest("bluefar-c", '[{"name": "blue-far", "ips": ["10.40.0.4/24"]}]', node=THREE),
                  pod_manifest("redfar-a", '[{"name": "red-far", "ips": ["10.40.0.2/24"]}]', node=THREE),
                  pod_manifest("redfar-b", '[{"name": "red-far", "ips": ["10.40.0.3/24"]}]', node=TWO),
                  pod_manifest("redfar-c", '[{"name": "red-far", "ips": ["10.40.0.5/24"]}]', node=ONE)) as c:
        yield c


def _mac(cluster: Cluster, pod: str) -> str:
    return cluster.exec(pod, "cat", "/sys/class/net/net1/address").stdout.strip()


def test_same_cidr_networks_do_not_see_each_other_across_nodes(twins: Cluster):
    assert ipv4_of(twins, "bluefar-b", "net1") == ["10.40.0.2/24"] == ipv4_of(twins, "redfar-a", "net1")
    assert "1 received" in twins.exec("bluefar-a", "ping", "-c", "1", "-W", "2", "-I", "net1", "10.40.0.2").stdout
    neigh = twins.exec("bluefar-a", "ip", "neigh", "show", "10.40.0.2", "dev", "net1").stdout
    assert _mac(twins, "bluefar-b") in neigh and _mac(twins, "redfar-a") not in neigh, neigh
    # red's pods on nodes 2 and 3 neither answer blue's ping nor its ARP
    for address, pod in (("10.40.0.3", "redfar-b"), ("10.40.0.5", "redfar-c")):
        assert twins.exec("bluefar-a", "ping", "-c", "2", "-W", "1", "-I", "net1", address,
                          check=False).returncode != 0
        arping = twins.exec("bluefar-c", "arping", "-c", "2", "-w", "3", "-I", "net1", address, check=False)
        assert arping.returncode != 0 and _mac(twins, pod) not in arping.stdout.lower(), arping.stdout
    assert "1 received" in twins.exec("redfar-a", "ping", "-c", "1", "-W", "2", "-I", "net1", "10.40.0.3").stdout
    assert "1 received" in twins.exec("redfar-c", "ping", "-c", "1", "-W", "2", "-I", "net1", "10.40.0.2").stdout


def _frames_received(cluster: Cluster, pod: str) -> int:
    return int(cluster.exec(pod, "cat", "/sys/class/net/net1/statistics/rx_packets").stdout)


def test_a_broadcast_reaches_exactly_its_networks_pods_on_every_node(twins: Cluster):
    pods = ("bluefar-b", "bluefar-c", "redfar-a", "redfar-b", "redfar-c")
    before = {pod: _frames_received(twins, pod) for pod in pods}
    # 40 frames to the broadcast address from blue's pod on node 1 (echo requests to 10.40.0.255)
    twins.exec("bluefar-a", "ping", "-b", "-c", "40", "-i", "0.2", "-W", "1", "-I", "net1", "10.40.0.255",
               check=False, timeout=60)
    got = {pod: _frames_received(twins, pod) - before[pod] for pod in pods}
    # blue's pods on nodes 2 and 3 got every one; red's pods (on every node) none: what they got meanwhile is their
    # own network's chatter (IPv6 neighbour discovery), well under 40
    assert got["bluefar-b"] >= 40 and got["bluefar-c"] >= 40, got
    assert got["redfar-a"] < 20 and got["redfar-b"] < 20 and got["redfar-c"] < 20, got
