"""Nodes joining and leaving a running L2S-M: node 3 leaves (its kubelet stopped, its Node deleted) and the other
switches drop their tunnels to it while the controller forgets its switch and releases its ports, the pair of nodes
1 and 2 losing nothing; then node 3 joins again and gets tunnels to and from every node, with nothing restarted by
hand. Prints the pings lost and how long each change took."""
from __future__ import annotations

import time

import pytest

from tests.polling import wait_for
from tests.realpods.conftest import (NODE_NAMES, RELEASE_NS, SCRIPTS, Cluster, l2network, l2sm_ready, pod_manifest,
                                    run, workload)
from tests.realpods.test_8_standby_upgrade import ping_result, start_pinging, switch_ready_on
from tests.realpods.timings import report_timing

pytestmark = pytest.mark.skipif(len(NODE_NAMES) < 3, reason="needs the cluster of 3 nodes")
ONE, TWO, THREE = NODE_NAMES[:3]


def _switches(cluster: Cluster) -> dict:
    return {s["name"]: s for s in cluster.controller_get("switches")}


def _tunnels_to(cluster: Cluster, peer: str, nodes: list[str]) -> dict[str, bool]:
    return {n: f"vx-{peer}" in cluster.ovs_ports(n) for n in nodes}


def _control_plane_off(cluster: Cluster, node: str) -> None:
    """The chart's controller and operator moved off ``node`` (cordoned meanwhile): the node that leaves here is a
    worker; the controller's own pod going away is the rebuild and standby tests' case (test_7, test_8)."""
    cluster.kubectl("cordon", node)
    try:
        for component in ("controller", "operator"):
            pods = cluster.kubectl("-n", RELEASE_NS, "get", "pods", "-l", f"app.kubernetes.io/component={component}",
                                   "--field-selector", f"spec.nodeName={node}", "-o", "name").stdout.split()
            if pods:
                cluster.kubectl("-n", RELEASE_NS, "delete", *pods, "--wait=true", "--timeout=120s", timeout=180)
        for component in ("controller", "operator"):
            wait_for(lambda c=component: l2sm_ready(cluster, c), f"l2sm {component} Ready off {node}", timeout=240,
                     interval=2)
    finally:
        cluster.kubectl("uncordon", node)


@pytest.fixture(scope="module")
def moving(l2sm: Cluster):
    _control_plane_off(l2sm, THREE)
    with workload(l2sm, l2network("move-net", "10.70.0.0/24"),
                  pod_manifest("move-a", '[{"name": "move-net", "ips": ["10.70.0.1/24"]}]', node=ONE),
                  pod_manifest("move-b", '[{"name": "move-net", "ips": ["10.70.0.2/24"]}]', node=TWO),
                  pod_manifest("move-c", '[{"name": "move-net", "ips": ["10.70.0.3/24"]}]', node=THREE)) as cluster:
        yield cluster


def test_a_node_that_leaves_then_joins_again(moving: Cluster):
    assert "1 received" in moving.exec("move-a", "ping", "-c", "1", "-W", "2", "10.70.0.3").stdout
    assert any(p["switch"] == THREE for p in moving.controller_ports())
    start_pinging(moving, "move-a", "10.70.0.2", 30)
    time.sleep(2)
    left = time.monotonic()
    run(SCRIPTS / "k8s-node-cluster", "node", "leave", "3", timeout=120)
    try:
        wait_for(lambda: not any(_tunnels_to(moving, THREE, [ONE, TWO]).values()),
                 "the tunnels to the node that left removed", timeout=60)
        gone = time.monotonic() - left
        wait_for(lambda: THREE not in _switches(moving), "its switch unregistered", timeout=60)
        assert not [p for p in moving.controller_ports() if p["switch"] == THREE], "its ports released"
        sent, lost = ping_result(moving, "move-a", 30)
        # gone for good: the cluster removes the pods it had (the pod garbage collector, after its 40 s quarantine)
        wait_for(lambda: not moving.kubectl("get", "pods", "-A", "--field-selector", f"spec.nodeName={THREE}",
                                            "-o", "name").stdout.strip(), "the pods of the node that left removed",
                 timeout=180, interval=2)
    finally:
        joined = time.monotonic()
        run(SCRIPTS / "k8s-node-cluster", "node", "join", "3", timeout=400)
    report_timing(f"node leaves: tunnels to it removed {gone:.1f} s after its Node was deleted; {lost} of {sent} "
                  "pings at 10 ms lost by a pair of the two other nodes")
    assert lost == 0, f"the pair of nodes 1 and 2 lost {lost} of {sent} pings"

    wait_for(lambda: switch_ready_on(moving, THREE), "the joined node's switch pod Ready", timeout=300, interval=1)
    wait_for(lambda: all(_tunnels_to(moving, THREE, [ONE, TWO]).values())
             and all(_tunnels_to(moving, peer, [THREE])[THREE] for peer in (ONE, TWO)),
             "tunnels to and from the joined node", timeout=120)
    back = time.monotonic() - joined
    assert set(_switches(moving)[THREE]["tunnels"]) == {ONE, TWO}
    # a new pod of the joined node talks to the others (its old pods went with its Node)
    moving.apply(pod_manifest("move-c", '[{"name": "move-net", "ips": ["10.70.0.3/24"]}]', node=THREE))
    moving.wait_ready("move-c", timeout=240)
    for pod, peer in (("move-c", "10.70.0.1"), ("move-c", "10.70.0.2"), ("move-b", "10.70.0.3")):
        wait_for(lambda p=pod, a=peer: "1 received" in moving.exec(p, "ping", "-c", "1", "-W", "2", a,
                                                                   check=False).stdout,
                 f"{pod} reaching {peer}", timeout=60)
    report_timing(f"node joins again: Ready, its switch up and tunnelled to and from every node {back:.0f} s after "
                  "its kubelet started")
