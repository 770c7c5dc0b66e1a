"""The pod admission webhook served over HTTPS by the operator and called by the real kube-apiserver.

The webhook configuration is registered as the l2sm chart does (objectSelector ``l2sm: "true"``, CREATE, the
operator's path ``/l2sm-pods``, failurePolicy Fail), but with ``clientConfig.url`` on loopback and limited to the
test's namespace, so other tests on the same API server never meet it.
"""
from __future__ import annotations

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm.k8s.reservations import RESERVATION_SECONDS, Reservations
from tests.k8s.conftest import free_port, write_test_pki
from tests.k8s.test_operator import MULTUS, Cluster, _addresses, cluster, controller_token, operator  # noqa: F401
from tests.polling import wait_for


def test_reservations_last_until_a_stored_pod_holds_the_address_or_they_expire():
    now = [0.0]
    held = Reservations(clock=lambda: now[0])
    held.reserve("ns", "net", ["10.0.0.1/24", "10.0.0.2/24"], "a")
    held.reserve("other-ns", "net", ["10.0.0.1/24"], "b")
    assert held.holders("ns", "net", {}) == {"10.0.0.1": "a", "10.0.0.2": "a"}
    assert held.holders("ns", "other-net", {}) == {}
    # the stored pod now shows 10.0.0.1 itself: the reservation has done its job
    assert held.holders("ns", "net", {"10.0.0.1": "a"}) == {"10.0.0.2": "a"}
    assert held.holders("other-ns", "net", {}) == {"10.0.0.1": "b"}
    now[0] = RESERVATION_SECONDS + 1  # the create never happened
    assert held.holders("ns", "net", {}) == {} and held.holders("other-ns", "net", {}) == {}


def _register_webhook(api, name: str, namespace: str, port: int, ca_pem: bytes) -> None:
    body = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "pods.l2sm.l2sm.k8s.local", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "timeoutSeconds": 10, "reinvocationPolicy": "IfNeeded",
            "clientConfig": {"url": f"https://127.0.0.1:{port}/l2sm-pods",
                             "caBundle": base64.b64encode(ca_pem).decode()},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"],
                       "scope": "Namespaced"}],
            "objectSelector": {"matchLabels": {"l2sm": "true"}},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        }],
    }
    client.AdmissionregistrationV1Api(api).create_mutating_webhook_configuration(body)


@pytest.fixture
def webhook(kube_api, operator, cluster, tmp_path):  # noqa: F811
    """The operator serving the webhook on a free loopback port with a certificate for 127.0.0.1, registered with
    the API server; answers once the API server's calls reach it."""
    pki = write_test_pki(_mkdir(tmp_path / "webhook-pki"))
    port = free_port()
    operator("--webhook-listen", f"127.0.0.1:{port}", "--webhook-cert", str(pki["server.crt"]),
             "--webhook-key", str(pki["server.key"]))
    api = kube_api.client()
    name = f"l2sm-test-{cluster.ns}"
    _register_webhook(api, name, cluster.ns, port, pki["ca.crt"].read_bytes())
    try:
        # failurePolicy Fail: a labelled pod is refused until the operator answers, then admitted with its verdict
        wait_for(lambda: _try_create(cluster, f"probe-{uuid.uuid4().hex[:6]}", "probe-net").get("l2sm/error"),
                 "the API server calling the operator's webhook")
        yield
    finally:
        client.AdmissionregistrationV1Api(api).delete_mutating_webhook_configuration(name)


def _mkdir(path):
    path.mkdir()
    return path


def _try_create(cluster: Cluster, name: str, networks: str) -> dict:  # noqa: F811
    try:
        return cluster.create_pod(name, networks)
    except ApiException as err:
        if err.status == 500 and "l2sm" in (err.body or ""):  # the webhook call failed: not serving yet
            return {}
        raise


def test_the_create_response_already_carries_the_multus_annotation(webhook, cluster):  # noqa: F811
    cluster.create_network("hook-net", networkCIDR="10.30.0.0/24")
    stored = cluster.create_pod("first", "hook-net")
    assert json.loads(stored[MULTUS]) == [
        {"name": "hook-net", "namespace": cluster.ns, "interface": "net1", "ips": ["10.30.0.1/24"]}]
    assert "l2sm/error" not in stored

    # the handlers then claim what the webhook gave, without renumbering
    status = wait_for(lambda: (s := cluster.status("hook-net")).get("connectedPodCount") == 1 and s,
                      "hook-net counting the pod")
    assert status["assignedIPs"] == {"10.30.0.1": f"{cluster.ns}/first"}
    assert wait_for(lambda: cluster.nad_config("hook-net"), "NAD for hook-net")["network"] == "hook-net"
    assert _addresses(cluster.multus("first"), "hook-net") == ["10.30.0.1/24"]


def test_an_unlabelled_pod_is_stored_untouched(webhook, cluster):  # noqa: F811
    cluster.create_network("plain-net", networkCIDR="10.31.0.0/24")
    stored = cluster.create_pod("plain", "plain-net", label=False)
    assert MULTUS not in stored and "l2sm/error" not in stored
    marker = cluster.create_pod("marker", "plain-net")  # labelled and wired: the webhook and operator are live
    assert _addresses(json.loads(marker[MULTUS]), "plain-net") == ["10.31.0.1/24"]
    wait_for(lambda: cluster.status("plain-net").get("connectedPodCount") == 1, "marker counted")
    assert cluster.multus("plain") is None and "l2sm/error" not in cluster.annotations("plain")


def test_a_bad_annotation_is_admitted_with_the_error_on_the_pod(webhook, cluster):  # noqa: F811
    stored = cluster.create_pod("bad-form", "Not_A_Name!")
    assert "invalid network name" in stored["l2sm/error"] and MULTUS not in stored
    assert cluster.pod_exists("bad-form")
    assert wait_for(lambda: [r for r, _ in cluster.warnings("bad-form") if r == "InvalidAnnotation"],
                    "InvalidAnnotation Warning event from the handler")


def test_pods_admitted_at_the_same_moment_get_different_addresses(webhook, cluster):  # noqa: F811
    cluster.create_network("burst-net", networkCIDR="10.32.0.0/24")
    count = 8
    # generateName, as a ReplicaSet creates them: the webhook sees no pod name at all
    with ThreadPoolExecutor(count) as pool:
        stored = list(pool.map(lambda _i: cluster.create_pod("burst-", "burst-net", generate=True), range(count)))
    given = [ip for annotations in stored for ip in _addresses(json.loads(annotations[MULTUS]), "burst-net")]
    assert len(given) == count and len(set(given)) == count, sorted(given)
    # the handlers claim exactly what the webhook gave: no pod renumbered afterwards
    claimed = wait_for(lambda: len(c := cluster.status("burst-net").get("assignedIPs") or {}) == count and c,
                       f"{count} addresses claimed")
    assert sorted(claimed) == sorted(ip.split("/")[0] for ip in given)
