"""The L2S-M compatible operator: pure wiring logic first, then the handlers against a real API server."""
from __future__ import annotations

import json

import pytest

from osm_l2sm.errors import L2smError
from osm_l2sm.k8s import ipam
from osm_l2sm.k8s.annotations import NetworkRequest, parse_networks_annotation
from osm_l2sm.k8s.cluster import address_holders
from osm_l2sm.k8s.nad import nad_body
from osm_l2sm.k8s.wiring import (NetworkInfo, WiringError, addresses_held_by_pods, multus_entries, pod_routes,
                                 wire_pod)


# ---------------------------------------------------------------- annotation forms (pure)

def test_json_form_keeps_order_and_addresses():
    text = '[{"name": "v-network-1", "ips": ["10.0.1.2/24"]}, {"name": "v-network-2", "ips": ["10.0.2.2/24"]}]'
    assert parse_networks_annotation(text) == [NetworkRequest("v-network-1", ("10.0.1.2/24",)),
                                                NetworkRequest("v-network-2", ("10.0.2.2/24",))]


def test_comma_form_and_single_name_form():
    assert parse_networks_annotation("v-network-1, v-network-2") == [NetworkRequest("v-network-1"),
                                                                      NetworkRequest("v-network-2")]
    assert parse_networks_annotation(" v-network-1 ") == [NetworkRequest("v-network-1")]


def test_json_entry_without_ips_asks_for_an_automatic_address():
    assert parse_networks_annotation('[{"name": "a"}]') == [NetworkRequest("a")]


@pytest.mark.parametrize("text, words", [
    ('[{"name": "a", "ips": ["10.0.0.300/24"]}]', "invalid address"),
    ('[{"name": "a", "ips": ["10.0.0.3"]}]', "prefix length"),
    ('[{"nam": "a"}]', 'lacks a "name"'),
    ('[{"name": "a"', "not valid JSON"),
    ('{"name": "a"}', "JSON list"),
    ("Bad_Name", "invalid network name"),
    ("a, a", "named twice"),
    ("", "empty"),
    ("a,,b", "invalid network name"),
])
def test_bad_annotations_are_one_readable_line(text, words):
    with pytest.raises(L2smError) as err:
        parse_networks_annotation(text)
    assert words in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------- address allocation (pure)

def test_allocation_takes_the_lowest_free_host_address_of_the_cidr():
    assert ipam.allocate("10.0.0.0/24", None, []) == "10.0.0.1/24"
    assert ipam.allocate("10.0.0.0/24", None, ["10.0.0.1/24", "10.0.0.2"]) == "10.0.0.3/24"


def test_allocation_uses_the_pod_range_with_the_network_prefix():
    assert ipam.allocate("10.0.0.0/24", "10.0.0.128/25", ["10.0.0.129"]) == "10.0.0.130/24"
    assert ipam.allocate("10.0.0.0/24", "10.0.0.10-10.0.0.11", ["10.0.0.10"]) == "10.0.0.11/24"


def test_allocation_never_repeats_and_fails_when_the_range_is_full():
    used: list[str] = []
    for _ in range(6):  # a /29 has six host addresses
        used.append(ipam.allocate("192.168.5.0/29", None, used))
    assert len(set(used)) == 6
    with pytest.raises(L2smError, match="no free address"):
        ipam.allocate("192.168.5.0/29", None, used, "full-net")


def test_l2_only_network_gets_no_address():
    assert ipam.allocate(None, None, []) is None


@pytest.mark.parametrize("cidr, prange", [("10.0.0/24", None), ("10.0.0.0/24", "10.1.0.0/25"),
                                          ("10.0.0.0/24", "10.0.0.9-10.0.0.3")])
def test_bad_ranges_are_rejected(cidr, prange):
    with pytest.raises(L2smError):
        ipam.allocate(cidr, prange, [])


# ---------------------------------------------------------------- pod wiring (pure)

def _net(name, cidr="10.0.0.0/24", prange=None, **holders):
    return NetworkInfo(name, cidr, prange, {ip.replace("_", "."): pod for ip, pod in holders.items()})


def test_ping_pong_wiring_gives_the_second_pod_a_different_address():
    ping = wire_pod("ping", "ns", parse_networks_annotation('[{"name": "ping-network", "ips": ["10.0.0.1/24"]}]'),
                    {"ping-network": _net("ping-network")})
    held = {ip.split("/")[0]: "ping" for ip in ping.addresses["ping-network"]}
    pong = wire_pod("pong", "ns", parse_networks_annotation("ping-network"),
                    {"ping-network": NetworkInfo("ping-network", "10.0.0.0/24", None, held)})
    assert ping.entries == [{"name": "ping-network", "namespace": "ns", "interface": "net1", "ips": ["10.0.0.1/24"]}]
    assert pong.entries == [{"name": "ping-network", "namespace": "ns", "interface": "net1", "ips": ["10.0.0.2/24"]}]


def test_interfaces_follow_annotation_order_and_l2_only_has_no_ips():
    wiring = wire_pod("p", "ns", parse_networks_annotation("b, a"), {"a": _net("a"), "b": _net("b", None)})
    assert [(e["name"], e["interface"], e.get("ips")) for e in wiring.entries] == [
        ("b", "net1", None), ("a", "net2", ["10.0.0.1/24"])]
    assert json.loads(wiring.annotations()["k8s.v1.cni.cncf.io/networks"]) == wiring.entries


