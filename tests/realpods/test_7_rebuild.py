"""The controller holds nothing that cannot be rebuilt: with the stock chart (its state on an emptyDir), deleting the
controller pod gives a new, empty controller that gets the networks back from the L2Networks (operator), the switch
from its node and the ports from the node daemon, while a pod pair pinging every 10 ms loses nothing; then a new pod
attaches and talks to an old one. Prints the time to rebuild and the pings lost."""
from __future__ import annotations

import json
import time

from tests.pinger import Pinger
from tests.polling import wait_for
from tests.realpods.conftest import CACHE, RELEASE_NS, Cluster, l2network, node, pod_manifest, workload
from tests.realpods.timings import report_timing

SELECTOR = "app.kubernetes.io/component=controller"


def views(cluster: Cluster) -> dict | None:
    """The controller's networks, switches and ports; None while it cannot be asked (its pod is being replaced)."""
    try:
        return {path: cluster.controller_get(path) for path in ("networks", "switches", "ports")}
    except (AssertionError, ValueError):
        return None


def controller_pod(cluster: Cluster) -> tuple[str, bool] | None:
    """(name, Ready) of the controller pod that is not being deleted."""
    listed = cluster.kubectl("-n", RELEASE_NS, "get", "pods", "-l", SELECTOR, "-o", "json", check=False)
    for pod in json.loads(listed.stdout or '{"items": []}')["items"]:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
        return pod["metadata"]["name"], ready
    return None


def test_a_deleted_controller_pod_is_rebuilt_without_losing_a_ping(l2sm: Cluster):
    with workload(l2sm, l2network("rb-net", "10.50.0.0/24"), l2network("rb-other", "10.51.0.0/24"),
                  pod_manifest("rb-1", '[{"name": "rb-net", "ips": ["10.50.0.1/24"]}]', node=node(1)),
                  pod_manifest("rb-2", '[{"name": "rb-net", "ips": ["10.50.0.2/24"]}]', node=node(2)),
                  pod_manifest("rb-3", '[{"name": "rb-other", "ips": ["10.51.0.3/24"]}]', node=node(3))) as cluster:
        assert "1 received" in cluster.exec("rb-1", "ping", "-c", "1", "-W", "2", "10.50.0.2").stdout
        before = wait_for(lambda: (v := views(cluster)) and all(
            s["flows"] == "acknowledged" for n in v["networks"] for s in n["switches"].values()) and v,
            "every switch acknowledged its flows", timeout=60)
        pinger = Pinger(cluster._in_netns(CACHE / "bin" / "kubectl", "--kubeconfig", cluster.env["KUBECONFIG"],
                                          "exec", "rb-1", "--", "ping", "-i", "0.01", "-W", "1", "10.50.0.2"))
        try:
            wait_for(lambda: pinger.answered() > 20, "the pings answered", timeout=30)
            old, _ = controller_pod(cluster)
            cluster.kubectl("-n", RELEASE_NS, "delete", "pod", old, "--wait=false")
            deleted = time.monotonic()
            wait_for(lambda: (p := controller_pod(cluster)) and p[0] != old and p[1], "a new controller pod Ready",
                     timeout=120, interval=0.2)
            ready = time.monotonic()
            wait_for(lambda: views(cluster) == before, "networks, switches and ports as before", timeout=120,
                     interval=0.5)
            rebuilt = time.monotonic()
            time.sleep(1)  # pings after the rebuild count too
        finally:
            answered, lost = pinger.stop()
        report_timing(f"controller pod deleted: new one Ready {ready - deleted:.1f} s later, networks, switches "
                      f"and ports rebuilt {rebuilt - ready:.1f} s after Ready; pings every 10 ms: {answered} "
                      f"answered, {lost} lost")
        assert lost == 0, "".join(pinger.lines[-20:])

        cluster.apply(pod_manifest("rb-4", '[{"name": "rb-net", "ips": ["10.50.0.4/24"]}]', node=node(3)))
        try:
            cluster.wait_ready("rb-4", timeout=120)
            assert "1 received" in cluster.exec("rb-4", "ping", "-c", "1", "-W", "2", "10.50.0.1").stdout
            assert cluster.exec("rb-1", "ping", "-c", "2", "-W", "1", "10.51.0.3", check=False).returncode != 0
        finally:
            cluster.kubectl("delete", "pod", "rb-4", "--wait=true", "--timeout=120s", check=False, timeout=180)
