"""Nothing stays behind: deleting the pods releases their controller ports, OVS ports and addresses; removing the
release removes the data plane from the node. Runs last in the tier (it uninstalls the chart, then installs it
again for the session's later tiers)."""
from __future__ import annotations

from tests.polling import wait_for
from tests.realpods.cluster_fixtures import install_l2sm
from tests.realpods.conftest import RELEASE, RELEASE_NS, Cluster, l2network, pod_manifest

PODS = ("leak-a", "leak-b")


def test_deleting_pods_then_the_release_leaves_nothing(l2sm: Cluster):
    l2sm.apply(l2network("leak-net", "10.30.0.0/24"), pod_manifest("leak-a", "leak-net"),
               pod_manifest("leak-b", '[{"name": "leak-net", "ips": ["10.30.0.9/24"]}]'))
    l2sm.wait_ready(*PODS)
    ports = [p for p in l2sm.controller_ports() if p.get("network") == "leak-net"]
    assert len(ports) == 2 and {p["interface"] for p in ports} <= l2sm.ovs_ports()
    assert len(wait_for(lambda: (l2sm.get("l2network", "leak-net") or {}).get("status", {}).get("assignedIPs"),
                        "two addresses held", timeout=120)) == 2

    l2sm.kubectl("delete", "pod", *PODS, "--wait=true", "--timeout=120s", timeout=180)
    wait_for(lambda: not [p for p in l2sm.controller_ports() if p.get("network") == "leak-net"],
             "the controller ports released", timeout=60)
    assert not {p["interface"] for p in ports} & l2sm.ovs_ports()
    assert not {p["interface"] for p in ports} & l2sm.host_ends()
    status = wait_for(lambda: (s := l2sm.get("l2network", "leak-net")["status"]).get("connectedPodCount") == 0 and s,
                      "addresses released", timeout=120)
    assert not status.get("assignedIPs")

    # every test pod of the tier is gone once the last ones (of uninstalled releases) have terminated
    wait_for(lambda: not l2sm.kubectl("get", "pods", "-A", "-l", "l2sm=true", "-o", "name").stdout.strip(),
             "every labelled pod gone", timeout=120, interval=2)
    left = l2sm.kubectl("get", "pods", "-A", "-l", "l2sm=true", "-o", "name").stdout
    assert l2sm.controller_ports() == [], left
    assert not l2sm.host_ends(), (left, l2sm.ovs_ports(), l2sm.on_node("ip", "-o", "link").stdout)
    l2sm.kubectl("delete", "l2network", "leak-net", "--wait=true", "--timeout=120s", timeout=180)
    l2sm.helm("uninstall", RELEASE, "-n", RELEASE_NS, "--wait", "--timeout", "180s")
    wait_for(lambda: not l2sm.kubectl("-n", RELEASE_NS, "get", "pods", "-o", "name").stdout.strip(),
             "the chart's pods gone", timeout=180, interval=2)
    assert not l2sm.host_ends()
    bridges = l2sm.on_node("ip", "-o", "link", "show", "br-l2sm", check=False)
    assert bridges.returncode != 0, bridges.stdout
    install_l2sm(l2sm)  # the session's chart again, for the tiers after this one (osm_full)
