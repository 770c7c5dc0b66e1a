"""The operator in OSM mode, with NS records real NBI created and a real kube-apiserver calling its webhook.

The pods carry exactly the labels LCM's podLabels post-renderer writes and no L2S-M label or annotation (stock KNF
charts). A double for nothing: NBI, API server, operator process and controller are real; no kubelet runs (the
pods are stored, never started). The first tests write LCM's labels on the pods themselves; the last one has LCM's
own Helm connector install the KDU charts (with its podLabels post-renderer) and makes each Deployment's pod from
its template, as kube-controller-manager would (none runs in this tier).
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm.cli import main
from osm_l2sm.k8s.resources import GROUP, L2NETWORK_PLURAL, VERSION
from osm_l2sm.osm.records import KDU_NAME_LABEL, NS_ID_LABEL, VNF_ID_LABEL
from osm_real_kit import lcm_install_kdus, lcm_uninstall_kdus, onboard_cdn, start_nbi, stop_nbi
from tests.k8s.conftest import free_port, write_test_pki
from tests.k8s.conftest import k8s_bins, k8s_namespace, kube_api, l2sm_crds  # noqa: F401  (fixtures)
from tests.k8s.test_operator import MULTUS, OperatorRun
from tests.polling import wait_for

pytestmark = [pytest.mark.osm_real, pytest.mark.k8s]

KDUS = {"cache": "cdn-cache", "router": "router-firewall", "content": "content-server"}
LATENCIES: list[float] = []  # seconds per admitted pod create (API server + webhook + NBI reads)


def _register(api, name: str, namespace: str, port: int, ca_pem: bytes) -> None:
    """Registered as the l2sm chart does in OSM mode: pods with LCM's ns-id label, path /l2sm-osm-pods."""
    client.AdmissionregistrationV1Api(api).create_mutating_webhook_configuration({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "osm-pods.l2sm.l2sm.k8s.local", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "timeoutSeconds": 10,
            "clientConfig": {"url": f"https://127.0.0.1:{port}/l2sm-osm-pods",
                             "caBundle": base64.b64encode(ca_pem).decode()},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"],
                       "scope": "Namespaced"}],
            "objectSelector": {"matchExpressions": [{"key": NS_ID_LABEL, "operator": "Exists"}]},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        }]})


class Kube:
    def __init__(self, api, namespace: str):
        self.ns, self.api = namespace, api
        self.core, self.objects = client.CoreV1Api(api), client.CustomObjectsApi(api)

    def create_kdu_pod(self, ns_id: str, vnf_id: str, kdu: str) -> client.V1Pod:
        return self.create_pod(kdu, {"managed-by": "osm.etsi.org", NS_ID_LABEL: ns_id, VNF_ID_LABEL: vnf_id,
                                     KDU_NAME_LABEL: kdu, "osm.etsi.org/kdu-id": f"{kdu}-0123456789"})

    def create_pod(self, kdu: str, labels: dict) -> client.V1Pod:
        pod = client.V1Pod(metadata=client.V1ObjectMeta(generate_name=f"{kdu}-", labels=labels),
                           spec=client.V1PodSpec(containers=[client.V1Container(name="main", image="alpine")]))
        start = time.perf_counter()
        created = self.core.create_namespaced_pod(self.ns, pod)
        LATENCIES.append(time.perf_counter() - start)
        return created

    def networks(self) -> dict[str, dict]:
        items = self.objects.list_namespaced_custom_object(GROUP, VERSION, self.ns, L2NETWORK_PLURAL)["items"]
        return {n["metadata"]["name"]: n for n in items}

    def warnings(self) -> list[tuple[str, str]]:
        return [(e.reason, e.message) for e in self.core.list_namespaced_event(self.ns).items if e.type == "Warning"]


