"""The Kubernetes targets (L2Network CRs and l2sm-network releases), install_plan, and `osm-l2sm k8s network` on a real
API server with a real helm."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from osm_l2sm.errors import L2smError
from osm_l2sm.k8s.cluster import get_network
from osm_l2sm.k8s.target import install_plan, kubernetes_target, uninstall_plan
from osm_l2sm.model import KduDeployment, Network, NetworkTarget, Plan
from tests.k8s.conftest import delete_namespace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def crds(kube_api, l2sm_crds):
    """An API client of the server that knows the chart's CRDs."""
    return kube_api.client()


@pytest.fixture
def helm_in_env(helm, helm_env, monkeypatch) -> str:
    """helm's cache/config/data dirs of the session, for the helm that pyhelm3 runs."""
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, helm_env[var])
    return helm


def test_cr_mode_creates_lists_and_deletes_l2networks(kube_api, crds, k8s_namespace):
    target = kubernetes_target(kube_api.kubeconfig, k8s_namespace, mode="cr")
    assert isinstance(target, NetworkTarget)
    net = Network("v-network-1", cidr="10.0.1.0/24", gateway="10.0.1.1", vld="vld-1")
    assert target.ensure_network(net) is True
    assert target.ensure_network(net) is False  # idempotent
    assert target.ensure_network(Network("l2-only")) is True
    body = get_network(crds, k8s_namespace, "v-network-1")
    assert body["spec"] == {"type": "vnet", "networkCIDR": "10.0.1.0/24",
                            "l2sm": {"gateway": "10.0.1.1", "vld": "vld-1"}}
    assert get_network(crds, k8s_namespace, "l2-only")["spec"] == {"type": "vnet"}
    assert target.list_networks() == ["l2-only", "v-network-1"]
    assert target.delete_network("v-network-1") is True
    assert target.delete_network("v-network-1") is False
    assert target.list_networks() == ["l2-only"]


def test_cr_mode_makes_the_namespace_when_there_is_none_yet(kube_api, crds):
    """``osm-l2sm ns-create --kubeconfig`` makes the networks before OSM installs the KDUs, which would make the
    NS's namespace: the first network makes it."""
    namespace = f"t-{os.urandom(5).hex()}"
    target = kubernetes_target(kube_api.kubeconfig, namespace, mode="cr")
    try:
        assert target.ensure_network(Network("first", cidr="10.0.1.0/24")) is True
        assert target.ensure_network(Network("second")) is True
        assert target.list_networks() == ["first", "second"]
    finally:
        delete_namespace(crds, namespace)


def test_cr_mode_rejected_spec_is_one_readable_error(kube_api, crds, k8s_namespace):
    target = kubernetes_target(kube_api.kubeconfig, k8s_namespace, mode="cr")
    with pytest.raises(L2smError) as err:
        target.ensure_network(Network("bad-cidr", cidr="10.0.1.0/99"))
    assert "L2Network bad-cidr" in str(err.value) and "\n" not in str(err.value)
    assert target.list_networks() == []


def test_helm_mode_installs_one_release_per_network(kube_api, crds, k8s_namespace, helm_in_env):
    target = kubernetes_target(kube_api.kubeconfig, k8s_namespace, mode="helm", helm=helm_in_env)
    assert target.ensure_network(Network("v-network-2", cidr="10.0.2.0/24")) is True
    assert target.ensure_network(Network("v-network-2", cidr="10.0.2.0/24")) is False
    body = get_network(crds, k8s_namespace, "v-network-2")
    assert body["spec"]["networkCIDR"] == "10.0.2.0/24"
    assert body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert target.list_networks() == ["v-network-2"]
    assert target.delete_network("v-network-2") is True
    assert get_network(crds, k8s_namespace, "v-network-2") is None
    assert target.delete_network("v-network-2") is False and target.list_networks() == []


def _tiny_chart(root: Path) -> Path:
    """A KNF-like chart of our own: one ConfigMap carrying the planned pod annotation."""
    chart = root / "tiny-knf"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tiny-knf\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("networks: \"\"\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        "data:\n  networks: {{ .Values.networks | quote }}\n")
    return chart


def test_install_plan_creates_networks_then_kdu_releases_and_uninstalls(kube_api, crds, k8s_namespace,
                                                                        helm_in_env, tmp_path):
    chart = _tiny_chart(tmp_path)
    plan = Plan(ns_name="cdn", nsd_id="cdn_ns", networks=[Network("plan-net", cidr="10.0.7.0/24")],
                kdus=[KduDeployment("1", "knf", "server", str(chart), {"networks": "plan-net"})])
    releases = install_plan(plan, kube_api.kubeconfig, k8s_namespace, helm=helm_in_env)
    assert releases == ["cdn-1-server"]
    config_map = client.CoreV1Api(crds).read_namespaced_config_map("cdn-1-server", k8s_namespace)
    assert config_map.data == {"networks": "plan-net"}
    assert get_network(crds, k8s_namespace, "plan-net")["spec"]["networkCIDR"] == "10.0.7.0/24"

    assert uninstall_plan(plan, kube_api.kubeconfig, k8s_namespace, helm=helm_in_env) == ["cdn-1-server"]
    with pytest.raises(ApiException):
        client.CoreV1Api(crds).read_namespaced_config_map("cdn-1-server", k8s_namespace)
    assert get_network(crds, k8s_namespace, "plan-net") is None


def test_install_plan_with_a_missing_chart_is_one_readable_error(kube_api, crds, k8s_namespace, helm_in_env):
    plan = Plan(ns_name="cdn", nsd_id="cdn_ns", kdus=[KduDeployment("1", "knf", "x", "/nonexistent/chart")])
    with pytest.raises(L2smError) as err:
        install_plan(plan, kube_api.kubeconfig, k8s_namespace, helm=helm_in_env)
    assert "helm could not install cdn-1-x" in str(err.value) and "\n" not in str(err.value)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "osm_l2sm", "k8s", "network", *args], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


def test_cli_network_create_list_delete(kube_api, crds, k8s_namespace):
    common = ("--kubeconfig", kube_api.kubeconfig, "--namespace", k8s_namespace)
    created = _cli("create", "cli-net", "--cidr", "10.0.9.0/24", *common)
    assert created.returncode == 0, created.stderr
    assert "created" in created.stdout
    assert "already exists" in _cli("create", "cli-net", "--cidr", "10.0.9.0/24", *common).stdout
    assert _cli("list", *common).stdout.split() == ["cli-net"]
    assert _cli("delete", "cli-net", *common).returncode == 0
    missing = _cli("delete", "cli-net", *common)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"osm-l2sm: error: network cli-net does not exist in namespace {k8s_namespace}"
