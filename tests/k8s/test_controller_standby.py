"""Controller replicas elect one leader through a real kube-apiserver's Lease: only the leader answers writes and
carries the label the Service selects; a killed leader is replaced by the standby, a stopped one hands over at once.
The two replicas are controller processes on this host; their pods are stored in the API server (never run) so
that each can label its own, as in a cluster. The chart's side (replicas, RBAC, Service) is rendered and checked
against the API server's authorizer."""
from __future__ import annotations

import time

import pytest

from osm_l2sm.controller.leader import LEADER_LABEL
from osm_l2sm.controller.process import ControllerProcess
from osm_l2sm.errors import L2smError
from tests.controllers import controller_process
from tests.k8s.test_charts import can, render
from tests.polling import wait_for

LEASE = "l2sm-controller"


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "controller", "image": "osm-l2sm"}]}}


def writes(ctl: ControllerProcess, network: str) -> bool:
    """True when this replica takes a write (a network created); False when it answers as a standby (503)."""
    try:
        ctl.client(timeout=5).create_network(network)
        return True
    except L2smError as err:
        assert err.status == 503, err
        return False


def labelled(core, namespace: str) -> list[str]:
    return sorted(p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=f"{LEADER_LABEL}=true")
                  .items)


@pytest.fixture
def replicas(kube_api, k8s_namespace, tmp_path, monkeypatch):
    """A function starting replica NAME (its pod created first); every replica stopped at the end."""
    from kubernetes import client

    core = client.CoreV1Api(kube_api.client())
    started = []
    monkeypatch.setenv("KUBECONFIG", kube_api.kubeconfig)
    monkeypatch.setenv("POD_NAMESPACE", k8s_namespace)

    def start(name: str) -> ControllerProcess:
        core.create_namespaced_pod(k8s_namespace, pod(name))
        monkeypatch.setenv("POD_NAME", name)
        ctl = controller_process(tmp_path, name, options=("--leader-lease", LEASE, "--leader-lease-seconds", "6"))
        started.append(ctl)
        return ctl.start()

    try:
        yield start, core
    finally:
        for ctl in started:
            ctl.kill()


def test_one_replica_leads_a_killed_leader_is_replaced_and_a_stopped_one_hands_over(replicas, k8s_namespace):
    start, core = replicas
    first = start("ctl-a")
    wait_for(lambda: labelled(core, k8s_namespace) == ["ctl-a"], "the first replica leads and labels its pod")
    second = start("ctl-b")
    assert writes(first, "blue") and not writes(second, "red")
    assert second.client().healthz()["role"] == "standby"
    assert labelled(core, k8s_namespace) == ["ctl-a"]

    killed = time.monotonic()
    first.kill()  # SIGKILL: the lease is left to expire
    core.delete_namespaced_pod("ctl-a", k8s_namespace, grace_period_seconds=0)  # its pod goes, with its label
    wait_for(lambda: labelled(core, k8s_namespace) == ["ctl-b"] or None, "the standby takes over", timeout=60)
    took = time.monotonic() - killed
    assert writes(second, "green")
    print(f"\ntakeover after SIGKILL of the leader: {took:.1f} s (lease 6 s)")

    third = start("ctl-c")
    assert not writes(third, "red")
    stopped = time.monotonic()
    second.stop()  # SIGTERM: the lease is given up, and the label
    wait_for(lambda: labelled(core, k8s_namespace) == ["ctl-c"] or None, "the standby takes over", timeout=60)
    print(f"takeover after SIGTERM of the leader: {time.monotonic() - stopped:.1f} s")
    assert writes(third, "red")


def test_a_replica_without_its_pod_name_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("POD_NAME", raising=False)
    ctl = controller_process(tmp_path, options=("--leader-lease", LEASE))
    with pytest.raises(L2smError, match="exited with code 1"):
        ctl.start()
    with open(ctl.log_file, encoding="utf-8") as log:
        assert "--leader-lease needs $POD_NAME and $POD_NAMESPACE" in log.read()


