"""What osm-l2sm sends where osmclient and NBI have rules: config transforms, namespace alignment, flag forms."""
from __future__ import annotations

import json

import pytest
import yaml
from osm_testdata import PACKAGES

from tests.descriptors.cdn_package_copies import PackageCopy

from osm_l2sm.cli import main
from osm_l2sm.errors import L2smError
from osm_l2sm.descriptors import load_package
from osm_l2sm.osm.lifecycle import kdu_namespace, plan_for
from osm_l2sm.osm.nbi import osmclient_config
from osm_l2sm.osm.nsconfig import osmclient_form, user_network_names

IDS = {"k8s-vim": "vim-0001", "edge-vim": "vim-0002", "l2-wim": "wim-0001"}


def test_osmclient_config_turns_account_names_into_ids():
    config = {"vnf": [{"member-vnf-index": "cache", "vim_account": "edge-vim"}],
              "vld": [{"name": "cache-vl", "vim-network-name": {"k8s-vim": "net-a", "edge-vim": "net-b"},
                       "wim_account": "l2-wim"}],
              "wim_account": False}
    body = osmclient_config(config, IDS.__getitem__, IDS.__getitem__)
    assert body == {"vnf": [{"member-vnf-index": "cache", "vimAccountId": "vim-0002"}],
                    "vld": [{"name": "cache-vl", "vim-network-name": {"vim-0001": "net-a", "vim-0002": "net-b"},
                             "wimAccountId": "wim-0001"}],
                    "wimAccountId": False}
    assert config["vnf"][0] == {"member-vnf-index": "cache", "vim_account": "edge-vim"}  # the caller's is untouched


def test_namespace_given_or_default_is_sent_as_k8s_namespace():
    assert kdu_namespace({}, None) == ({"k8s-namespace": "default"}, "default")
    assert kdu_namespace({}, "cdn") == ({"k8s-namespace": "cdn"}, "cdn")
    # a namespace the config names for the whole NS is used for the networks too, and not sent twice
    config = {"additionalParamsForNs": {"k8s-namespace": "video"}}
    assert kdu_namespace(config, None) == (config, "video")
    same_for_a_kdu = {"k8s-namespace": "video", "additionalParamsForVnf": [
        {"member-vnf-index": "cache", "additionalParamsForKdu": [{"kdu_name": "cdn-cache", "k8s-namespace": "video"}]}]}
    assert kdu_namespace(same_for_a_kdu, "video")[1] == "video"


@pytest.mark.parametrize("config, namespace, message", [
    ({"k8s-namespace": "video"}, "cdn", "the config puts the NS's KDUs in namespace 'video' but --namespace is 'cdn'"),
    ({"additionalParamsForVnf": [{"member-vnf-index": "cache", "k8s-namespace": "other"}]}, None,
     "the config puts member-vnf-index cache in namespace 'other', the NS's networks are in 'default'"),
    ({"additionalParamsForVnf": [{"member-vnf-index": "cache", "additionalParamsForKdu": [
        {"kdu_name": "cdn-cache", "k8s-namespace": "other"}]}]}, "cdn",
     "the config puts KDU cdn-cache of member-vnf-index cache in namespace 'other', the NS's networks are in 'cdn'"),
])
def test_kdus_outside_the_networks_namespace_are_refused(config, namespace, message):
    with pytest.raises(L2smError) as err:
        kdu_namespace(config, namespace)
    assert str(err.value).startswith(message)


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": []}))
    return str(path)


def k8scluster_add(kubeconfig, *extra) -> list[str]:
    return ["k8scluster-add", "edge", "--creds", kubeconfig, "--version", "1.29", "--vim", "k8s-vim", "--dry-run",
            *extra]


def test_k8scluster_add_takes_k8s_nets_and_cni_as_yaml(kubeconfig, capsys):
    assert main(k8scluster_add(kubeconfig, "--k8s-nets", "{cache-net: l2net}", "--cni", "[multus]",
                               "--description", "edge of the CDN")) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["nets"], body["cni"], body["description"]) == ({"cache-net": "l2net"}, ["multus"], "edge of the CDN")


def test_k8scluster_add_k8s_nets_override_computed_ones(kubeconfig, capsys):
    assert main(k8scluster_add(kubeconfig, "--package", *PACKAGES, "--k8s-nets", "{content-net: l2net}")) == 0
    assert json.loads(capsys.readouterr().out)["nets"] == {"cache-net": None, "content-net": "l2net"}


def _rename_cache_profile(doc):
    """The CDN NSD with its cache link's virtual-link-profile named ``p-cache`` (not the VL descriptor's id)."""
    df = doc["nsd"]["nsd"][0]["df"][0]
    next(p for p in df["virtual-link-profile"] if p["id"] == "cache-vl")["id"] = "p-cache"
    for profile in df["vnf-profile"]:
        for link in profile["virtual-link-connectivity"]:
            if link["virtual-link-profile-id"] == "cache-vl":
                link["virtual-link-profile-id"] = "p-cache"