def test_unknown_network_and_taken_explicit_address_are_errors_with_reasons():
    with pytest.raises(WiringError) as err:
        wire_pod("p", "ns", parse_networks_annotation("nope"), {"a": _net("a")})
    assert err.value.reason == "UnknownNetwork" and "nope" in str(err.value)
    with pytest.raises(WiringError) as err:
        wire_pod("p", "ns", parse_networks_annotation('[{"name": "a", "ips": ["10.0.0.7/24"]}]'),
                 {"a": _net("a", **{"10_0_0_7": "other"})})
    assert err.value.reason == "AddressInUse" and "other" in str(err.value)


@pytest.mark.parametrize("address,message", [
    ("10.1.0.7/24", "address 10.1.0.7/24 is outside network a (10.0.0.0/24)"),
    ("10.0.0.7/16", "address 10.0.0.7/16 has a prefix wider than network a (10.0.0.0/24)"),
    ("10.0.0.0/24", "address 10.0.0.0/24 is the network address of network a (10.0.0.0/24)"),
    ("10.0.0.255/24", "address 10.0.0.255/24 is the broadcast address of network a (10.0.0.0/24)"),
])
def test_an_explicit_address_the_controller_would_refuse_is_an_error_in_its_words(address, message):
    with pytest.raises(WiringError) as err:
        wire_pod("p", "ns", parse_networks_annotation(f'[{{"name": "a", "ips": ["{address}"]}}]'), {"a": _net("a")})
    assert err.value.reason == "InvalidAddress" and str(err.value) == message


def test_rewiring_keeps_addresses_and_reuses_an_earlier_claim():
    first = wire_pod("p", "ns", parse_networks_annotation("a"), {"a": _net("a", **{"10_0_0_1": "x"})})
    assert first.addresses == {"a": ["10.0.0.2/24"]}
    # attach b: a keeps its address even though a lower one became free meanwhile
    again = wire_pod("p", "ns", parse_networks_annotation("a, b"), {"a": _net("a"), "b": _net("b")},
                     current=first.entries)
    assert again.addresses == {"a": ["10.0.0.2/24"], "b": ["10.0.0.1/24"]}
    # an address claimed in the network status for this pod is reused instead of a new one
    claimed = wire_pod("p", "ns", parse_networks_annotation("a"), {"a": _net("a", **{"10_0_0_9": "p"})})
    assert claimed.addresses == {"a": ["10.0.0.9/24"]}


def test_rewiring_keeps_the_cni_args_an_admission_added():
    # OSM mode puts a KDU's routes in its Multus entries; the pod handler's later wiring must not drop them
    routes = {"routes": [{"dst": "10.0.2.0/24", "gw": "10.0.0.1"}]}
    first = wire_pod("p", "ns", parse_networks_annotation("a"), {"a": _net("a")})
    current = [{**first.entries[0], "cni-args": routes}]
    again = wire_pod("p", "ns", parse_networks_annotation("a, b"), {"a": _net("a"), "b": _net("b")}, current)
    assert [e.get("cni-args") for e in again.entries] == [routes, None]


def test_a_pods_l2sm_routes_become_the_cni_args_of_entries_that_have_none():
    # OSM mode's planned routes ride on the pod (l2sm/routes): a wiring made after admission carries them too
    routes = [{"dst": "10.0.2.0/24", "gw": "10.0.0.1"}]
    pod = {"metadata": {"annotations": {"l2sm/routes": json.dumps({"a": routes})}}}
    wiring = wire_pod("p", "ns", parse_networks_annotation("a, b"), {"a": _net("a"), "b": _net("b")},
                      routes=pod_routes(pod))
    assert [e.get("cni-args") for e in wiring.entries] == [{"routes": routes}, None]
    with pytest.raises(WiringError) as err:
        pod_routes({"metadata": {"annotations": {"l2sm/routes": '["not", "an object"]'}}})
    assert err.value.reason == "InvalidAnnotation" and "l2sm/routes" in str(err.value)


def test_held_addresses_come_from_multus_entries_and_explicit_requests():
    pods = [
        {"metadata": {"name": "p1", "annotations": {
            "k8s.v1.cni.cncf.io/networks": '[{"name": "a", "ips": ["10.0.0.5/24"]}]', "l2sm/networks": "a"}}},
        {"metadata": {"name": "p2", "annotations": {"l2sm/networks": '[{"name": "a", "ips": ["10.0.0.6/24"]}]'}}},
        {"metadata": {"name": "p3", "annotations": {"l2sm/networks": "garbage["}}},
    ]
    assert addresses_held_by_pods(pods, "a") == {"10.0.0.5": "p1", "10.0.0.6": "p2"}
    assert addresses_held_by_pods(pods, "b") == {}
    assert multus_entries("not json") == [] and multus_entries('{"name": "a"}') == []


