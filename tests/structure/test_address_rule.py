"""One rule for the addresses a pod interface may take (osm_l2sm.model.addresses), whoever applies it: the operator's
automatic addresses (k8s.ipam), the inter-domain range split (k8s.multidomain), the planner's address checks
(descriptors) and the controller, which refuses a port with an address the rule forbids. An address the operator
hands out or the planner accepts must be one the controller takes, or the pod's interface fails to attach."""
from __future__ import annotations

import ipaddress

import pytest

from osm_l2sm.controller.addresses import check_ips
from osm_l2sm.descriptors import DescriptorError
from osm_l2sm.descriptors.topology import check_host
from osm_l2sm.errors import L2smError
from osm_l2sm.k8s import ipam
from osm_l2sm.k8s.multidomain import split_range
from osm_l2sm.model.addresses import bare, host_range, is_host

RANGES = ["10.0.0.0/24", "10.0.0.0/30", "10.0.0.0/31", "10.0.0.7/32", "fd00::/126", "fd00::/127", "fd00::5/128"]


def controller_takes(address: str, cidr: str) -> bool:
    try:
        check_ips((address,), "net", cidr, "port", {})
    except L2smError:
        return False
    return True


@pytest.mark.parametrize("cidr", RANGES)
def test_the_operator_hands_out_exactly_the_addresses_the_controller_takes(cidr):
    net = ipaddress.ip_network(cidr)
    taken = [f"{ip}/{net.prefixlen}" for ip in net if controller_takes(f"{ip}/{net.prefixlen}", cidr)]
    assert list(ipam.candidates(cidr, None)) == taken


@pytest.mark.parametrize("cidr, hosts", [
    ("10.0.0.0/30", ["10.0.0.1", "10.0.0.2"]),
    ("10.0.0.0/31", ["10.0.0.0", "10.0.0.1"]),  # point-to-point: both ends are hosts (RFC 3021)
    ("10.0.0.7/32", ["10.0.0.7"]),
    ("fd00::/126", ["fd00::1", "fd00::2", "fd00::3"]),  # IPv6 has no broadcast: the last address is a host's
    ("fd00::/127", ["fd00::", "fd00::1"]),  # RFC 6164
    ("fd00::5/128", ["fd00::5"]),
])
def test_host_addresses_of_small_and_ipv6_ranges(cidr, hosts):
    net = ipaddress.ip_network(cidr)
    assert [str(ip) for ip in net if is_host(ip, net)] == hosts
    assert [str(ip) for ip in host_range(net)] == [hosts[0], hosts[-1]]


def test_a_pod_range_written_first_last_never_yields_the_networks_own_or_broadcast_address():
    assert ipam.allocate("10.0.0.0/24", "10.0.0.0-10.0.0.3", []) == "10.0.0.1/24"
    assert list(ipam.candidates("10.0.0.0/24", "10.0.0.253-10.0.0.255")) == ["10.0.0.253/24", "10.0.0.254/24"]
    for address in ipam.candidates("10.0.0.0/24", "10.0.0.250-10.0.0.255"):
        assert controller_takes(address, "10.0.0.0/24")


def test_an_ipv6_address_in_use_is_not_handed_out_again_however_it_is_written():
    assert ipam.allocate("fd00::/64", None, ["FD00::0001/64"]) == "fd00::2/64"


def test_the_split_of_an_inter_domain_range_covers_the_same_hosts():
    assert split_range("fd00::/126", 1) == ["fd00::1-fd00::3"]
    assert split_range("10.0.0.0/31", 2) == ["10.0.0.0-10.0.0.0", "10.0.0.1-10.0.0.1"]
    assert split_range("10.0.0.0/29", 2, gateway="10.0.0.1") == ["10.0.0.2-10.0.0.4", "10.0.0.5-10.0.0.6"]


@pytest.mark.parametrize("cidr", ["10.0.0.0/24", "10.0.0.0/30", "10.0.0.0/31", "10.0.0.7/32"])
def test_the_planner_accepts_exactly_the_addresses_the_controller_takes(cidr):
    net = ipaddress.ip_network(cidr)
    for ip in net:
        try:
            check_host(ip, net, "nsd.yaml", ["ip-address"])
            planned = True
        except DescriptorError:
            planned = False
        assert planned == controller_takes(f"{ip}/{net.prefixlen}", cidr), ip


@pytest.mark.parametrize("text, address", [
    ("10.0.0.5/24", "10.0.0.5"), ("10.0.0.5", "10.0.0.5"), ("FD00::0009/64", "fd00::9"), ("fd00::9", "fd00::9"),
    ("not-an-address/24", "not-an-address"),
])
def test_bare_address(text, address):
    assert bare(text) == address