class OsmOperator:
    """``osm-l2sm operator run`` in OSM mode against ``url`` (NBI), its webhook registered for the namespace; the
    status ConfigMap in that namespace too. ``start`` again after ``stop`` is a restart (nothing kept in memory)."""

    def __init__(self, kube_api, controller, namespace: str, tmp_path: Path, url: str, **env: str):
        self.kube_api, self.controller, self.namespace, self.tmp_path = kube_api, controller, namespace, tmp_path
        self.env = {"OSM_L2SM_OSM_NBI": url, "OSM_L2SM_OSM_GC_SECONDS": "1",
                    "OSM_L2SM_OSM_STATUS_NAMESPACE": namespace, **env}
        self.api = kube_api.client()
        self.kube = Kube(self.api, namespace)
        self.name = f"l2sm-osm-{namespace}"
        self.run: OperatorRun | None = None
        self.starts = 0

    def start(self) -> Kube:
        pki_dir = self.tmp_path / f"pki-{self.starts}"
        pki_dir.mkdir()
        pki = write_test_pki(pki_dir)
        port = free_port()
        self.run = OperatorRun(self.kube_api, self.controller, self.namespace,
                               self.tmp_path / f"operator-{self.starts}.log",
                               ("--webhook-listen", f"127.0.0.1:{port}", "--webhook-cert", str(pki["server.crt"]),
                                "--webhook-key", str(pki["server.key"])))
        self.run.env.update(self.env)
        self.run.start()
        self.starts += 1
        hooks = client.AdmissionregistrationV1Api(self.api)
        try:
            hooks.delete_mutating_webhook_configuration(self.name)
        except ApiException as err:
            if err.status != 404:
                raise
        _register(self.api, self.name, self.namespace, port, pki["ca.crt"].read_bytes())

        def webhook_answers():  # failurePolicy Fail here: a pod is stored, or refused by osm-l2sm, once it answers
            try:
                probe = self.kube.create_pod("probe", {NS_ID_LABEL: "probe", VNF_ID_LABEL: "probe",
                                                       KDU_NAME_LABEL: "probe"})
            except ApiException as err:
                return "osm-l2sm" in (err.body or "")
            self.kube.core.delete_namespaced_pod(probe.metadata.name, self.namespace, grace_period_seconds=0)
            return True

        wait_for(webhook_answers, "the API server calling the operator's OSM webhook")
        LATENCIES.clear()
        return self.kube

    def stop(self) -> None:
        try:
            client.AdmissionregistrationV1Api(self.api).delete_mutating_webhook_configuration(self.name)
        except ApiException as err:
            if err.status != 404:
                raise
        if self.run is not None:
            self.run.stop()

    def status(self) -> dict[str, dict]:
        """The operator's status ConfigMap: NS id -> entry."""
        try:
            data = self.kube.core.read_namespaced_config_map("l2sm-osm-status", self.namespace).data or {}
        except ApiException as err:
            if err.status == 404:
                return {}
            raise
        return {k: json.loads(v) for k, v in data.items()}


@pytest.fixture
def osm_operator(osm, kube_api, l2sm_crds, k8s_namespace, controller, tmp_path):  # noqa: F811
    operator = OsmOperator(kube_api, controller, k8s_namespace, tmp_path, osm["url"])
    try:
        kube = operator.start()
        kube.nbi_url = osm["url"]
        yield kube
    finally:
        operator.stop()


