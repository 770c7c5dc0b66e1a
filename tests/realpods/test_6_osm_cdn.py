"""The CDN service deployed the stock OSM way, on real pods: real NBI (release 19, in-memory backends) takes the
ns-create osmclient sends, OSM LCM's own K8sHelm3Connector installs the three KNF charts (real helm, LCM's podLabels
post-renderer, ``--atomic``) with no L2S-M value at all, the l2sm chart's operator in OSM mode wires the pods from
NBI's records (networks, addresses, routes), the seed's checks pass, and termination leaves nothing behind.

NBI runs on the host's loopback; a forwarder offers its port at the node's address inside the cluster's network
namespace, where the operator pod reaches it. LCM's connector runs in that namespace too, as LCM runs where it can
reach the cluster. What LCM does around the connector (its kafka-driven NS operation, the NS record's status) does
not run: the instantiation stays PROCESSING in NBI, which the operator does not look at.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from osm_l2sm.descriptors import build_package
from osm_l2sm.osm.records import KDU_NAME_LABEL, NS_ID_LABEL, VNF_ID_LABEL, NsPlans
from tests.osm_real.osm_real_kit import (LOCAL, lcm_install_kdus, lcm_uninstall_kdus, onboard_cdn, prepare_lcm_tier,
                                         prepare_osm_tier, start_nbi, stop_nbi)
from tests.osm_real.real_packages import corpus_dir, instantiate
from tests.polling import wait_for
from tests.realpods.cdn_checks import CHECKS, KDUS, SIZE_MIB, Cdn, back_to, footprint, planned_addresses
from tests.realpods.conftest import CACHE, RELEASE, RELEASE_NS, ROOT, TEST_IMAGE, Cluster, node, pod_manifest
from tests.realpods.timings import report_timing

pytestmark = pytest.mark.osm_real
MEMBERS = {"cdn-cache": "cache", "router-firewall": "router", "content-server": "content"}
NAMESPACE = "osm-cdn"  # the NS's k8s-namespace: LCM creates it, the operator makes the networks there


def _node_ip(cluster: Cluster) -> str:
    out = subprocess.run(["ip", "-n", cluster.netns, "-4", "-o", "addr", "show", "dev", "eth0"], capture_output=True,
                         text=True, check=True).stdout
    return out.split()[3].split("/")[0]


def _forward(cluster: Cluster, host: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("netns_forward.py")),
                             f"/run/netns/{cluster.netns}", host, str(port), str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        pytest.fail(f"the NBI forwarder did not start: {line}{proc.stdout.read()}", pytrace=False)
    return proc


def _l2sm_with_osm(cluster: Cluster, url: str | None) -> None:
    """The l2sm release with OSM mode on (``url``) or back to its stock values (None); the operator rolled out."""
    settings = ["--reset-values"] if url is None else [
        "--reuse-values", "--set", f"operator.osm.nbiUrl={url}", "--set", "operator.osm.credentialsSecret.name=osm-nbi",
        "--set", "operator.osm.gcSeconds=5"]
    cluster.helm("upgrade", RELEASE, ROOT / "helm-charts" / "l2sm", "-n", RELEASE_NS, *settings)
    cluster.kubectl("-n", RELEASE_NS, "rollout", "status", f"deployment/{RELEASE}-operator", "--timeout=240s",
                    timeout=300)


@pytest.fixture(scope="module")
def osm(l2sm: Cluster, tmp_path_factory):
    tier = prepare_osm_tier()
    lcm = prepare_lcm_tier(tier)
    nbi = start_nbi(tier, tmp_path_factory.mktemp("nbi"))
    forwarder = None
    try:
        host = _node_ip(l2sm)
        forwarder = _forward(l2sm, host, nbi.port)
        out = tmp_path_factory.mktemp("pkgs")
        packages = [build_package(path, out) for path in LOCAL]
        records = onboard_cdn(nbi, packages, Path(l2sm.env["KUBECONFIG"]))
        l2sm.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "osm-nbi"},
                    "stringData": {"user": "admin", "password": "admin"}}, namespace=RELEASE_NS)
        _l2sm_with_osm(l2sm, f"http://{host}:{nbi.port}/osm")
        try:
            yield {"cluster": l2sm, "nbi_run": nbi, "nbi": records["nbi"], "lcm": lcm}
        finally:
            _l2sm_with_osm(l2sm, None)
            l2sm.kubectl("-n", RELEASE_NS, "delete", "secret", "osm-nbi", check=False)
            l2sm.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=180s", check=False, timeout=240)
    finally:
        if forwarder is not None:
            forwarder.terminate()
            forwarder.wait(timeout=10)
        stop_nbi(nbi)


def _config() -> dict:
    """What an OSM user gives `osm ns-create --config`: the namespace and the KNFs' own values (images of this
    cluster, the file size, each KNF on its own node), nothing of L2S-M's."""
    repository, tag = TEST_IMAGE.rsplit(":", 1)
    image = {"repository": repository, "tag": tag, "pullPolicy": "Never"}
    return {"k8s-namespace": NAMESPACE, "additionalParamsForVnf": [
        {"member-vnf-index": member, "additionalParamsForKdu": [{"kdu_name": kdu, "additionalParams": {
            "image": image, "nodeSelector": {"kubernetes.io/hostname": node(i)},
            **({"content": {"sizeMiB": SIZE_MIB}} if kdu == "content-server" else {})}}]}
        for i, (kdu, member) in enumerate(MEMBERS.items(), start=1)]}