# --- the chart --------------------------------------------------------------------------------------------------

def by_kind(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_two_controller_replicas_elect_a_leader_the_service_selects(helm):
    one = render(helm, "l2sm", "l2sm", "l2sm-system")
    two = render(helm, "l2sm", "l2sm", "l2sm-system", "--set", "controller.replicas=2")
    assert by_kind(one, "Deployment", "l2sm-controller")["spec"]["strategy"]["type"] == "Recreate"
    assert LEADER_LABEL not in by_kind(one, "Service", "l2sm-controller")["spec"]["selector"]
    assert not [o for o in one if o["kind"] == "Role" and o["metadata"]["name"] == "l2sm-controller"]

    deployment = by_kind(two, "Deployment", "l2sm-controller")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--leader-lease") + 1] == "l2sm-controller"
    assert {"POD_NAME", "POD_NAMESPACE"} <= {e["name"] for e in container["env"]}
    assert any(m["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount" for m in container["volumeMounts"])
    assert by_kind(two, "Service", "l2sm-controller")["spec"]["selector"][LEADER_LABEL] == "true"


def test_controller_and_switch_accounts_may_do_what_election_and_restart_need_and_no_more(kube_api, helm,
                                                                                         k8s_namespace):
    from kubernetes import utils

    api_client = kube_api.client()
    ns = k8s_namespace
    objects = render(helm, "l2sm", "l2sm", ns, "--set", "controller.replicas=2")
    for obj in objects:
        if obj["kind"] in ("Role", "RoleBinding"):
            obj["metadata"]["namespace"] = ns
            utils.create_from_dict(api_client, obj, namespace=ns)
    controller, switch = (f"system:serviceaccount:{ns}:l2sm-{c}" for c in ("controller", "switch"))
    lease = ("leases", "coordination.k8s.io")
    assert can(api_client, controller, "get", *lease, namespace=ns, name="l2sm-controller")
    assert can(api_client, controller, "update", *lease, namespace=ns, name="l2sm-controller")
    assert can(api_client, controller, "create", *lease, namespace=ns)
    assert can(api_client, controller, "patch", "pods", namespace=ns)
    assert not can(api_client, controller, "update", *lease, namespace=ns, name="another-lease")
    assert not can(api_client, controller, "patch", "pods", namespace="default")
    assert not can(api_client, controller, "get", "secrets", namespace=ns)
    assert not can(api_client, controller, "delete", "pods", namespace=ns)
    assert can(api_client, switch, "get", "daemonsets", "apps", namespace=ns, name="l2sm-switch")
    assert not can(api_client, switch, "get", "daemonsets", "apps", namespace=ns, name="other")
    assert not can(api_client, switch, "delete", "daemonsets", "apps", namespace=ns, name="l2sm-switch")


def test_a_switch_pod_tells_a_restart_from_an_uninstall_by_its_daemonset(kube_api, k8s_namespace, monkeypatch):
    from kubernetes import client

    from osm_l2sm.switch.cli import daemonset_remains

    apps = client.AppsV1Api(kube_api.client())
    labels = {"app": "switch"}
    apps.create_namespaced_daemon_set(k8s_namespace, {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "l2sm-switch"},
        "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels}, "spec": {"containers": [{"name": "switch", "image": "osm-l2sm"}]}}}})
    monkeypatch.setenv("KUBECONFIG", kube_api.kubeconfig)
    monkeypatch.setenv("POD_NAMESPACE", k8s_namespace)
    assert daemonset_remains("l2sm-switch"), "its DaemonSet remains: a restart"
    apps.delete_namespaced_daemon_set("l2sm-switch", k8s_namespace)
    wait_for(lambda: not daemonset_remains("l2sm-switch"), "its DaemonSet gone: an uninstall")
    monkeypatch.delenv("POD_NAMESPACE")
    assert daemonset_remains("l2sm-switch"), "when the API cannot tell, the switch is kept"
