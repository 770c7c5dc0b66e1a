"""The stock l2sm chart on a real node: every component runs and the node side of the CNI path works.

Each test here failed on the first real-pods run of the chart (defects found then): a controller that crashed on an
undeclared import, an operator that logged in as system:anonymous in its pod and so never served its webhook while
showing Ready, and a CNI plugin that exited 0 on errors.
"""
from __future__ import annotations

import json

from tests.realpods.conftest import NODES, RELEASE_NS, SCRIPTS, Cluster, run


def _pods(cluster: Cluster, component: str) -> list[dict]:
    out = cluster.kubectl("-n", RELEASE_NS, "get", "pods", "-l", f"app.kubernetes.io/component={component}",
                          "-o", "json").stdout
    return json.loads(out)["items"]


def test_controller_runs_without_restarts(l2sm: Cluster):
    [pod] = _pods(l2sm, "controller")
    [container] = pod["status"]["containerStatuses"]
    assert container["ready"] and container["restartCount"] == 0, container
    # it answers its REST API with the chart's token
    assert l2sm.controller_ports() is not None


def test_operator_is_ready_only_through_its_webhook_and_logged_in_with_its_service_account(l2sm: Cluster):
    [pod] = _pods(l2sm, "operator")
    [container] = pod["spec"]["containers"]
    assert container["readinessProbe"]["tcpSocket"]["port"] == "webhook"
    assert all(c["ready"] for c in pod["status"]["containerStatuses"])
    log = l2sm.kubectl("-n", RELEASE_NS, "logs", pod["metadata"]["name"]).stdout
    assert "system:anonymous" not in log and "Forbidden" not in log, log[-2000:]
    # the API server reaches the webhook: a labelled pod is admitted (server-side dry run) and mutated
    dry = l2sm.kubectl("apply", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "webhook-probe", "labels": {"l2sm": "true"}, "annotations": {"l2sm/networks": "x"}},
        "spec": {"containers": [{"name": "c", "image": "localhost/l2sm-testpod:local"}]}}))
    assert "l2sm/error" in json.loads(dry.stdout)["metadata"]["annotations"]  # answered by our webhook


def _plugin_add(cluster: Cluster, network: str):
    conf = json.dumps({"cniVersion": "1.0.0", "name": network, "type": "l2sm-cni", "network": network})
    return cluster.on_node("/opt/cni/bin/l2sm-cni", input=conf, check=False,
                           env={"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "realpods-probe",
                                "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "net9", "CNI_PATH": "/opt/cni/bin"})


def test_cni_plugin_on_the_node_fails_with_a_nonzero_status(l2sm: Cluster):
    """A runtime takes exit status 0 as success: an error must exit non-zero, with the spec's error object."""
    done = _plugin_add(l2sm, "no-such-network")
    assert done.returncode != 0, done.stdout
    error = json.loads(done.stdout)
    assert error["code"] == 7 and "no-such-network" in error["msg"], error  # invalid config, not "try again"


def test_the_plugin_on_the_node_needs_no_cluster_dns(l2sm: Cluster):
    """The runtime runs the plugin with the node's resolver, which knows no Service names; the answer above came
    from the controller (an unknown network), so the plugin reached it without them."""
    resolv = l2sm.on_node("cat", "/etc/resolv.conf").stdout
    assert "10.96.0.10" not in resolv and "svc.cluster.local" not in resolv, resolv
    assert json.loads(_plugin_add(l2sm, "no-such-network").stdout)["code"] != 11


def test_a_second_up_is_refused_and_leaves_the_running_cluster_up(l2sm: Cluster):
    """`k8s-node-cluster up` while a cluster is up says so and exits non-zero; the cluster stays (it used to be torn
    down by the failed `up`'s cleanup)."""
    done = run(SCRIPTS / "k8s-node-cluster", "up", check=False, timeout=60)
    assert done.returncode != 0 and "a cluster seems to be up" in done.stderr, done.stderr
    nodes = json.loads(l2sm.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert len(nodes) == int(NODES) and all(
        c["status"] == "True" for n in nodes for c in n["status"]["conditions"] if c["type"] == "Ready"), nodes
    assert l2sm.controller_ports() is not None