def _diagnostics(service: Cdn) -> str:
    """What the pods, their neighbours and the operator looked like when a check failed."""
    cluster = service.cluster
    parts = [service.kubectl("get", "pods", "-o", "wide", check=False).stdout,
             service.kubectl("get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name} {.metadata.annotations}"
                                                 "{'\\n'}{end}", check=False).stdout,
             cluster.kubectl("-n", RELEASE_NS, "logs", f"deployment/{RELEASE}-operator", "--tail=30",
                             check=False).stdout]
    for kdu, script in (("cdn-cache", "ip addr; ip route; ip neigh; cat /tmp/cut.log"),
                        ("router-firewall", "ip addr; ip neigh; iptables -vnL FORWARD"),
                        ("content-server", "ip addr; ip route; ip neigh")):
        try:
            parts.append(f"--- {kdu}\n" + service.exec(kdu, script, check=False).stdout)
        except AssertionError as err:
            parts.append(f"--- {kdu}: {err}")
    return "\n".join(parts)


def run_checks(service: Cdn) -> None:
    """Every seed check; what the pods looked like is printed when one fails."""
    for check in CHECKS:
        try:
            check(service)
        except BaseException:
            print(_diagnostics(service), file=sys.stderr)
            raise


def test_stock_osm_ns_create_runs_the_cdn_on_real_pods_and_termination_leaves_nothing(osm):
    cluster, nbi, lcm = osm["cluster"], osm["nbi"], osm["lcm"]
    bin_dir = CACHE / "bin"
    before = footprint(cluster)
    name = f"cdn-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    ns_id, _ = nbi.ns_create(name, "cdn_ns", "k8s-vim", _config())
    kdus = []
    try:
        kdus = lcm_install_kdus(lcm, bin_dir, osm["nbi_run"], ns_id, cluster.env["KUBECONFIG"], atomic=True,
                                timeout=600, netns=cluster.netns)
        plan = NsPlans(nbi).plan(ns_id)
        service = Cdn(cluster, NAMESPACE, {kdu: f"{NS_ID_LABEL}={ns_id},{KDU_NAME_LABEL}={kdu}" for kdu in KDUS},
                      planned_addresses([{"kdu": k.kdu, "values": k.values} for k in plan.kdus]))
        service.wait_until_serving()
        # the charts got no L2S-M value: the cache's route to the content side came with its attachment
        assert "10.0.2.0/24 via 10.0.1.1 dev net1" in service.exec("cdn-cache", "ip -4 route").stdout
        placed = {kdu: cluster.node_of(service.pod(kdu), NAMESPACE) for kdu in KDUS}
        assert len(set(placed.values())) == min(3, len(cluster.nodes)), placed
        run_checks(service)
        report_timing(f"CDN service in OSM mode: NBI ns-create to every seed check passed "
                      f"{time.monotonic() - started:.0f} s; KNFs on {placed}")
    finally:
        if kdus:
            lcm_uninstall_kdus(lcm, bin_dir, osm["nbi_run"], kdus, netns=cluster.netns)
        nbi.ns_delete(name, force=True)

    selector = f"{NS_ID_LABEL}={ns_id}"
    wait_for(lambda: not cluster.kubectl("-n", NAMESPACE, "get", "pods", "-l", selector, "-o", "name").stdout.strip(),
             "the NS's pods gone", timeout=180, interval=2)
    wait_for(lambda: not cluster.kubectl("-n", NAMESPACE, "get", "l2networks", "-o", "name").stdout.strip(),
             "the NS's L2Networks removed by the operator", timeout=120, interval=2)
    back_to(cluster, before)


