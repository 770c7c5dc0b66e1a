"""Two L2Networks with the same CIDR on real pods: each is its own link layer (no ARP, no IP across them)."""
from __future__ import annotations

import pytest

from tests.realpods.conftest import Cluster, ipv4_of, l2network, pod_manifest, workload

@pytest.fixture(scope="module")
def twins(l2sm: Cluster):
    with workload(l2sm,
                  l2network("blue-twin", "10.20.0.0/24"),
                  l2network("red-twin", "10.20.0.0/24"),
                  pod_manifest("blue-a", '[{"name": "blue-twin", "ips": ["10.20.0.1/24"]}]'),
                  pod_manifest("blue-b", '[{"name": "blue-twin", "ips": ["10.20.0.2/24"]}]'),
                  pod_manifest("red-a", '[{"name": "red-twin", "ips": ["10.20.0.2/24"]}]'),  # blue-b's address, on red
                  pod_manifest("red-b", '[{"name": "red-twin", "ips": ["10.20.0.3/24"]}]')) as cluster:
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