def test_stock_ns_pods_are_wired_from_osm_records_and_networks_go_with_the_ns(osm, osm_operator):
    kube, nbi = osm_operator, osm["nbi"]
    made = {}
    for _ in range(2):  # two instances of one NSD
        name = f"cdn-{uuid.uuid4().hex[:6]}"
        ns_id, _ = nbi.ns_create(name, "cdn_ns", "k8s-vim", {"k8s-namespace": kube.ns})
        made[ns_id] = (name, {v["member-vnf-index-ref"]: v["_id"] for v in nbi.vnf_records(ns_id)})
    (ns_a, (name_a, vnfs_a)), (ns_b, (name_b, vnfs_b)) = made.items()
    prefix_a, prefix_b = f"{name_a}-{ns_a[:8]}", f"{name_b}-{ns_b[:8]}"

    pods = {member: kube.create_kdu_pod(ns_a, vnfs_a[member], kdu) for member, kdu in KDUS.items()}
    router = pods["router"].metadata
    assert router.labels["l2sm"] == "true"
    assert json.loads(router.annotations["l2sm/networks"]) == [
        {"name": f"{prefix_a}-cache-vl", "ips": ["10.0.1.1/24"]},
        {"name": f"{prefix_a}-content-vl", "ips": ["10.0.2.1/24"]}]
    assert [(e["name"], e["interface"], e["ips"]) for e in json.loads(router.annotations[MULTUS])] == [
        (f"{prefix_a}-cache-vl", "net1", ["10.0.1.1/24"]), (f"{prefix_a}-content-vl", "net2", ["10.0.2.1/24"])]
    cache = json.loads(pods["cache"].metadata.annotations[MULTUS])
    assert [(e["name"], e["ips"]) for e in cache] == [(f"{prefix_a}-cache-vl", ["10.0.1.10/24"])]
    content = json.loads(pods["content"].metadata.annotations[MULTUS])
    assert [(e["name"], e["ips"]) for e in content] == [(f"{prefix_a}-content-vl", ["10.0.2.10/24"])]

    # the second NS gets networks of its own, with the same addresses
    other = kube.create_kdu_pod(ns_b, vnfs_b["cache"], "cdn-cache")
    assert [(e["name"], e["ips"]) for e in json.loads(other.metadata.annotations[MULTUS])] == [
        (f"{prefix_b}-cache-vl", ["10.0.1.10/24"])]
    networks = kube.networks()
    assert {n: (networks[n]["spec"].get("networkCIDR"), networks[n]["metadata"]["labels"][NS_ID_LABEL])
            for n in networks} == {f"{prefix_a}-cache-vl": ("10.0.1.0/24", ns_a),
                                   f"{prefix_a}-content-vl": ("10.0.2.0/24", ns_a),
                                   f"{prefix_b}-cache-vl": ("10.0.1.0/24", ns_b)}

    # OSM terminates NS a: its releases go (pods deleted), then NBI forgets it; its networks follow, b's stay
    nbi.ns_delete(name_a, force=True)
    for pod in pods.values():
        kube.core.delete_namespaced_pod(pod.metadata.name, kube.ns, grace_period_seconds=0)
    wait_for(lambda: set(kube.networks()) == {f"{prefix_b}-cache-vl"}, "NS a's networks removed")
    nbi.ns_delete(name_b, force=True)
    report_latencies(nbi, kube)


SUMMARY: list[str] = []  # the admission latency lines, printed again at the end of the run (conftest)


def report_latencies(nbi, kube) -> None:
    """More NS instances, their first pod (NBI read) and second pod (cached), to print the admission latency."""
    cold, warm = [LATENCIES[0], LATENCIES[3]], LATENCIES[1:3]  # NS a's first pod and NS b's; NS a's next two
    for _ in range(6):
        name = f"cdn-{uuid.uuid4().hex[:6]}"
        ns_id, _ = nbi.ns_create(name, "cdn_ns", "k8s-vim", {"k8s-namespace": kube.ns})
        vnfs = {v["member-vnf-index-ref"]: v["_id"] for v in nbi.vnf_records(ns_id)}
        kube.create_kdu_pod(ns_id, vnfs["router"], "router-firewall")
        cold.append(LATENCIES[-1])
        kube.create_kdu_pod(ns_id, vnfs["cache"], "cdn-cache")
        warm.append(LATENCIES[-1])
        nbi.ns_delete(name, force=True)

    def p(values, q):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000

    for what, values in (("first pod of an NS (NBI read)", cold), ("later pods (cached)", warm),
                         ("all", cold + warm)):
        SUMMARY.append(f"{what}: n={len(values)} p50={p(values, 0.5):.0f} ms p95={p(values, 0.95):.0f} ms")
        print(f"OSM-mode admission, {SUMMARY[-1]}")


