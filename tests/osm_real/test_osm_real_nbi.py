"""The project's OSM requests against OSM release 19's own NBI: onboarding, k8scluster-add, ns-create, ns-delete.

Every request goes to real NBI code (in-memory database, no LCM or RO behind it: instantiate operations stay
PROCESSING); the tests read the stored records back from NBI.
"""
from __future__ import annotations

import json
import uuid

import pytest
import yaml

from osm_l2sm.cli import main
from osm_l2sm.descriptors import decode_params, load_package
from osm_l2sm.osm import lifecycle

from osm_real_kit import LOCAL, PACKAGES, REPO, TOKEN

pytestmark = pytest.mark.osm_real

NETWORKS = {"cache-vl": "10.0.1.0/24", "content-vl": "10.0.2.0/24"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def osm_args(osm, controller) -> list[str]:
    return ["--osm-host", osm["url"], "--controller", controller.url, "--controller-token", TOKEN]


def controller_networks(controller) -> dict:
    return {n["name"]: n["cidr"] for n in controller.client().list_networks()}


def ns_record(osm, name: str) -> dict:
    return osm["nbi"].ns_record(osm["nbi"].get_ns(name)["_id"])


def vnf_records(osm, ns_id: str) -> dict:
    return {v["member-vnf-index-ref"]: v for v in osm["nbi"].vnf_records(ns_id)}


def test_real_nbi_onboards_the_cdn_packages_with_charts_where_lcm_looks(osm):
    nbi = osm["nbi"]
    for name in PACKAGES:
        local = load_package(REPO / "descriptors" / name)
        if local.kind == "nsd":
            stored = yaml.safe_load(nbi.nsd_text(name))
            assert stored["nsd"]["nsd"][0]["df"] == local.body["df"]
            continue
        stored = yaml.safe_load(nbi.vnfd_text(name))
        assert stored["vnfd"]["kdu"] == local.body["kdu"]
        chart = local.body["kdu"][0]["helm-chart"]
        # LCM v19 installs <storage folder>/<pkg-dir>/helm-chart-v3s/<chart> when it exists: NBI stored it there
        resp = nbi._send("GET", f"/vnfpkgm/v1/vnf_packages/{osm['ids'][name]}/artifacts/helm-chart-v3s/{chart}/"
                                "Chart.yaml", headers={"Accept": "text/plain"})
        assert yaml.safe_load(resp.text)["name"] == chart


@pytest.mark.parametrize("description", [None, "edge cluster of the CDN"])
def test_k8scluster_add_is_stored_by_real_nbi_as_dry_run_prints_it(osm, description, capsys):
    name = unique("edge")
    argv = ["k8scluster-add", name, "--creds", str(osm["kubeconfig"]), "--version", "1.29", "--vim", "k8s-vim",
            "--k8s-nets", "{cache-net: null}", "--package", *LOCAL, "--cni", "[multus]", "--osm-host", osm["url"]]
    argv += ["--description", description] if description else []
    assert main(argv + ["--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    stored = osm["nbi"].get_k8scluster(name)
    assert printed["vim_account"] == osm["vim"] == stored["vim_account"]  # the id, in the dry run too
    for key in ("name", "k8s_version", "nets", "namespace", "cni"):
        assert stored[key] == printed[key], key
    assert stored["nets"] == {"cache-net": None, "content-net": None}
    assert stored["cni"] == ["multus"]
    if description:
        assert stored["description"] == printed["description"] == description
    else:
        assert "description" not in printed


def test_ns_create_with_vim_and_wim_names_is_stored_with_ids(osm, controller, capsys):
    name = unique("vod")
    config = {"vnf": [{"member-vnf-index": "cache", "vim_account": "k8s-vim"}],
              "vld": [{"name": "cache-vl", "vim-network-name": {"k8s-vim": "cache-net"}}],
              "wim_account": "l2-wim",
              "additionalParamsForNs": {"owner": "cdn-team"}}
    assert main(["ns-create", "--ns_name", name, "--nsd_name", "cdn_ns", "--vim_account", "k8s-vim",
                 "--config", yaml.safe_dump(config), "--timeout", "900", *osm_args(osm, controller)]) == 0
    # the virtual link with a vim-network-name is on that network, the other on <ns>-<vl>
    assert controller_networks(controller) == {"cache-net": NETWORKS["cache-vl"],
                                               f"{name}-content-vl": NETWORKS["content-vl"]}
    record = ns_record(osm, name)
    params = record["instantiate_params"]
    assert params["vimAccountId"] == osm["vim"]
    assert params["vnf"] == [{"member-vnf-index": "cache", "vimAccountId": osm["vim"]}]
    assert params["vld"] == [{"name": "cache-vl", "vim-network-name": {osm["vim"]: "cache-net"}}]
    assert params["wimAccountId"] == osm["wim"]
    assert params["timeout_ns_deploy"] == 900
    assert record["additionalParamsForNs"] == {"owner": "cdn-team"}
    # what LCM would hand to Helm: the planned attachments of each KDU
    vnfrs = vnf_records(osm, record["_id"])
    assert set(vnfrs) == {"cache", "router", "content"}
    cache_kdu = vnfrs["cache"]["kdur"][0]
    values = decode_params(json.loads(cache_kdu["additionalParams"]))
    assert values["l2sm"]["networks"] == [{"name": "cache-net", "interface": "net1",
                                           "ips": ["10.0.1.10/24"], "vld": "cache-vl"}]
    assert json.loads(values["podAnnotations"]["l2sm/networks"]) == [{"name": "cache-net", "ips": ["10.0.1.10/24"]}]
    assert vnfrs["cache"]["vim-account-id"] == osm["vim"]
    out = capsys.readouterr().out
    assert f"NS {name} ({record['_id']}): instantiating" in out
    assert "network cache-net (10.0.1.0/24, virtual link cache-vl, named by the config's vim-network-name): " \
           "created" in out
    assert main(["ns-delete", name, "--force", *osm_args(osm, controller)]) == 0
    assert [n for n in osm["nbi"].list_ns() if n["name"] == name] == []
    # as OSM treats a vim-network-name: the user's network outlives the NS, and ns-delete says so
    assert controller_networks(controller) == {"cache-net": NETWORKS["cache-vl"]}
    assert "network cache-net: kept (named by the NS's vim-network-name" in capsys.readouterr().out
    controller.client().delete_network("cache-net")


def test_the_namespace_sent_is_where_real_nbi_puts_every_kdu(osm):
    """ns-create creates the networks in the namespace it sends as k8s-namespace; NBI gives it to each KDU."""
    name = unique("vod")
    config, namespace = lifecycle.kdu_namespace({}, "cdn")
    ns_id, _ = osm["nbi"].ns_create(name, "cdn_ns", "k8s-vim", config)
    kdu_namespaces = {v["kdur"][0]["k8s-namespace"] for v in vnf_records(osm, ns_id).values()}
    assert kdu_namespaces == {namespace} == {"cdn"}
    osm["nbi"].ns_delete(name, force=True)


def test_a_timed_out_wait_keeps_the_ns_and_its_networks_until_ns_delete(osm, controller, capsys):
    name = unique("vod")
    # no LCM runs behind this NBI: the instantiation stays PROCESSING and the wait times out
    assert main(["ns-create", "--ns_name", name, "--nsd_name", "cdn_ns", "--vim_account", "k8s-vim", "--wait",
                 "--timeout", "1", *osm_args(osm, controller)]) == 1
    err = capsys.readouterr().err
    assert "still PROCESSING after 1s" in err and "and its networks are kept" in err
    record = ns_record(osm, name)
    ops = osm["nbi"]._json("GET", "/nslcm/v1/ns_lcm_op_occs", params={"nsInstanceId": record["_id"]})
    assert [(o["lcmOperationType"], o["operationState"]) for o in ops] == [("instantiate", "PROCESSING")]
    assert set(controller_networks(controller)) == {f"{name}-cache-vl", f"{name}-content-vl"}

    # NBI answers 204 to deleting an NS that LCM never started, yet keeps it: said so, networks kept
    assert main(["ns-delete", "--ns_name", name, *osm_args(osm, controller)]) == 1
    assert "OSM kept NS instance" in capsys.readouterr().err
    assert set(controller_networks(controller)) == {f"{name}-cache-vl", f"{name}-content-vl"}

    assert main(["ns-delete", name, "--force", *osm_args(osm, controller)]) == 0
    assert [n for n in osm["nbi"].list_ns() if n["name"] == name] == []
    assert controller_networks(controller) == {}