def test_a_pod_of_a_real_users_ns_with_only_a_management_vl_starts_as_osm_made_it(osm):
    """5GASP's NEO VRO NS (one KNF on the management network): its KDU pod runs with its one interface, and the
    operator says on its ReplicaSet why it left it alone."""
    cluster, nbi = osm["cluster"], osm["nbi"]
    pkgs = corpus_dir() / "pkgs" / "5gasp__napp10-descriptors"
    done = osm["nbi_run"].onboard(pkgs / "neo_vro_knf", pkgs / "neo_vro_ns")
    assert done.returncode == 0, done.stdout
    ns = instantiate(osm["nbi_run"], NAMESPACE, "neo_vro_nsd")
    try:
        member = ns.members[0]
        labels = {"managed-by": "osm.etsi.org", NS_ID_LABEL: ns.ns_id, VNF_ID_LABEL: member["vnf_id"],
                  KDU_NAME_LABEL: member["kdus"][0], "osm.etsi.org/kdu-id": "neo-vro-0123456789"}
        pod = pod_manifest("neo-vro", None, labelled=False)
        cluster.kubectl("create", "namespace", NAMESPACE, check=False)
        cluster.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "neo-vro", "labels": labels},
                       "spec": {"replicas": 1, "selector": {"matchLabels": {KDU_NAME_LABEL: labels[KDU_NAME_LABEL]}},
                                "template": {"metadata": {"labels": labels}, "spec": pod["spec"]}}},
                      namespace=NAMESPACE)
        selector = f"{NS_ID_LABEL}={ns.ns_id}"
        name = wait_for(lambda: cluster.kubectl("-n", NAMESPACE, "get", "pods", "-l", selector, "-o",
                                                "jsonpath={.items[0].metadata.name}", check=False).stdout.strip(),
                        "the Deployment's pod", timeout=120, interval=2)
        cluster.wait_ready(name, namespace=NAMESPACE)
        links = cluster.exec(name, "ip", "-o", "link", namespace=NAMESPACE).stdout
        assert sorted(line.split(": ")[1].split("@")[0] for line in links.splitlines()) == ["eth0", "lo"], links
        assert not {k for k in cluster.annotations(name, NAMESPACE) if "l2sm" in k or "cni.cncf.io/networks" in k}
        events = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "events", "-o", "json",
                                            "--field-selector", "involvedObject.kind=ReplicaSet").stdout)["items"]
        # whether the planner refuses its quoted boolean or plans no network for a management VL, the pod is left as
        # OSM made it and the event says which
        assert {e["reason"] for e in events} & {"OsmNsNotPlanned", "OsmNoNetworksNeeded"}, events
        # and the operator's status ConfigMap (written with the chart's RBAC) says what it did with the NS
        status = cluster.get("configmap", "l2sm-osm-status", RELEASE_NS)  # release l2sm: fullname l2sm
        entry = json.loads(status["data"][ns.ns_id])
        assert (entry["action"], entry["kdus"], entry["namespace"]) == (
            "unchanged", {f"{member['member']}/{member['kdus'][0]}": "unchanged"}, NAMESPACE)
    finally:
        cluster.kubectl("-n", NAMESPACE, "delete", "deployment", "neo-vro", "--wait=true", "--timeout=120s",
                        check=False, timeout=180)
        nbi.ns_delete(ns.name, force=True)