def test_a_pod_of_an_ns_osm_does_not_know_is_admitted_unchanged_with_an_event(osm_operator, kube_api,
                                                                              capsys):  # noqa: F811
    kube = osm_operator
    pod = kube.create_kdu_pod("0000-not-an-ns", "vnf", "cdn-cache")
    assert "l2sm" not in pod.metadata.labels and not pod.metadata.annotations
    assert [(reason, message) for reason, message in kube.warnings() if "0000-not-an-ns" in message] == [
        ("OsmNsUnknown", "osm-l2sm admitted this OSM KDU pod unchanged: NS instance 0000-not-an-ns is unknown to "
                         f"OSM (NBI at {kube.nbi_url})")]
    entry = json.loads(kube.core.read_namespaced_config_map("l2sm-osm-status", kube.ns).data["0000-not-an-ns"])
    assert (entry["action"], entry["reason"], entry["kdus"]) == ("unchanged", "OsmNsUnknown",
                                                                 {"vnf/cdn-cache": "unchanged"})

    # what an administrator reads: the table and the JSON of `osm-l2sm k8s osm status`
    capsys.readouterr()
    assert main(["k8s", "osm", "status", "--kubeconfig", kube_api.kubeconfig, "--namespace", kube.ns]) == 0
    header, row = [line.split() for line in capsys.readouterr().out.splitlines() if "0000-not-an-ns" in line
                   or line.startswith("NS ")]
    assert header[:4] == ["NS", "NS", "ID", "NAMESPACE"]
    assert row[:6] == ["-", "0000-not-an-ns", kube.ns, "-", "unchanged", "OsmNsUnknown"]
    assert main(["k8s", "osm", "status", "--kubeconfig", kube_api.kubeconfig, "--json"]) == 0
    listed = {e["nsId"]: e for e in json.loads(capsys.readouterr().out)}
    assert listed["0000-not-an-ns"]["kdus"] == {"vnf/cdn-cache": "unchanged"}


def test_a_kdu_pod_that_names_its_own_networks_is_left_to_them(osm, osm_operator):
    """An NS made by ``osm-l2sm ns-create``: its KDU charts got the plan as values, so LCM's pods carry the l2sm label
    and ``l2sm/networks`` (the wrapper's networks) besides LCM's labels. OSM mode leaves them so: no networks of its
    own for the NS, the annotation as the chart wrote it."""
    kube, nbi = osm_operator, osm["nbi"]
    name = f"cdn-{uuid.uuid4().hex[:6]}"
    ns_id, _ = nbi.ns_create(name, "cdn_ns", "k8s-vim", {"k8s-namespace": kube.ns})
    vnfs = {v["member-vnf-index-ref"]: v["_id"] for v in nbi.vnf_records(ns_id)}
    own = json.dumps([{"name": f"{name}-cache-vl", "ips": ["10.0.1.1/24"]}])
    pod = client.V1Pod(metadata=client.V1ObjectMeta(
        generate_name="router-firewall-", annotations={"l2sm/networks": own},
        labels={"l2sm": "true", NS_ID_LABEL: ns_id, VNF_ID_LABEL: vnfs["router"], KDU_NAME_LABEL: "router-firewall"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="main", image="alpine")]))
    try:
        created = kube.core.create_namespaced_pod(kube.ns, pod)
        assert created.metadata.annotations["l2sm/networks"] == own
        assert kube.networks() == {}
    finally:
        nbi.ns_delete(name, force=True)


def pod_from_template(kube: "Kube", deployment: client.V1Deployment) -> client.V1Pod:
    """The pod kube-controller-manager would make from the Deployment's template (none runs in this tier)."""
    template = kube.api.sanitize_for_serialization(deployment.spec.template)
    template["metadata"]["generateName"] = f"{deployment.metadata.name}-"
    start = time.perf_counter()
    pod = kube.core.create_namespaced_pod(kube.ns, {"apiVersion": "v1", "kind": "Pod", **template})
    LATENCIES.append(time.perf_counter() - start)
    return pod


ORIGIN = {"additionalParamsForVnf": [{"member-vnf-index": "cache", "additionalParamsForKdu": [
    {"kdu_name": "cdn-cache", "additionalParams": {"origin": {"url": "http://10.0.2.10/video.mp4"}}}]}]}


