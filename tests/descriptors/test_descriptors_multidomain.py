"""KNFs of one NS placed in different clusters: which virtual link spans which clusters, in the plan and its CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cdn_package_copies import DESCRIPTORS, PACKAGES
from osm_l2sm.descriptors import DescriptorError, parse_cluster_map, plan_ns
from osm_l2sm.errors import L2smError

ALL = [str(DESCRIPTORS / name) for name in PACKAGES]
# The cache at the edge, router and content server in the cloud, as OSM's instantiation config places them.
EDGE_CACHE = {"vnf": [{"member-vnf-index": "cache", "vimAccountId": "vim-edge"}]}
CLUSTERS = {"vim-cloud": "cloud", "vim-edge": "edge"}


def test_a_link_between_clusters_is_inter_domain_and_one_inside_a_cluster_is_not(cdn_packages):
    plan = plan_ns(cdn_packages, "vod", EDGE_CACHE, vim_account="vim-cloud", cluster_of_vim=CLUSTERS)
    spans = {n.vld: n.clusters for n in plan.networks}
    assert spans == {"cache-vl": ("cloud", "edge"), "content-vl": ("cloud",)}


def test_attachments_and_kdus_are_in_their_members_cluster(cdn_packages):
    plan = plan_ns(cdn_packages, "vod", EDGE_CACHE, vim_account="vim-cloud", cluster_of_vim=CLUSTERS)
    assert {a.member_vnf_index: a.cluster for a in plan.attachments} == {
        "cache": "edge", "router": "cloud", "content": "cloud"}
    assert {k.kdu: k.cluster for k in plan.kdus} == {
        "cdn-cache": "edge", "router-firewall": "cloud", "content-server": "cloud"}


def test_osmclient_vim_account_key_and_unmapped_vims_name_their_own_cluster(cdn_packages):
    config = {"vimAccountId": "east",
              "vnf": [{"member-vnf-index": "content", "vim_account": "west"}]}
    plan = plan_ns(cdn_packages, "vod", config)
    assert {n.vld: n.clusters for n in plan.networks} == {"cache-vl": ("east",), "content-vl": ("east", "west")}


def test_without_placement_the_plan_is_single_cluster_as_before(cdn_packages):
    plan = plan_ns(cdn_packages, "vod", {}, vim_account="vim-cloud")
    assert all(n.clusters == () for n in plan.networks)
    assert all(a.cluster is None for a in plan.attachments)


def test_every_member_on_one_mapped_vim_spans_nothing(cdn_packages):
    plan = plan_ns(cdn_packages, "vod", {}, vim_account="vim-cloud", cluster_of_vim=CLUSTERS)
    assert [n.clusters for n in plan.networks] == [("cloud",), ("cloud",)]


def test_placing_an_unknown_member_names_the_config_path(cdn_packages):
    config = {"vnf": [{"member-vnf-index": "nope", "vimAccountId": "vim-edge"}]}
    with pytest.raises(DescriptorError, match=r"vnf\[0\]\.member-vnf-index: unknown member-vnf-index 'nope'"):
        plan_ns(cdn_packages, "vod", config)


def test_cluster_map_parsing():
    assert parse_cluster_map("vim1=c1, vim2=c2") == {"vim1": "c1", "vim2": "c2"}
    assert parse_cluster_map(None) == {}
    with pytest.raises(L2smError, match="expected VIM=CLUSTER"):
        parse_cluster_map("vim1")


def osm_l2sm(*args):
    return subprocess.run([sys.executable, "-m", "osm_l2sm", *map(str, args)], capture_output=True, text=True)


def test_plan_cli_shows_which_link_spans_which_clusters(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(EDGE_CACHE))
    common = ["plan", *ALL, "--ns-name", "vod", "--config", config, "--vim_account", "vim-cloud",
              "--cluster-map", "vim-cloud=cloud,vim-edge=edge"]
    result = osm_l2sm(*common, "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert {n["name"]: n["clusters"] for n in plan["networks"]} == {
        "vod-cache-vl": ["cloud", "edge"], "vod-content-vl": ["cloud"]}
    assert {a["kdu"]: a["cluster"] for a in plan["attachments"]} == {
        "cdn-cache": "edge", "router-firewall": "cloud", "content-server": "cloud"}

    table = osm_l2sm(*common)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines() if line.startswith("vod-")}
    assert rows["vod-cache-vl"][-2:] == ["cloud,edge", "inter-domain"]
    assert rows["vod-content-vl"][-2:] == ["cloud", "cluster"]
