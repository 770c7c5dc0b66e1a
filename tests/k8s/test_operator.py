"""The L2S-M compatible operator: pure wiring logic first, then the handlers against a real API server."""
from __future__ import annotations

import json

import pytest

from osm_l2sm.errors import L2smError
from osm_l2sm.k8s import ipam
from osm_l2sm.k8s.annotations import NetworkRequest, parse_networks_annotation
from osm_l2sm.k8s.nad import nad_body
from osm_l2sm.k8s.wiring import NetworkInfo, WiringError, addresses_held_by_pods, multus_entries, wire_pod


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


def test_nad_points_multus_at_the_l2sm_cni_plugin():
    body = nad_body("ping-network", "ns1")
    assert body["metadata"] == {"name": "ping-network", "namespace": "ns1",
                                "labels": {"app.kubernetes.io/managed-by": "l2sm"}}
    assert json.loads(body["spec"]["config"]) == {"cniVersion": "1.0.0", "type": "l2sm-cni",
                                                  "network": "ping-network"}