def test_the_pod_that_has_a_planned_address_keeps_it_while_another_asks_for_it():
    """A rolling update: the new pod asks for the address the old pod has. Wired again (an operator restart resumes
    every pod), the old pod keeps it; the new one is refused it as long as the old one has it."""
    planned = '[{"name": "a", "ips": ["10.0.0.5/24"]}]'
    old = {"metadata": {"name": "old", "annotations": {
        "l2sm/networks": planned, "k8s.v1.cni.cncf.io/networks": '[{"name": "a", "ips": ["10.0.0.5/24"]}]'}}}
    new = {"metadata": {"name": "new", "annotations": {"l2sm/networks": planned}}}
    network = {"metadata": {"name": "a"}, "status": {"assignedIPs": {"10.0.0.5": "ns/old"}}}
    for pods in ([new, old], [old, new]):  # whatever the order the pods are listed in
        assert addresses_held_by_pods(pods, "a") == {"10.0.0.5": "old"}
        again = wire_pod("old", "ns", parse_networks_annotation(planned),
                         {"a": _net("a", **{"10_0_0_5": address_holders(network, pods, "old")["10.0.0.5"]})})
        assert again.addresses == {"a": ["10.0.0.5/24"]}
        assert address_holders(network, pods, "new") == {"10.0.0.5": "old"}


def test_login_finds_the_in_cluster_token_whatever_the_scheme_case(tmp_path):
    """In a pod the kubernetes client's in-cluster loader stores "bearer <token>" (lower case); kopf must get that
    token, or the operator runs as system:anonymous and never serves its webhook."""
    from kubernetes import client as k8s_client
    from kubernetes.config.incluster_config import InClusterConfigLoader

    from osm_l2sm.k8s.operator import bearer_token
    (tmp_path / "token").write_text("sa-token-123")
    (tmp_path / "ca.crt").write_text("not read here")
    cfg = k8s_client.Configuration()
    InClusterConfigLoader(str(tmp_path / "token"), str(tmp_path / "ca.crt"),
                          environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
                          ).load_and_set(cfg)
    assert bearer_token(cfg.api_key) == "sa-token-123"
    assert bearer_token({"authorization": "Bearer from-kubeconfig"}) == "from-kubeconfig"
    assert bearer_token({}) is None and bearer_token({"authorization": "Basic abc"}) is None


def test_nad_points_multus_at_the_l2sm_cni_plugin():
    body = nad_body("ping-network", "ns1")
    assert body["metadata"] == {"name": "ping-network", "namespace": "ns1",
                                "labels": {"app.kubernetes.io/managed-by": "l2sm"}}
    # capabilities.ips: without it Multus never hands the plugin the pod's addresses (libcni filters runtimeConfig)
    assert json.loads(body["spec"]["config"]) == {"cniVersion": "1.0.0", "type": "l2sm-cni",
                                                  "network": "ping-network", "capabilities": {"ips": True}}


# ---------------------------------------------------------------- the operator on a real API server

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

from kubernetes import client  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from tests.controllers import controller_process  # noqa: E402
from osm_l2sm.k8s.resources import GROUP, L2NETWORK_PLURAL, VERSION  # noqa: E402
from tests.polling import wait_for  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MULTUS = "k8s.v1.cni.cncf.io/networks"


@pytest.fixture
def controller_token() -> str:
    """The ``controller`` fixture's (tests/controllers.py) bearer token: a new one per test."""
    return uuid.uuid4().hex


class OperatorRun:
    """``osm-l2sm operator run`` as a child process watching one namespace, stopped by its own pid."""

    def __init__(self, kube_api, controller, namespace: str, log: Path, extra_args: tuple[str, ...] = ()):
        self.args = [sys.executable, "-m", "osm_l2sm", "operator", "run", "--controller", controller.url,
                     "--kubeconfig", kube_api.kubeconfig, "--namespace", namespace, *extra_args]
        self.env = dict(os.environ, L2SM_CONTROLLER_TOKEN=controller.token)
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "OperatorRun":
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def stop(self) -> int | None:
        """SIGTERM and wait: kopf finishes its handlers and exits."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


@pytest.fixture
def operator(kube_api, l2sm_crds, controller, k8s_namespace, tmp_path):
    """Starts operators for the test's namespace (more than one for restart tests); all stopped at the end."""
    runs: list[OperatorRun] = []

    def start(*extra_args: str) -> OperatorRun:
        run = OperatorRun(kube_api, controller, k8s_namespace, tmp_path / f"operator-{len(runs)}.log",
                          extra_args).start()
        runs.append(run)
        return run

    try:
        yield start
    finally:
        for run in runs:
            run.stop()


