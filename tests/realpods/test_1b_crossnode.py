"""L2S-M across nodes on real pods: the stock chart's switches find each other from the Node objects (no per-node
values), and pods pinned to different nodes share a link layer through the VXLAN tunnels between the nodes' switch
pods, over the nodes' underlay (isolation and broadcast across nodes: test_3_isolation)."""
from __future__ import annotations

import re

import pytest

from tests.polling import wait_for
from tests.realpods.conftest import NODE_NAMES, Cluster, l2network, pod_manifest, workload

pytestmark = pytest.mark.skipif(len(NODE_NAMES) < 3, reason="needs the cluster of 3 nodes")
ONE, TWO, THREE = NODE_NAMES[:3]


def _mtu(cluster: Cluster, node: str, ifname: str) -> int:
    """A link's MTU in a node's network namespace (its /sys is the host's)."""
    out = cluster.on_node("ip", "-o", "link", "show", "dev", ifname, node=node).stdout
    return int(re.search(r" mtu (\d+) ", out).group(1))


def test_every_switch_has_a_tunnel_to_every_other_node(l2sm: Cluster):
    for node in l2sm.nodes:
        wanted = {f"vx-{peer}" for peer in l2sm.nodes if peer != node}
        wait_for(lambda n=node, w=wanted: w <= l2sm.ovs_ports(n), f"the tunnels of {node}'s switch", timeout=60)
    switches = {s["name"]: s for s in l2sm.controller_get("switches")}
    for node in l2sm.nodes:
        assert set(switches[node]["tunnels"]) == set(l2sm.nodes) - {node}, switches[node]
    # the VXLAN devices fit the nodes' underlay (eth0, MTU 1500): 1450, so that no encapsulated frame exceeds it
    for node in l2sm.nodes:
        for peer in set(l2sm.nodes) - {node}:
            assert (_mtu(l2sm, node, "eth0"), _mtu(l2sm, node, f"vx-{peer}")) == (1500, 1450), (node, peer)


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
    # 1414 bytes of ICMP payload + 28 of headers = the pods' MTU (1442: the tunnels' 1450 less the network key's two
    # VLAN tags), with Don't Fragment
    out = spread.exec("far-a", "ping", "-c", "2", "-W", "2", "-M", "do", "-s", "1414", "-I", "net1", "10.30.0.3",
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
