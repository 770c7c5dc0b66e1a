"""The plan of the CDN packages: networks, attachments, addresses, interfaces, Helm values, config overrides."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from osm_l2sm.descriptors import DescriptorError, plan_ns

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_cdn_plan_has_two_networks_with_the_descriptor_subnets(cdn_packages):
    plan = plan_ns(cdn_packages, "vod")
    assert plan.nsd_id == "cdn_ns"
    assert [(n.name, n.vld, n.cidr, n.gateway) for n in plan.networks] == [
        ("vod-cache-vl", "cache-vl", "10.0.1.0/24", "10.0.1.1"),
        ("vod-content-vl", "content-vl", "10.0.2.0/24", "10.0.2.1"),
    ]


def test_cdn_plan_attaches_every_kdu_with_the_poc_addresses(cdn_packages):
    plan = plan_ns(cdn_packages, "vod")
    assert [(a.member_vnf_index, a.vnfd_id, a.kdu, a.cpd, a.network, a.interface, a.address)
            for a in plan.attachments] == [
        ("cache", "cdn_cache_knf", "cdn-cache", "cache-ext", "vod-cache-vl", "net1", "10.0.1.10/24"),
        ("router", "router_firewall_knf", "router-firewall", "cache-ext", "vod-cache-vl", "net1", "10.0.1.1/24"),
        ("router", "router_firewall_knf", "router-firewall", "content-ext", "vod-content-vl", "net2", "10.0.2.1/24"),
        ("content", "content_server_knf", "content-server", "content-ext", "vod-content-vl", "net1", "10.0.2.10/24"),
    ]


def test_cache_values_carry_label_annotation_networks_and_route_through_the_router(cdn_packages):
    kdus = {k.kdu: k for k in plan_ns(cdn_packages, "vod").kdus}
    assert kdus["cdn-cache"].values == {
        "podLabels": {"l2sm": "true"},
        "podAnnotations": {"l2sm/networks": '[{"name": "vod-cache-vl", "ips": ["10.0.1.10/24"]}]'},
        "l2sm": {
            "networks": [{"name": "vod-cache-vl", "interface": "net1", "ips": ["10.0.1.10/24"], "vld": "cache-vl"}],
            "routes": [{"to": "10.0.2.0/24", "via": "10.0.1.1", "interface": "net1"}],
        },
    }


def test_router_gets_both_networks_in_ext_cpd_order_and_no_routes(cdn_packages):
    router = next(k for k in plan_ns(cdn_packages, "vod").kdus if k.kdu == "router-firewall")
    assert json.loads(router.values["podAnnotations"]["l2sm/networks"]) == [
        {"name": "vod-cache-vl", "ips": ["10.0.1.1/24"]},
        {"name": "vod-content-vl", "ips": ["10.0.2.1/24"]},
    ]
    assert [n["interface"] for n in router.values["l2sm"]["networks"]] == ["net1", "net2"]
    assert router.values["l2sm"]["routes"] == []


def test_content_server_routes_back_to_the_cache_side(cdn_packages):
    content = next(k for k in plan_ns(cdn_packages, "vod").kdus if k.kdu == "content-server")
    assert content.values["l2sm"]["routes"] == [{"to": "10.0.1.0/24", "via": "10.0.2.1", "interface": "net1"}]


def test_each_kdu_chart_is_the_chart_inside_its_package(cdn_packages):
    for kdu in plan_ns(cdn_packages, "vod").kdus:
        chart = yaml.safe_load(open(f"{kdu.chart}/Chart.yaml"))
        assert chart["name"] == kdu.kdu
        assert f"/{kdu.vnfd_id}/helm-chart-v3s/" in kdu.chart


def test_two_ns_instances_get_distinct_networks_and_the_same_name_the_same_plan(cdn_packages):
    first = {n.name for n in plan_ns(cdn_packages, "vod-a").networks}
    second = {n.name for n in plan_ns(cdn_packages, "vod-b").networks}
    assert first.isdisjoint(second)
    assert plan_ns(cdn_packages, "vod-a").to_dict() == plan_ns(cdn_packages, "vod-a").to_dict()


@pytest.mark.parametrize("pair", [("My_NS", "my-ns"), ("x" * 70 + "1", "x" * 70 + "2"), ("a.b", "a-b")])
def test_names_stay_dns_1123_and_distinct_when_sanitised_or_shortened(cdn_packages, pair):
    names = [{n.name for n in plan_ns(cdn_packages, ns).networks} for ns in pair]
    for name in names[0] | names[1]:
        assert len(name) <= 63 and DNS_1123.match(name), name
    assert names[0].isdisjoint(names[1])


CONFIG = {
    "vld": [{"name": "content-vl",
             "ip-profile": {"subnet-address": "192.168.50.0/24", "gateway-address": "192.168.50.1"},
             "vnfd-connection-point-ref": [
                 {"member-vnf-index-ref": "router", "vnfd-connection-point-ref": "content-ext",
                  "ip-address": "192.168.50.1"},
                 {"member-vnf-index-ref": "content", "vnfd-connection-point-ref": "content-ext",
                  "ip-address": "192.168.50.20"}]},
            {"name": "cache-vl",
             "vnfd-connection-point-ref": [{"member-vnf-index-ref": "cache", "vnfd-connection-point-ref": "cache-ext",
                                            "ip-address": "10.0.1.99"}]}],
    "additionalParamsForVnf": [{"member-vnf-index": "cache", "additionalParamsForKdu": [
        {"kdu_name": "cdn-cache", "additionalParams": {
            "origin": {"url": "http://192.168.50.20/video.mp4"},
            "podLabels": {"team": "video"},
            "l2sm": "!!yaml {routes: [{to: 172.16.0.0/16, via: 10.0.1.1, interface: net1}]}"}}]}],
}


def test_config_overrides_subnet_gateway_and_addresses(cdn_packages):
    plan = plan_ns(cdn_packages, "vod", CONFIG)
    content_vl = next(n for n in plan.networks if n.vld == "content-vl")
    assert (content_vl.cidr, content_vl.gateway) == ("192.168.50.0/24", "192.168.50.1")
    addresses = {(a.member_vnf_index, a.cpd): a.address for a in plan.attachments}
    assert addresses == {("cache", "cache-ext"): "10.0.1.99/24", ("router", "cache-ext"): "10.0.1.1/24",
                         ("router", "content-ext"): "192.168.50.1/24", ("content", "content-ext"): "192.168.50.20/24"}
    content = next(k for k in plan.kdus if k.kdu == "content-server")
    assert content.values["l2sm"]["routes"] == [{"to": "10.0.1.0/24", "via": "192.168.50.1", "interface": "net1"}]


def test_user_kdu_params_are_merged_not_clobbered_and_win_on_conflicts(cdn_packages):
    cache = next(k for k in plan_ns(cdn_packages, "vod", CONFIG).kdus if k.kdu == "cdn-cache")
    assert cache.values["origin"] == {"url": "http://192.168.50.20/video.mp4"}
    assert cache.values["podLabels"] == {"l2sm": "true", "team": "video"}
    # the "!!yaml " string OSM uses for nested params is read back, and the user's routes win
    assert cache.values["l2sm"]["routes"] == [{"to": "172.16.0.0/16", "via": "10.0.1.1", "interface": "net1"}]
    assert cache.values["l2sm"]["networks"][0]["ips"] == ["10.0.1.99/24"]
    assert json.loads(cache.values["podAnnotations"]["l2sm/networks"]) == [
        {"name": "vod-cache-vl", "ips": ["10.0.1.99/24"]}]


def test_kdu_model_in_config_replaces_the_chart(cdn_packages):
    config = {"additionalParamsForVnf": [{"member-vnf-index": "router", "additionalParamsForKdu": [
        {"kdu_name": "router-firewall", "kdu_model": "myrepo/router"}]}]}
    router = next(k for k in plan_ns(cdn_packages, "vod", config).kdus if k.kdu == "router-firewall")
    assert router.chart == "myrepo/router"


@pytest.mark.parametrize("config, message", [
    ({"vld": [{"name": "nope"}]}, "--config: vld[0].name: unknown virtual link 'nope'"),
    ({"vld": [{"name": "cache-vl", "vnfd-connection-point-ref": [
        {"member-vnf-index-ref": "cache", "vnfd-connection-point-ref": "cache-ext", "ip-address": "10.0.9.5"}]}]},
     "--config: vld[0].vnfd-connection-point-ref[0].ip-address: address 10.0.9.5 is outside the link's subnet "
     "10.0.1.0/24"),
    ({"vld": [{"name": "cache-vl", "vnfd-connection-point-ref": [
        {"member-vnf-index-ref": "cache", "vnfd-connection-point-ref": "cache-ext", "ip-address": "10.0.1.1"}]}]},
     "--config: vld[0].vnfd-connection-point-ref[0].ip-address: address 10.0.1.1 is already used by "
     "router/cache-ext on 'cache-vl'"),
    ({"vld": [{"name": "cache-vl", "vnfd-connection-point-ref": [
        {"member-vnf-index-ref": "router", "vnfd-connection-point-ref": "content-ext", "ip-address": "10.0.1.7"}]}]},
     "--config: vld[0].vnfd-connection-point-ref[0].vnfd-connection-point-ref: member 'router' has no cpd "
     "'content-ext' on virtual link "
     "'cache-vl'"),
    ({"vld": [{"name": "cache-vl", "ip-profile": {"subnet-address": "10.0.1.0/33"}}]},
     "--config: vld[0].ip-profile.subnet-address: '10.0.1.0/33' is not a subnet address like 10.0.1.0/24"),
    ({"additionalParamsForVnf": [{"member-vnf-index": "9"}]},
     "--config: additionalParamsForVnf[0].member-vnf-index: unknown member-vnf-index '9'"),
    ({"additionalParamsForVnf": [{"member-vnf-index": "cache", "additionalParamsForKdu": [{"kdu_name": "x"}]}]},
     "--config: additionalParamsForVnf[0].additionalParamsForKdu[0].kdu_name: unknown KDU 'x' of member 'cache'"),
])
def test_bad_config_names_the_key(cdn_packages, config, message):
    with pytest.raises(DescriptorError) as err:
        plan_ns(cdn_packages, "vod", config)
    assert str(err.value) == message


def test_plan_needs_exactly_one_nsd(cdn_packages):
    with pytest.raises(DescriptorError, match="expected exactly one NSD package, got 0"):
        plan_ns([p for p in cdn_packages if p.kind == "vnfd"], "vod")


def test_a_link_without_ip_profile_is_l2_only(pkg_copy):
    def drop_content_addressing(doc):
        df = doc["nsd"]["nsd"][0]["df"][0]
        df["virtual-link-profile"].pop(1)
        for profile in df["vnf-profile"]:
            for link in profile["virtual-link-connectivity"]:
                if link["virtual-link-profile-id"] == "content-vl":
                    link["constituent-cpd-id"][0].pop("ip-address")
    pkg_copy.edit("cdn_ns", drop_content_addressing)
    plan = plan_ns(pkg_copy.load(), "vod")
    content_vl = next(n for n in plan.networks if n.vld == "content-vl")
    assert (content_vl.cidr, content_vl.gateway) == (None, None)
    kdus = {k.kdu: k.values for k in plan.kdus}
    assert json.loads(kdus["router-firewall"]["podAnnotations"]["l2sm/networks"]) == [
        {"name": "vod-cache-vl", "ips": ["10.0.1.1/24"]}, {"name": "vod-content-vl"}]
    assert kdus["content-server"]["l2sm"] == {
        "networks": [{"name": "vod-content-vl", "interface": "net1", "ips": [], "vld": "content-vl"}], "routes": []}
    assert kdus["cdn-cache"]["l2sm"]["routes"] == []  # no subnet to route to