class Cluster:
    """Just enough of a kubectl for the tests: L2Networks, pods, events of one namespace."""

    def __init__(self, api, namespace: str):
        self.ns = namespace
        self.core = client.CoreV1Api(api)
        self.objects = client.CustomObjectsApi(api)

    def create_network(self, name: str, **spec) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "L2Network", "metadata": {"name": name},
                "spec": {"type": "vnet", **spec}}
        self.objects.create_namespaced_custom_object(GROUP, VERSION, self.ns, L2NETWORK_PLURAL, body)

    def network(self, name: str) -> dict | None:
        try:
            return self.objects.get_namespaced_custom_object(GROUP, VERSION, self.ns, L2NETWORK_PLURAL, name)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def status(self, name: str) -> dict:
        return (self.network(name) or {}).get("status") or {}

    def delete_network(self, name: str) -> None:
        self.objects.delete_namespaced_custom_object(GROUP, VERSION, self.ns, L2NETWORK_PLURAL, name)

    def create_pod(self, name: str, networks: str | None, label: bool = True, generate: bool = False,
                   routes: str | None = None) -> dict:
        """An alpine pod like upstream's ping-pong (it never runs: no kubelet here); ``generate``: ``name`` is its
        generateName, as a ReplicaSet's pods have; ``routes``: its ``l2sm/routes``. Answers the annotations of the
        pod the API server stored."""
        annotations = {"l2sm/networks": networks} if networks else {}
        if routes:
            annotations["l2sm/routes"] = routes
        metadata = client.V1ObjectMeta(labels={"l2sm": "true"} if label else {}, annotations=annotations,
                                       **{"generate_name" if generate else "name": name})
        container = client.V1Container(name="main", image="alpine:latest", command=["sleep", "infinity"],
                                       security_context=client.V1SecurityContext(
                                           capabilities=client.V1Capabilities(add=["NET_ADMIN"])))
        created = self.core.create_namespaced_pod(self.ns, client.V1Pod(
            metadata=metadata, spec=client.V1PodSpec(containers=[container])))
        return created.metadata.annotations or {}

    def annotations(self, pod: str) -> dict:
        try:
            return self.core.read_namespaced_pod(pod, self.ns).metadata.annotations or {}
        except ApiException as err:
            if err.status == 404:
                return {}
            raise

    def multus(self, pod: str) -> list[dict] | None:
        text = self.annotations(pod).get(MULTUS)
        return json.loads(text) if text else None

    def set_networks(self, pod: str, networks: str) -> None:
        self.core.patch_namespaced_pod(pod, self.ns, {"metadata": {"annotations": {"l2sm/networks": networks}}})

    def delete_pod(self, pod: str) -> None:
        self.core.delete_namespaced_pod(pod, self.ns)

    def pod_exists(self, pod: str) -> bool:
        try:
            self.core.read_namespaced_pod(pod, self.ns)
            return True
        except ApiException as err:
            if err.status == 404:
                return False
            raise

    def warnings(self, pod: str) -> list[tuple[str, str]]:
        events = self.core.list_namespaced_event(self.ns, field_selector=f"involvedObject.name={pod}").items
        return [(e.reason, e.message) for e in events if e.type == "Warning"]

    def nad_config(self, name: str) -> dict | None:
        try:
            nad = self.objects.get_namespaced_custom_object("k8s.cni.cncf.io", "v1", self.ns,
                                                            "network-attachment-definitions", name)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return json.loads(nad["spec"]["config"])


@pytest.fixture
def cluster(kube_api, k8s_namespace, l2sm_crds) -> Cluster:
    return Cluster(kube_api.client(), k8s_namespace)


def _ready(cluster: Cluster, name: str) -> bool:
    conditions = cluster.status(name).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _addresses(entries: list[dict] | None, network: str) -> list[str]:
    return [ip for e in entries or [] if e["name"] == network for ip in e.get("ips", [])]


def test_l2network_becomes_a_controller_network_and_goes_away_with_it(operator, cluster, controller):
    operator()
    ctl = controller.client()
    cluster.create_network("net-a", networkCIDR="10.20.0.0/24")
    wait_for(lambda: _ready(cluster, "net-a"), "L2Network net-a Ready")
    assert ctl.get_network("net-a")["cidr"] == "10.20.0.0/24"
    status = cluster.status("net-a")
    assert status["internalConnectivity"] == "Available" and status["connectedPodCount"] == 0
    assert "l2sm.operator.io/finalizer" in cluster.network("net-a")["metadata"]["finalizers"]

    cluster.delete_network("net-a")
    wait_for(lambda: cluster.network("net-a") is None, "L2Network net-a deleted past its finalizer")
    assert "net-a" not in [n["name"] for n in ctl.list_networks()]


def test_ping_pong_pods_get_multus_annotations_and_addresses(operator, cluster):
    operator()
    cluster.create_network("ping-network", networkCIDR="10.0.0.0/24")
    wait_for(lambda: _ready(cluster, "ping-network"), "ping-network Ready")
    cluster.create_pod("ping", '[{"name": "ping-network", "ips": ["10.0.0.1/24"]}]')
    cluster.create_pod("pong", "ping-network")

    ping = wait_for(lambda: cluster.multus("ping"), "Multus annotation on ping")
    pong = wait_for(lambda: cluster.multus("pong"), "Multus annotation on pong")
    assert ping == [{"name": "ping-network", "namespace": cluster.ns, "interface": "net1", "ips": ["10.0.0.1/24"]}]
    [pong_ip] = _addresses(pong, "ping-network")
    assert pong_ip.endswith("/24") and pong_ip.startswith("10.0.0.") and pong_ip != "10.0.0.1/24"
    assert pong[0]["interface"] == "net1"

    status = wait_for(lambda: (s := cluster.status("ping-network")).get("connectedPodCount") == 2 and s,
                      "connectedPodCount 2")
    assert status["assignedIPs"] == {"10.0.0.1": f"{cluster.ns}/ping", pong_ip.split("/")[0]: f"{cluster.ns}/pong"}
    assert cluster.nad_config("ping-network") == {"cniVersion": "1.0.0", "type": "l2sm-cni",
                                                  "network": "ping-network", "capabilities": {"ips": True}}
    assert "l2sm/error" not in cluster.annotations("pong")