def test_kdus_installed_by_lcms_helm_connector_are_wired(osm, osm_operator, lcm_tier, real_nbi,
                                                        kube_api, k8s_bins):  # noqa: F811
    kube, nbi = osm_operator, osm["nbi"]
    bin_dir = Path(k8s_bins["helm"]).parent
    apps = client.AppsV1Api(kube.api)
    made = {}
    try:
        for _ in range(2):  # two instances of one NSD
            name = f"cdn-{uuid.uuid4().hex[:6]}"
            ns_id, _ = nbi.ns_create(name, "cdn_ns", "k8s-vim", {"k8s-namespace": kube.ns, **ORIGIN})
            # atomic=False: LCM waits for ready pods (helm --atomic), and no kubelet runs here
            made[ns_id] = (name, lcm_install_kdus(lcm_tier, bin_dir, real_nbi, ns_id, kube_api.kubeconfig,
                                                  atomic=False))
        # the KNF's own values (the user's additionalParams) reach its chart, as LCM passes them
        scripts = [c.data["start.sh"] for c in kube.core.list_namespaced_config_map(kube.ns).items
                   if "start.sh" in (c.data or {}) and "cdn-cache" in c.metadata.name]
        assert len(scripts) == 2 and all('url="http://10.0.2.10/video.mp4"' in text for text in scripts), scripts
        pods = {}
        for deployment in apps.list_namespaced_deployment(kube.ns).items:
            template = deployment.spec.template.metadata
            # the stock charts: LCM's labels and nothing of L2S-M's
            assert "l2sm" not in (template.labels or {})
            assert not [k for k in template.annotations or {} if "l2sm" in k or k == MULTUS], template.annotations
            assert template.labels["managed-by"] == "osm.etsi.org"
            pod = pod_from_template(kube, deployment)
            pods[(pod.metadata.labels[NS_ID_LABEL], pod.metadata.labels[KDU_NAME_LABEL])] = pod
        assert set(pods) == {(ns, kdu) for ns in made for kdu in KDUS.values()}
        for ns_id, (name, kdus) in made.items():
            prefix = f"{name}-{ns_id[:8]}"
            attached = {kdu: [(e["name"], e["interface"], e["ips"]) for e in
                              json.loads(pods[(ns_id, kdu)].metadata.annotations[MULTUS])] for kdu in KDUS.values()}
            assert attached == {
                "cdn-cache": [(f"{prefix}-cache-vl", "net1", ["10.0.1.10/24"])],
                "router-firewall": [(f"{prefix}-cache-vl", "net1", ["10.0.1.1/24"]),
                                    (f"{prefix}-content-vl", "net2", ["10.0.2.1/24"])],
                "content-server": [(f"{prefix}-content-vl", "net1", ["10.0.2.10/24"])]}
            # the plan's routes ride along as cni-args: the CNI plugin adds them in the pod
            assert {kdu: [e.get("cni-args") for e in json.loads(pods[(ns_id, kdu)].metadata.annotations[MULTUS])]
                    for kdu in KDUS.values()} == {
                "cdn-cache": [{"routes": [{"dst": "10.0.2.0/24", "gw": "10.0.1.1"}]}],
                "router-firewall": [None, None],
                "content-server": [{"routes": [{"dst": "10.0.1.0/24", "gw": "10.0.2.1"}]}]}
            assert {k["kdu-name"]: pods[(ns_id, k["kdu-name"])].metadata.labels["osm.etsi.org/kdu-id"]
                    for k in kdus} == {k["kdu-name"]: k["kdu-instance"] for k in kdus}
        networks = kube.networks()
        assert {n: networks[n]["metadata"]["labels"][NS_ID_LABEL] for n in networks} == {
            f"{name}-{ns_id[:8]}-{vl}": ns_id for ns_id, (name, _) in made.items() for vl in ("cache-vl", "content-vl")}

        # termination, one NS after the other: LCM uninstalls the releases (their pods go with them, deleted here
        # as the garbage collector would), NBI deletes the NS; its networks follow, the other NS's stay
        for ns_id, (name, kdus) in list(made.items()):
            lcm_uninstall_kdus(lcm_tier, bin_dir, real_nbi, kdus)
            assert not [d for d in apps.list_namespaced_deployment(kube.ns).items
                        if d.spec.template.metadata.labels[NS_ID_LABEL] == ns_id]
            for (owner, _), pod in pods.items():
                if owner == ns_id:
                    kube.core.delete_namespaced_pod(pod.metadata.name, kube.ns, grace_period_seconds=0)
            nbi.ns_delete(name, force=True)
            del made[ns_id]
            wait_for(lambda: {n["metadata"]["labels"][NS_ID_LABEL] for n in kube.networks().values()} == set(made),
                     f"NS {name}'s networks removed")
    finally:
        for name, _ in made.values():
            nbi.ns_delete(name, force=True)


