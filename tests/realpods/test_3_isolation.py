"""Two L2Networks with the same CIDR on real pods spread over the nodes: each is its own link layer (no ARP, no IP
across them), and a broadcast reaches exactly its network's pods on every node."""
from __future__ import annotations

import pytest

from tests.realpods.conftest import Cluster, ipv4_of, l2network, node, pod_manifest, workload

@pytest.fixture(scope="module")
def twins(l2sm: Cluster):
    with workload(l2sm,
                  l2network("blue-twin", "10.20.0.0/24"),
                  l2network("red-twin", "10.20.0.0/24"),
                  pod_manifest("blue-a", '[{"name": "blue-twin", "ips": ["10.20.0.1/24"]}]', node=node(1)),
                  pod_manifest("blue-b", '[{"name": "blue-twin", "ips": ["10.20.0.2/24"]}]', node=node(2)),
                  pod_manifest("blue-c", '[{"name": "blue-twin", "ips": ["10.20.0.4/24"]}]', node=node(3)),
                  # blue-b's address, on red
                  pod_manifest("red-a", '[{"name": "red-twin", "ips": ["10.20.0.2/24"]}]', node=node(3)),
                  pod_manifest("red-b", '[{"name": "red-twin", "ips": ["10.20.0.3/24"]}]', node=node(2)),
                  pod_manifest("red-c", '[{"name": "red-twin", "ips": ["10.20.0.5/24"]}]', node=node(1))) as cluster:
        yield cluster


def _mac(cluster: Cluster, pod: str) -> str:
    return cluster.exec(pod, "cat", "/sys/class/net/net1/address").stdout.strip()


def test_same_cidr_networks_do_not_see_each_other(twins: Cluster):
    assert ipv4_of(twins, "blue-b", "net1") == ["10.20.0.2/24"] == ipv4_of(twins, "red-a", "net1")
    # inside one network: ping works and ARP resolves the peer of that network, never the twin's
    assert "1 received" in twins.exec("blue-a", "ping", "-c", "1", "-W", "2", "-I", "net1", "10.20.0.2").stdout
    neigh = twins.exec("blue-a", "ip", "neigh", "show", "10.20.0.2", "dev", "net1").stdout
    assert _mac(twins, "blue-b") in neigh and _mac(twins, "red-a") not in neigh, neigh
    # across networks: no ping reply and no ARP answer
    assert twins.exec("blue-a", "ping", "-c", "2", "-W", "1", "-I", "net1", "10.20.0.3", check=False).returncode != 0
    arping = twins.exec("blue-a", "arping", "-c", "2", "-w", "3", "-I", "net1", "10.20.0.3", check=False)
    assert arping.returncode != 0 and _mac(twins, "red-b") not in arping.stdout.lower(), arping.stdout
    assert "1 received" in twins.exec("red-a", "ping", "-c", "1", "-W", "2", "-I", "net1", "10.20.0.3").stdout
    assert twins.exec("red-b", "ping", "-c", "2", "-W", "1", "-I", "net1", "10.20.0.1", check=False).returncode != 0


def _frames_received(cluster: Cluster, pod: str) -> int:
    return int(cluster.exec(pod, "cat", "/sys/class/net/net1/statistics/rx_packets").stdout)


def test_a_broadcast_reaches_exactly_its_networks_pods_on_every_node(twins: Cluster):
    pods = ("blue-b", "blue-c", "red-a", "red-b", "red-c")
    before = {pod: _frames_received(twins, pod) for pod in pods}
    # 40 frames to the broadcast address from blue's pod on node 1 (echo requests to 10.20.0.255)
    twins.exec("blue-a", "ping", "-b", "-c", "40", "-i", "0.2", "-W", "1", "-I", "net1", "10.20.0.255", check=False,
               timeout=60)
    got = {pod: _frames_received(twins, pod) - before[pod] for pod in pods}
    # blue's pods on nodes 2 and 3 got every one; red's pods (on every node) none: what they got meanwhile is their
    # own network's chatter (IPv6 neighbour discovery), well under 40
    assert got["blue-b"] >= 40 and got["blue-c"] >= 40, got
    assert got["red-a"] < 20 and got["red-b"] < 20 and got["red-c"] < 20, got