def test_all_three_annotation_forms(operator, cluster):
    operator()
    cluster.create_network("v-network-1", networkCIDR="10.0.1.0/24")
    cluster.create_network("v-network-2", networkCIDR="10.0.2.0/24", podAddressRange="10.0.2.100-10.0.2.110")
    cluster.create_pod("json-form", '[{"name": "v-network-1", "ips": ["10.0.1.2/24"]}, {"name": "v-network-2"}]')
    cluster.create_pod("list-form", "v-network-2, v-network-1")
    cluster.create_pod("name-form", "v-network-1")

    forms = {pod: wait_for(lambda p=pod: cluster.multus(p), f"Multus annotation on {pod}")
             for pod in ("json-form", "list-form", "name-form")}
    assert [(e["name"], e["interface"]) for e in forms["json-form"]] == [("v-network-1", "net1"),
                                                                          ("v-network-2", "net2")]
    assert [(e["name"], e["interface"]) for e in forms["list-form"]] == [("v-network-2", "net1"),
                                                                          ("v-network-1", "net2")]
    assert [(e["name"], e["interface"]) for e in forms["name-form"]] == [("v-network-1", "net1")]
    assert _addresses(forms["json-form"], "v-network-1") == ["10.0.1.2/24"]
    net1 = [ip for entries in forms.values() for ip in _addresses(entries, "v-network-1")]
    net2 = [ip for entries in forms.values() for ip in _addresses(entries, "v-network-2")]
    assert len(net1) == 3 and len(set(net1)) == 3
    assert len(net2) == 2 and len(set(net2)) == 2
    assert all(100 <= int(ip.split("/")[0].rsplit(".", 1)[1]) <= 110 and ip.endswith("/24") for ip in net2)
    wait_for(lambda: cluster.status("v-network-1").get("connectedPodCount") == 3, "three pods on v-network-1")


def test_bad_annotation_and_unknown_network_are_reported_on_the_pod(operator, cluster):
    operator()
    cluster.create_network("good-net", networkCIDR="10.9.0.0/24")
    cluster.create_pod("bad-form", "Not_A_Name!")
    cluster.create_pod("ghost", "ghost-net")

    error = wait_for(lambda: cluster.annotations("bad-form").get("l2sm/error"), "l2sm/error on bad-form")
    assert "invalid network name" in error
    assert wait_for(lambda: [r for r, _ in cluster.warnings("bad-form") if r == "InvalidAnnotation"],
                    "InvalidAnnotation Warning event")
    error = wait_for(lambda: cluster.annotations("ghost").get("l2sm/error"), "l2sm/error on ghost")
    assert "ghost-net" in error and "does not exist" in error
    assert wait_for(lambda: [m for r, m in cluster.warnings("ghost") if r == "UnknownNetwork" and "ghost-net" in m],
                    "UnknownNetwork Warning event")
    assert cluster.multus("bad-form") is None and cluster.multus("ghost") is None

    # fixing the annotation of the running pod attaches it and clears the error
    cluster.set_networks("bad-form", "good-net")
    assert _addresses(wait_for(lambda: cluster.multus("bad-form"), "bad-form attached"), "good-net") == ["10.9.0.1/24"]
    wait_for(lambda: "l2sm/error" not in cluster.annotations("bad-form"), "l2sm/error cleared")


def test_annotation_changes_attach_and_detach_and_deletion_releases(operator, cluster):
    operator()
    cluster.create_network("net-a", networkCIDR="10.1.0.0/24")
    cluster.create_network("net-b", networkCIDR="10.2.0.0/24")
    cluster.create_pod("p1", "net-a")
    [a_ip] = _addresses(wait_for(lambda: cluster.multus("p1"), "p1 on net-a"), "net-a")

    cluster.set_networks("p1", "net-a, net-b")
    both = wait_for(lambda: (m := cluster.multus("p1")) and len(m) == 2 and m, "p1 attached to net-b")
    assert _addresses(both, "net-a") == [a_ip] and _addresses(both, "net-b") == ["10.2.0.1/24"]

    cluster.set_networks("p1", "net-b")
    only_b = wait_for(lambda: (m := cluster.multus("p1")) and len(m) == 1 and m, "p1 detached from net-a")
    assert only_b == [{"name": "net-b", "namespace": cluster.ns, "interface": "net1", "ips": ["10.2.0.1/24"]}]
    wait_for(lambda: cluster.status("net-a").get("connectedPodCount") == 0 and not cluster.status("net-a").get(
        "assignedIPs"), "net-a empty after detach")

    cluster.delete_pod("p1")
    wait_for(lambda: not cluster.pod_exists("p1"), "p1 gone past its finalizer")
    status = wait_for(lambda: (s := cluster.status("net-b")).get("connectedPodCount") == 0 and s, "net-b recounted")
    assert not status.get("assignedIPs")
    cluster.create_pod("p2", "net-b")  # the released address is free again
    assert _addresses(wait_for(lambda: cluster.multus("p2"), "p2 on net-b"), "net-b") == ["10.2.0.1/24"]