def test_k8scluster_add_nets_follow_a_renamed_virtual_link_profile(kubeconfig, capsys, tmp_path):
    copy = PackageCopy(tmp_path)
    copy.edit("cdn_ns", _rename_cache_profile)
    folders = [str(tmp_path / name) for name in ("cdn_ns", "content_server_knf", "router_firewall_knf",
                                                 "cdn_cache_knf")]
    assert main(["plan", *folders, "--ns-name", "vod", "--json"]) == 0
    planned = {n["vld"]: n["name"] for n in json.loads(capsys.readouterr().out)["networks"]}
    assert main(k8scluster_add(kubeconfig, "--package", *folders, "--ns-name", "vod")) == 0
    nets = json.loads(capsys.readouterr().out)["nets"]
    assert nets == {"cache-net": planned["cache-vl"], "content-net": planned["content-vl"]}


@pytest.mark.parametrize("extra, message", [
    ((), "--k8s-nets is required (or --package to compute it from the KNF descriptors)"),
    (("--k8s-nets", "[a, b]"), "--k8s-nets: expected a mapping {k8s_net: vim_net or null, ...}"),
    (("--k8s-nets", "{a: null}", "--cni", "multus"),
     "--cni: expected a list of CNI names such as [multus], got 'multus'"),
    (("--k8s-nets", "{a: [unclosed"), "--k8s-nets: not valid YAML: "),
])
def test_k8scluster_add_bad_flags_are_one_line(kubeconfig, capsys, extra, message):
    assert main(k8scluster_add(kubeconfig, *extra)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"osm-l2sm: error: {message}") and err.count("\n") == 1


def test_ns_delete_takes_the_name_positionally_or_as_option(capsys):
    assert main(["ns-delete", "vod", "--ns_name", "other", "--controller", "http://127.0.0.1:9"]) == 1
    assert "NAME 'vod' and --ns_name 'other' differ: give one" in capsys.readouterr().err
    assert main(["ns-delete", "--controller", "http://127.0.0.1:9"]) == 1
    assert "which NS? give its NAME (or --ns_name)" in capsys.readouterr().err


def test_the_old_top_level_vim_network_name_list_becomes_vld_as_osmclient_does():
    entries = [{"name": "cache-vl", "vim-network-name": "cdn-cache"}]
    config = {"vim-network-name": entries, "vld": [{"name": "content-vl"}], "additionalParamsForNs": {"a": 1}}
    assert osmclient_form(config) == {"vld": entries, "additionalParamsForNs": {"a": 1}}  # osmclient replaces vld
    body = osmclient_config({"vim-network-name": entries}, IDS.__getitem__, IDS.__getitem__)
    assert body == {"vld": entries}
    with pytest.raises(L2smError, match="vld \\(or the old top-level vim-network-name\\) must be a list of mappings"):
        osmclient_form({"vim-network-name": "cdn-cache"})


@pytest.mark.parametrize("vld, message", [
    ({"name": "cache-vl", "vim-network-name": {"k8s-vim": "a", "edge-vim": "b"}}, "names 2 networks (a, b)"),
    ({"name": "cache-vl", "vim-network-name": "Cache_Net"}, "'Cache_Net' is not a network name"),
])
def test_a_vim_network_name_osm_l2sm_cannot_make_is_refused_with_the_field(vld, message):
    with pytest.raises(L2smError) as err:
        user_network_names({"vld": [vld]})
    assert str(err.value).startswith("--config: vld[0] (virtual link 'cache-vl') vim-network-name")
    assert message in str(err.value)


def test_two_virtual_links_on_one_named_network_are_refused():
    config = {"vld": [{"name": "cache-vl", "vim-network-name": "shared"},
                      {"name": "content-vl", "vim-network-name": {"k8s-vim": "shared"}}]}
    with pytest.raises(L2smError, match="'shared' is already the network of virtual link 'cache-vl'"):
        user_network_names(config)


def test_a_named_network_replaces_the_planned_one_in_networks_attachments_and_values():
    packages = [load_package(p) for p in PACKAGES]
    config = {"vld": [{"name": "cache-vl", "vim-network-name": {"k8s-vim": "cdn-cache"}}]}
    plan = plan_for(packages, "vod", config)
    assert {n.vld: n.name for n in plan.networks} == {"cache-vl": "cdn-cache", "content-vl": "vod-content-vl"}
    assert "vod-cache-vl" not in {a.network for a in plan.attachments}
    cache = next(k for k in plan.kdus if k.member_vnf_index == "cache")
    assert [n["name"] for n in cache.values["l2sm"]["networks"]] == ["cdn-cache"]
    assert [n["name"] for n in json.loads(cache.values["podAnnotations"]["l2sm/networks"])] == ["cdn-cache"]
