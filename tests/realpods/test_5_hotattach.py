"""Attach and detach on a running pod by editing its ``l2sm/networks`` annotation: the interface appears with its
address and carries traffic to its peer on another node, then goes with its ports."""
from __future__ import annotations

import pytest

from tests.polling import wait_for
from tests.realpods.conftest import Cluster, ipv4_of, l2network, node, pod_manifest, workload

BOTH = '[{"name": "hot-a", "ips": ["10.40.0.1/24"]}, {"name": "hot-b", "ips": ["10.41.0.1/24"]}]'


@pytest.fixture(scope="module")
def hot(l2sm: Cluster):
    with workload(l2sm, l2network("hot-a", "10.40.0.0/24"), l2network("hot-b", "10.41.0.0/24"),
                  pod_manifest("hot-1", '[{"name": "hot-a", "ips": ["10.40.0.1/24"]}]'),
                  pod_manifest("hot-2", '[{"name": "hot-a", "ips": ["10.40.0.2/24"]}, '
                                        '{"name": "hot-b", "ips": ["10.41.0.2/24"]}]', node=node(2))) as cluster:
        yield cluster


def _ports_on(cluster: Cluster, network: str) -> list[dict]:
    return [p for p in cluster.controller_ports() if p.get("network") == network]


def test_attach_then_detach_on_a_running_pod(hot: Cluster):
    restarts = hot.get("pod", "hot-1")["status"]["containerStatuses"][0]["restartCount"]
    assert hot.exec("hot-1", "ip", "link", "show", "net2", check=False).returncode != 0
    assert hot.exec("hot-2", "ping", "-c", "1", "-W", "1", "10.41.0.1", check=False).returncode != 0

    hot.kubectl("annotate", "--overwrite", "pod", "hot-1", f"l2sm/networks={BOTH}")
    assert wait_for(lambda: ipv4_of(hot, "hot-1", "net2"), "net2 on hot-1 with its address", timeout=90) == [
        "10.41.0.1/24"]
    assert "1 received" in wait_for(lambda: hot.exec("hot-2", "ping", "-c", "1", "-W", "2", "-I", "net2", "10.41.0.1",
                                                     check=False).stdout, "hot-2 reaching hot-1 over hot-b", timeout=30)
    assert ipv4_of(hot, "hot-1", "net1") == ["10.40.0.1/24"]  # the network it stays on is untouched
    attached = [p["interface"] for p in _ports_on(hot, "hot-b")]
    assert len(attached) == 2 and set(attached) <= hot.ovs_ports()

    hot.kubectl("annotate", "--overwrite", "pod", "hot-1", 'l2sm/networks=[{"name": "hot-a", "ips": ["10.40.0.1/24"]}]')
    wait_for(lambda: hot.exec("hot-1", "ip", "link", "show", "net2", check=False).returncode != 0,
             "net2 gone from hot-1", timeout=90)
    remaining = wait_for(lambda: (r := _ports_on(hot, "hot-b")) and len(r) == 1 and r,
                         "hot-1's port on hot-b released", timeout=60)
    gone = set(attached) - {p["interface"] for p in remaining}
    assert len(gone) == 1 and not gone & hot.ovs_ports()
    assert hot.exec("hot-2", "ping", "-c", "2", "-W", "1", "10.41.0.1", check=False).returncode != 0
    assert "1 received" in hot.exec("hot-2", "ping", "-c", "1", "-W", "2", "10.40.0.1").stdout
    assert hot.get("pod", "hot-1")["status"]["containerStatuses"][0]["restartCount"] == restarts