ROUTES = [{"dst": "10.3.9.0/24", "gw": "10.3.0.1"}]


def test_a_pod_planned_an_address_another_pod_has_waits_and_is_wired_once_that_pod_is_gone(operator, cluster):
    """A Deployment's rolling update: the new pod starts beside the old one, both planned the same address. The new
    one gets no interface while the old one is there (never two pods on one address), and is wired as soon as the
    old one is gone."""
    operator()
    cluster.create_network("net-p", networkCIDR="10.3.0.0/24")
    planned = '[{"name": "net-p", "ips": ["10.3.0.5/24"]}]'
    cluster.create_pod("old", planned)
    assert _addresses(wait_for(lambda: cluster.multus("old"), "old wired"), "net-p") == ["10.3.0.5/24"]
    cluster.create_pod("new", planned, routes=json.dumps({"net-p": ROUTES}))
    error = wait_for(lambda: cluster.annotations("new").get("l2sm/error"), "new told it waits")
    assert "10.3.0.5" in error and "old" in error
    assert cluster.multus("new") is None and _addresses(cluster.multus("old"), "net-p") == ["10.3.0.5/24"]

    cluster.delete_pod("old")
    entries = wait_for(lambda: cluster.multus("new"), "new wired once old is gone")
    assert _addresses(entries, "net-p") == ["10.3.0.5/24"]
    # its planned routes (OSM mode's l2sm/routes) are in the entry it got late, for node-attach to hand on
    assert [e.get("cni-args") for e in entries] == [{"routes": ROUTES}]
    wait_for(lambda: "l2sm/error" not in cluster.annotations("new"), "the error cleared on new")
    wait_for(lambda: cluster.status("net-p").get("assignedIPs") == {"10.3.0.5": f"{cluster.ns}/new"},
             "the address claimed for new")


def test_operator_restart_loses_no_address(operator, cluster):
    first = operator()
    cluster.create_network("net-r", networkCIDR="10.5.0.0/24")
    cluster.create_pod("r1", "net-r")
    r1 = _addresses(wait_for(lambda: cluster.multus("r1"), "r1 wired"), "net-r")
    cluster.create_pod("r2", "net-r")
    r2 = _addresses(wait_for(lambda: cluster.multus("r2"), "r2 wired"), "net-r")
    assert first.stop() == 0

    cluster.create_pod("r3", "net-r")  # while no operator runs
    second = operator()
    r3 = _addresses(wait_for(lambda: cluster.multus("r3"), "r3 wired by the new operator"), "net-r")
    assert len(set(r1 + r2 + r3)) == 3
    assert second.stop() == 0

    cluster.delete_pod("r1")  # held by the finalizer until an operator releases it
    assert cluster.pod_exists("r1")
    operator()
    wait_for(lambda: not cluster.pod_exists("r1"), "r1 released by the next operator")
    status = wait_for(lambda: (s := cluster.status("net-r")).get("connectedPodCount") == 2 and s, "two pods left")
    assert status["assignedIPs"] == {r2[0].split("/")[0]: f"{cluster.ns}/r2", r3[0].split("/")[0]: f"{cluster.ns}/r3"}
    assert _addresses(cluster.multus("r2"), "net-r") == r2


def _replace_with_an_empty_controller(controller) -> None:
    """The controller pod deleted: a new one on the same address, its state (an emptyDir) lost."""
    controller.stop()
    os.remove(controller.state_file)
    controller.start(timeout=60)


def test_a_controller_replaced_empty_gets_every_l2network_again_with_its_id(operator, cluster, controller, capsys):
    first = operator()
    for name, cidr in (("net-0", "10.21.0.0/24"), ("net-x", "10.22.0.0/24"), ("net-y", "10.23.0.0/24")):
        cluster.create_network(name, networkCIDR=cidr)
        wait_for(lambda: _ready(cluster, name), f"L2Network {name} Ready")
    cluster.delete_network("net-0")  # net-x and net-y keep ids 2 and 3: made again without them, they would move
    wait_for(lambda: cluster.network("net-0") is None, "net-0 deleted")
    ctl = controller.client()
    held = {n["name"]: (n["id"], n["cidr"]) for n in ctl.list_networks()}
    assert {k: v[0] for k, v in held.items()} == {"net-x": 2, "net-y": 3}

    _replace_with_an_empty_controller(controller)  # while the operator runs: no L2Network event says so
    started = time.monotonic()
    wait_for(lambda: {n["name"]: (n["id"], n["cidr"]) for n in ctl.list_networks()} == held,
             "the networks made again with their ids", timeout=30, interval=0.1)
    with capsys.disabled():  # the figure shows in every run's output
        print(f"\noperator: networks made again {time.monotonic() - started:.1f} s after the controller answered")

    assert first.stop() == 0  # replaced again while no operator runs: the next one makes them at its start
    _replace_with_an_empty_controller(controller)
    assert ctl.list_networks() == []
    operator()
    wait_for(lambda: {n["name"]: (n["id"], n["cidr"]) for n in ctl.list_networks()} == held,
             "the networks made again by a new operator", timeout=60)


