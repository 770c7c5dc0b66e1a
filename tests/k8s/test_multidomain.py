"""Inter-domain networks over several clusters, on the real API server.

Two "clusters" here are two namespaces of the one test API server, each reached through its own kubeconfig file
whose context names that namespace: the code under test sees two kubeconfigs and never learns they share a server.
"""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.k8s.conftest import delete_namespace

GROUP, VERSION, PLURAL = "l2sm.l2sm.k8s.local", "v1", "l2networks"


def osm_l2sm(*args):
    return subprocess.run([sys.executable, "-m", "osm_l2sm", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def kubeconfig_for(kube_api, namespace: str, path: Path) -> Path:
    config = yaml.safe_load(Path(kube_api.kubeconfig).read_text())
    config["contexts"][0]["context"]["namespace"] = namespace
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def two_clusters(kube_api, l2sm_crds, tmp_path):
    """{"c1": (namespace, kubeconfig), "c2": ...}: two fresh namespaces, each behind its own kubeconfig."""
    api = kube_api.client()
    clusters = {}
    try:
        for name in ("c1", "c2"):
            namespace = f"md-{name}-{uuid.uuid4().hex[:8]}"
            client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
            clusters[name] = (namespace, kubeconfig_for(kube_api, namespace, tmp_path / f"{name}.kubeconfig"))
        yield clusters
    finally:
        for namespace, _ in clusters.values():
            delete_namespace(api, namespace)


def networks_in(kube_api, namespace: str) -> dict[str, dict]:
    items = client.CustomObjectsApi(kube_api.client()).list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL)["items"]
    return {item["metadata"]["name"]: item["spec"] for item in items}


def test_network_create_makes_an_ext_vnet_in_every_cluster_with_split_ranges(kube_api, two_clusters):
    (ns1, k1), (ns2, k2) = two_clusters["c1"], two_clusters["c2"]
    created = osm_l2sm("k8s", "network", "create", "span", "--cidr", "10.20.0.0/24", "--kubeconfig", f"c1={k1}",
                       "--kubeconfig", f"c2={k2}", "--split-range", "--provider", "idco")
    assert created.returncode == 0, created.stderr
    assert f"c1 (namespace {ns1})" in created.stdout and f"c2 (namespace {ns2})" in created.stdout
    one, two = networks_in(kube_api, ns1)["span"], networks_in(kube_api, ns2)["span"]
    for spec in (one, two):
        assert spec["type"] == "ext-vnet"
        assert spec["provider"] == {"name": "idco", "domain": "idco"}
        assert spec["networkCIDR"] == "10.20.0.0/24"
    # Disjoint halves of the hosts, together all of them: the clusters never hand out the same address.
    assert [one["podAddressRange"], two["podAddressRange"]] == ["10.20.0.1-10.20.0.127", "10.20.0.128-10.20.0.254"]

    again = osm_l2sm("k8s", "network", "create", "span", "--cidr", "10.20.0.0/24", "--kubeconfig", f"c1={k1}",
                     "--kubeconfig", f"c2={k2}", "--provider", "idco")
    assert again.returncode == 0 and "already exists" in again.stdout

    deleted = osm_l2sm("k8s", "network", "delete", "span", "--kubeconfig", f"c1={k1}", "--kubeconfig", f"c2={k2}")
    assert deleted.returncode == 0, deleted.stderr
    assert networks_in(kube_api, ns1) == {} and networks_in(kube_api, ns2) == {}
    gone = osm_l2sm("k8s", "network", "delete", "span", "--kubeconfig", f"c1={k1}", "--kubeconfig", f"c2={k2}")
    assert gone.returncode == 1
    assert gone.stderr.startswith("osm-l2sm: error: network span does not exist in clusters c1")


def test_a_cluster_refusing_the_network_leaves_it_in_no_cluster(kube_api, two_clusters, tmp_path):
    ns1, k1 = two_clusters["c1"]
    missing = kubeconfig_for(kube_api, f"md-none-{uuid.uuid4().hex[:8]}", tmp_path / "gone.kubeconfig")
    result = osm_l2sm("k8s", "network", "create", "span", "--cidr", "10.20.0.0/24", "--kubeconfig", f"c1={k1}",
                      "--kubeconfig", f"c2={missing}")
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("osm-l2sm: error: cluster c2: Kubernetes API refused to create L2Network span")
    assert networks_in(kube_api, ns1) == {}


def test_without_a_provider_or_second_cluster_a_network_stays_a_plain_vnet(kube_api, two_clusters):
    ns1, k1 = two_clusters["c1"]
    result = osm_l2sm("k8s", "network", "create", "local", "--cidr", "10.30.0.0/24", "--kubeconfig", k1,
                      "--namespace", ns1)
    assert result.returncode == 0, result.stderr
    assert networks_in(kube_api, ns1)["local"]["type"] == "vnet"


# -- ns-create of an NS whose KNFs run in two clusters, with the OSM NBI double ---------------------------------------
from tests.osm.nbi_double import NbiDouble, NbiState, add_descriptor  # noqa: E402

from osm_l2sm.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PACKAGES = [str(REPO / "descriptors" / p) for p in ("cdn_ns", "content_server_knf", "router_firewall_knf",
                                                    "cdn_cache_knf")]
EDGE_CACHE = "vnf: [{member-vnf-index: cache, vimAccountId: vim-edge}]"  # the rest stays on the NS's VIM


@pytest.fixture
def osm_with_clusters():
    """The NBI double holding the CDN descriptors and one K8s cluster per VIM account (c1 cloud, c2 edge)."""
    state = NbiState(vim_accounts=[{"_id": "vim-cloud", "name": "vim-cloud"}, {"_id": "vim-edge", "name": "vim-edge"}],
                     k8sclusters=[{"_id": "k1", "name": "c1", "vim_account": "vim-cloud"},
                                  {"_id": "k2", "name": "c2", "vim_account": "vim-edge"}])
    with NbiDouble(state) as double:
        for pkg in PACKAGES:
            (descriptor,) = Path(pkg).glob("*.yaml")
            add_descriptor(double.state, descriptor.read_text())
        yield double


def ns_command(command: str, nbi, clusters, *extra) -> int:
    (_, k1), (_, k2) = clusters["c1"], clusters["c2"]
    return main([command, "--ns_name", "vod", "--osm-host", nbi.url, "--password", nbi.state.password,
                 "--kubeconfig", f"c1={k1}", "--kubeconfig", f"c2={k2}", "--package", *PACKAGES, *extra])


def test_ns_create_makes_spanning_links_inter_domain_in_each_cluster(kube_api, two_clusters, osm_with_clusters,
                                                                     capsys):
    (ns1, _), (ns2, _) = two_clusters["c1"], two_clusters["c2"]
    assert ns_command("ns-create", osm_with_clusters, two_clusters, "--nsd_name", "cdn_ns",
                      "--vim_account", "vim-cloud", "--config", EDGE_CACHE, "--provider", "idco") == 0
    assert "vod-cache-vl (10.0.1.0/24, virtual link cache-vl, inter-domain over c1, c2): created" in \
        capsys.readouterr().out
    cloud, edge = networks_in(kube_api, ns1), networks_in(kube_api, ns2)
    # The cache (edge) and the router (cloud) share cache-vl: an ext-vnet on both sides, naming the provider.
    for spec in (cloud["vod-cache-vl"], edge["vod-cache-vl"]):
        assert spec["type"] == "ext-vnet" and spec["provider"]["name"] == "idco"
        assert spec["l2sm"]["clusters"] == ["c1", "c2"]
    # content-vl joins router and content server, both in the cloud: an ordinary network there, none at the edge.
    assert cloud["vod-content-vl"]["type"] == "vnet"
    assert set(edge) == {"vod-cache-vl"}
    (body,) = osm_with_clusters.state.bodies("POST", "/ns_instances_content")
    assert body["vimAccountId"] == "vim-cloud"
    assert body["vnf"] == [{"member-vnf-index": "cache", "vimAccountId": "vim-edge"}]

    assert ns_command("ns-delete", osm_with_clusters, two_clusters) == 0
    assert networks_in(kube_api, ns1) == {} and networks_in(kube_api, ns2) == {}


def test_failed_instantiation_removes_the_networks_from_every_cluster(kube_api, two_clusters, osm_with_clusters,
                                                                       capsys):
    (ns1, _), (ns2, _) = two_clusters["c1"], two_clusters["c2"]
    osm_with_clusters.state.ns_create_status = 500
    assert ns_command("ns-create", osm_with_clusters, two_clusters, "--nsd_name", "cdn_ns",
                      "--vim_account", "vim-cloud", "--config", EDGE_CACHE) == 1
    assert "500" in capsys.readouterr().err
    assert networks_in(kube_api, ns1) == {} and networks_in(kube_api, ns2) == {}


def test_a_link_spanning_a_cluster_without_kubeconfig_is_refused_before_anything_is_made(kube_api, two_clusters,
                                                                                          capsys):
    (ns1, k1) = two_clusters["c1"]
    assert main(["ns-create", "--ns_name", "vod", "--kubeconfig", f"c1={k1}", "--package", *PACKAGES,
                 "--vim_account", "vim-cloud", "--cluster-map", "vim-cloud=c1,vim-edge=c2",
                 "--config", EDGE_CACHE]) == 1
    assert "spans cluster c2 but no kubeconfig is given for it" in capsys.readouterr().err
    assert networks_in(kube_api, ns1) == {}