def _pod_events(kube: "Kube", reason: str) -> list[str]:
    return [message for r, message in kube.warnings() if r == reason]


def test_while_nbi_is_down_only_an_ns_that_needs_networks_is_refused_and_only_for_a_while(
        osm_tier, built_packages, kube_api, l2sm_crds, k8s_namespace, controller, tmp_path):  # noqa: F811
    (tmp_path / "nbi").mkdir()
    nbi_run = start_nbi(osm_tier, tmp_path / "nbi")
    operator = None
    try:
        try:
            nbi = onboard_cdn(nbi_run, built_packages, Path(kube_api.kubeconfig))["nbi"]
            ns_id, _ = nbi.ns_create(f"cdn-{uuid.uuid4().hex[:6]}", "cdn_ns", "k8s-vim",
                                     {"k8s-namespace": k8s_namespace})
            vnfs = {v["member-vnf-index-ref"]: v["_id"] for v in nbi.vnf_records(ns_id)}
            # plans are read again after 1 s; pods of an NS that needs networks are refused for 3 s at most
            operator = OsmOperator(kube_api, controller, k8s_namespace, tmp_path, nbi_run.url,
                                   OSM_L2SM_OSM_CACHE_SECONDS="1", OSM_L2SM_OSM_REFUSE_SECONDS="3")
            kube = operator.start()
            assert kube.create_kdu_pod(ns_id, vnfs["cache"], "cdn-cache").metadata.labels["l2sm"] == "true"
        finally:
            stop_nbi(nbi_run)
        time.sleep(1.5)  # past the plan's freshness: NBI would be asked again, and cannot answer
        # the plan read last still holds: the router is wired as it would have been
        router = kube.create_kdu_pod(ns_id, vnfs["router"], "router-firewall")
        assert [e["name"].rsplit("-", 2)[-2:] for e in json.loads(router.metadata.annotations[MULTUS])] == [
            ["cache", "vl"], ["content", "vl"]]

        # a restarted operator knows nothing of the NS but its L2Networks: the content server is refused ...
        operator.stop()
        kube = operator.start()
        with pytest.raises(ApiException) as refused:
            kube.create_kdu_pod(ns_id, vnfs["content"], "content-server")
        assert refused.value.status == 503
        assert (f"cannot reach OSM NBI at {nbi_run.url}: ConnectionError; NS {ns_id} needs L2S-M networks, so its "
                "pods are refused until") in refused.value.body
        assert operator.status()[ns_id]["action"] == "refused" and _pod_events(kube, "OsmNbiUnreachable")

        # ... until the bound has passed since that first refusal: then admitted unwired, with an event
        def admitted():
            try:
                return kube.create_kdu_pod(ns_id, vnfs["content"], "content-server")
            except ApiException as err:
                assert err.status == 503, err.body
                return None

        content = wait_for(admitted, "the content server admitted once the refusal bound has passed")
        assert "l2sm" not in content.metadata.labels and MULTUS not in (content.metadata.annotations or {})
        assert any(f"pods of NS {ns_id} have been refused since" in m for m in _pod_events(kube, "OsmAdmittedUnwired"))
        entry = operator.status()[ns_id]
        assert (entry["action"], entry["reason"], entry["kdus"][f"{vnfs['content']}/content-server"]) == (
            "unwired", "OsmAdmittedUnwired", "unwired")

        # an NS the operator never saw and that has no network here: nothing says it needs any, admitted at once
        other = kube.create_kdu_pod("1111-never-seen", "vnf", "cdn-cache")
        assert "l2sm" not in other.metadata.labels
        assert any("nothing says NS 1111-never-seen needs L2S-M networks" in m
                   for m in _pod_events(kube, "OsmAdmittedUnwired"))
    finally:
        if operator is not None:
            operator.stop()