def test_unlabelled_pods_are_left_alone(operator, cluster):
    operator()
    cluster.create_network("net-u", networkCIDR="10.6.0.0/24")
    cluster.create_pod("plain", "net-u", label=False)
    cluster.create_pod("marker", "net-u")  # labelled: once it is wired, the operator has seen both
    wait_for(lambda: cluster.multus("marker"), "marker wired")
    assert cluster.multus("plain") is None and "l2sm/error" not in cluster.annotations("plain")


def test_admission_webhook_patch_matches_the_handlers_wiring(kube_api, cluster):
    """The webhook's patch (the production path, before the pod exists) from the same wiring logic."""
    import kopf

    from osm_l2sm.k8s import cluster as k8s_cluster
    from osm_l2sm.k8s.operator import Operator
    from osm_l2sm.k8s.operator_config import OperatorConfig

    cluster.create_network("hook-net", networkCIDR="10.8.0.0/24")
    cluster.create_pod("holder", '[{"name": "hook-net", "ips": ["10.8.0.1/24"]}]')
    api = kube_api.client()
    # the labelled pods as kopf's index hands them to the operator
    l2sm_operator = Operator(OperatorConfig(), api)
    l2sm_pods = {cluster.ns: k8s_cluster.list_l2sm_pods(api, cluster.ns)}
    body = {"metadata": {"name": "newcomer", "labels": {"l2sm": "true"},
                         "annotations": {"l2sm/networks": "hook-net"}}}
    patch, warnings = kopf.Patch(), []
    l2sm_operator.pod_admission(body=body, patch=patch, namespace=cluster.ns, warnings=warnings, l2sm_pods=l2sm_pods)
    assert warnings == []
    assert json.loads(patch["metadata"]["annotations"][MULTUS]) == [
        {"name": "hook-net", "namespace": cluster.ns, "interface": "net1", "ips": ["10.8.0.2/24"]}]

    bad = {"metadata": {"name": "lost", "labels": {"l2sm": "true"}, "annotations": {"l2sm/networks": "nowhere"}}}
    patch = kopf.Patch()
    l2sm_operator.pod_admission(body=bad, patch=patch, namespace=cluster.ns, warnings=warnings, l2sm_pods=l2sm_pods)
    # admitted without networks, the error on the pod itself (the handlers add the event)
    error = f"network nowhere does not exist in namespace {cluster.ns}"
    assert patch == {"metadata": {"annotations": {"l2sm/error": error}}}
    assert "nowhere" in warnings[0]


def test_a_changed_network_keeps_its_pods_and_an_unused_one_is_replaced(tmp_path):
    """The controller cannot change a network in place (409 for other fields): the operator never replaces one that
    pod interfaces use, which would silently detach them, and says what waits; an unused one is replaced."""
    from osm_l2sm.k8s.network_handlers import NetworkDiffers
    from osm_l2sm.k8s.operator import Operator
    from osm_l2sm.k8s.operator_config import OperatorConfig
    from tests.controllers import running_controller

    with running_controller(tmp_path, "t0ken") as proc:
        ctl = proc.client()
        op = Operator(OperatorConfig(controller_url=proc.url, token="t0ken"))
        op.ensure_controller_network("busy", "10.9.0.0/24")
        ctl.attach_port("busy", "node1", "l2aaaa")
        with pytest.raises(NetworkDiffers) as err:
            op.ensure_controller_network("busy", "10.9.1.0/24")
        assert str(err.value) == ("network busy keeps cidr '10.9.0.0/24' (wanted '10.9.1.0/24') on the controller "
                                  "while 1 pod interface(s) use it; it changes once they are gone")
        assert [(p["network"], p["interface"]) for p in ctl.list_ports()] == [("busy", "l2aaaa")]
        assert ctl.get_network("busy")["cidr"] == "10.9.0.0/24"

        op.ensure_controller_network("idle", "10.9.2.0/24")
        assert op.ensure_controller_network("idle", "10.9.3.0/24")["cidr"] == "10.9.3.0/24"
        assert ctl.get_network("idle")["cidr"] == "10.9.3.0/24"


# ---------------------------------------------------------------- ext-vnet networks through the provider

from osm_l2sm.k8s.provider import ProviderClient, member_interface, parse_provider_urls, provider_url  # noqa: E402

PROVIDER_SPEC = {"name": "prov", "domain": "prov.example.org"}


def test_provider_url_comes_from_the_option_else_from_upstream_fields():
    configured = parse_provider_urls(["prov=http://127.0.0.1:8190/"])
    assert provider_url(PROVIDER_SPEC, configured) == "http://127.0.0.1:8190"
    assert provider_url({"name": "idco", "domain": "idco.example.org", "sdnPort": 30808},
                        configured) == "http://idco.example.org:30808"
    with pytest.raises(L2smError, match="--provider-url idco=URL"):
        provider_url({"name": "idco", "domain": "idco.example.org"}, configured)
    with pytest.raises(L2smError, match="NAME=http"):
        parse_provider_urls(["prov"])
    assert len(member_interface("a-rather-long-network-name-" * 2)) <= 15


@pytest.fixture
def provider(tmp_path):
    """A provider controller (not started: the test decides when it is up), stopped at the end."""
    proc = controller_process(tmp_path, "provider", role="provider")
    try:
        yield proc
    finally:
        proc.stop()


def _provider_ready(cluster: Cluster, name: str):
    status = cluster.status(name)
    return status.get("providerConnectivity") == "Available" and _ready(cluster, name) and status


def test_ext_vnet_takes_its_tag_from_the_provider_and_the_last_cluster_releases_it(operator, cluster, controller,
                                                                                     provider):
    provider.start(timeout=60)
    prov = provider.client()
    prov.create_network("older", cidr="10.99.0.0/24")  # tag 1 is taken: the network's tag must come from here
    operator("--provider-url", f"prov={provider.url}")  # the cluster's name at the provider: from kube-system
    cluster.create_network("span", type="ext-vnet", provider=PROVIDER_SPEC, networkCIDR="10.40.0.0/24")

    status = wait_for(lambda: _provider_ready(cluster, "span"), "span Ready with its provider")
    tag = prov.get_network("span")["id"]
    assert tag == 2 and status["l2sm"]["interdomainTag"] == tag
    on_cluster = controller.client().get_network("span")
    assert on_cluster["interdomain"] == {"tag": tag} and on_cluster["cidr"] == "10.40.0.0/24"
    c1 = f"k8s-{cluster.core.read_namespace('kube-system').metadata.uid}"
    assert [p["switch"] for p in prov.get_network("span")["ports"]] == [c1]

    # another cluster joins the same network: same tag, and it keeps the tag when c1 lets go
    assert ProviderClient(provider.url, "c2").acquire("span", "10.40.0.0/24") == tag
    cluster.delete_network("span")
    wait_for(lambda: cluster.network("span") is None, "span deleted past its finalizer")
    assert "span" not in [n["name"] for n in controller.client().list_networks()]
    assert [p["switch"] for p in prov.get_network("span")["ports"]] == ["c2"]
    assert ProviderClient(provider.url, "c2").release("span") is True
    assert "span" not in [n["name"] for n in prov.list_networks()]


def test_an_unreachable_provider_is_reported_and_retried(operator, cluster, controller, provider):
    run = operator("--provider-url", f"prov={provider.url}", "--cluster-name", "c1")
    cluster.create_network("late", type="ext-vnet", provider=PROVIDER_SPEC, networkCIDR="10.41.0.0/24")
    status = wait_for(lambda: (s := cluster.status("late")).get("providerConnectivity") == "Unavailable" and s,
                      "providerConnectivity Unavailable")
    [ready] = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert ready["status"] == "False" and ready["reason"] == "ProviderUnavailable"
    assert provider.url.split("//")[1] in ready["message"]
    assert "late" not in [n["name"] for n in controller.client().list_networks()]
    assert run.proc.poll() is None  # reported, not crashed

    provider.start(timeout=60)
    wait_for(lambda: _provider_ready(cluster, "late"), "late Ready once the provider is up")
    tag = provider.client().get_network("late")["id"]
    assert controller.client().get_network("late")["interdomain"] == {"tag": tag}


def test_a_provider_without_url_is_reported(operator, cluster, controller):
    run = operator("--cluster-name", "c1")
    cluster.create_network("nowhere", type="ext-vnet", provider={"name": "idco", "domain": "idco.example.org"})
    status = wait_for(lambda: (s := cluster.status("nowhere")).get("providerConnectivity") == "Unavailable" and s,
                      "providerConnectivity Unavailable")
    [ready] = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert ready["reason"] == "ProviderUnknown" and "--provider-url idco=URL" in ready["message"]
    assert "nowhere" not in [n["name"] for n in controller.client().list_networks()]
    assert run.proc.poll() is None


def test_the_operators_handlers_sit_in_their_own_registry():
    """Building the operator registers nothing in kopf's process-wide registry (another kopf operator in the same
    process keeps only its own handlers), and OSM mode's webhook and collector come only with a webhook server and
    an OSM configuration."""
    import kopf

    from osm_l2sm.k8s.operator import Operator, operator_registry
    from osm_l2sm.k8s.operator_config import OperatorConfig, OsmConfig

    def ids(registry):
        return {str(h.id) for part in (registry._activities, registry._changing, registry._webhooks,
                                       registry._indexing, registry._spawning) for h in part.get_all_handlers()}

    default_before = ids(kopf.get_default_registry())
    plain = ids(operator_registry(Operator(OperatorConfig())))
    assert {"l2sm_pods", "l2sm_networks", "configure", "login", "network_ensure", "pod_wire"} <= plain
    assert not {"l2sm-pods", "l2sm-osm-pods"} & plain
    osm = OperatorConfig(osm=OsmConfig("http://127.0.0.1:9/osm"))
    with_osm = ids(operator_registry(Operator(osm), webhook=kopf.WebhookServer(port=18443)))
    assert {"l2sm-pods", "l2sm-osm-pods"} <= with_osm and any("osm_network_collect" in i for i in with_osm)
    assert ids(kopf.get_default_registry()) == default_before
