"""Upstream L2S-M's ping-pong shapes on real pods through Multus: one vnet L2Network with a networkCIDR, pods
labelled ``l2sm: "true"`` asking for it with each form of the ``l2sm/networks`` annotation, all applied at once as
a user applies upstream's manifest."""
from __future__ import annotations

import ipaddress
import json
import time

import pytest

from tests.polling import wait_for
from tests.realpods.conftest import Cluster, ipv4_of, l2network, pod_manifest, workload
from tests.realpods.timings import report_timing

@pytest.fixture(scope="module")
def pingpong(l2sm: Cluster):
    with workload(l2sm,
                  l2network("ping-network", "10.0.0.0/24"),
                  l2network("other-network", "10.0.9.0/24"),
                  pod_manifest("ping", '[{"name": "ping-network", "ips": ["10.0.0.1/24"]}]'),  # JSON list with ips
                  pod_manifest("pong", "ping-network"),                                          # a name
                  pod_manifest("trio", "ping-network, other-network"),                           # a comma list
                  pod_manifest("stray", "no-such-network")):
        if ipv4_of(l2sm, "ping", "net1"):
            report_timing(f"first pod with an L2S-M interface {time.monotonic() - l2sm.started:.0f} s after "
                          "the cluster's start (binaries and images cached)")
        yield l2sm


def test_every_annotation_form_gets_its_interfaces_and_addresses(pingpong: Cluster):
    assert ipv4_of(pingpong, "ping", "net1") == ["10.0.0.1/24"]
    [pong] = ipv4_of(pingpong, "pong", "net1")
    assert ipaddress.ip_interface(pong) in ipaddress.ip_network("10.0.0.0/24") and pong != "10.0.0.1/24"
    [trio1] = ipv4_of(pingpong, "trio", "net1")
    [trio2] = ipv4_of(pingpong, "trio", "net2")
    assert ipaddress.ip_interface(trio1).ip in ipaddress.ip_network("10.0.0.0/24") and trio1 not in ("10.0.0.1/24",
                                                                                                     pong)
    assert ipaddress.ip_interface(trio2).ip in ipaddress.ip_network("10.0.9.0/24")


def test_ping_and_a_tcp_transfer_with_matching_sha256(pingpong: Cluster):
    pong = ipv4_of(pingpong, "pong", "net1")[0].split("/")[0]
    out = pingpong.exec("ping", "ping", "-c", "3", "-W", "2", "-I", "net1", pong).stdout
    assert "3 received" in out, out
    pingpong.exec("ping", "sh", "-c", "head -c 4194304 /dev/urandom > /tmp/blob")
    sent = pingpong.exec("ping", "sha256sum", "/tmp/blob").stdout.split()[0]
    # pong listens, ping sends, pong hashes what it got
    pingpong.exec("pong", "sh", "-c", "rm -f /tmp/got; setsid sh -c 'nc -l 5000 > /tmp/got' < /dev/null > /dev/null "
                                      "2>&1 & sleep 0.5")
    pingpong.exec("ping", "sh", "-c", f"nc -N -w 10 {pong} 5000 < /tmp/blob")
    received = "[ $(stat -c %s /tmp/got) = 4194304 ] && sha256sum /tmp/got"
    got = wait_for(lambda: pingpong.exec("pong", "sh", "-c", received, check=False).stdout.split(),
                   "the transfer on pong", timeout=120)
    assert got[0] == sent


def test_a_pod_naming_a_missing_network_gets_l2sm_error_and_no_interface(pingpong: Cluster):
    error = pingpong.annotations("stray").get("l2sm/error", "")
    assert "no-such-network" in error, error
    assert pingpong.exec("stray", "ip", "link", "show", "net1", check=False).returncode != 0


def test_the_network_status_counts_its_pods(pingpong: Cluster):
    status = wait_for(lambda: (s := (pingpong.get("l2network", "ping-network") or {}).get("status", {}))
                      .get("connectedPodCount") == 3 and s, "connectedPodCount 3", timeout=120)
    assert set(status["assignedIPs"].values()) == {"default/ping", "default/pong", "default/trio"}
    assert status["assignedIPs"]["10.0.0.1"] == "default/ping"


def test_multus_network_status_lists_the_l2sm_interface_with_address_and_mac(pingpong: Cluster):
    for pod, ifname in (("ping", "net1"), ("trio", "net2")):
        entries = json.loads(pingpong.annotations(pod)["k8s.v1.cni.cncf.io/network-status"])
        [entry] = [e for e in entries if e.get("interface") == ifname]
        mac = pingpong.exec(pod, "cat", f"/sys/class/net/{ifname}/address").stdout.strip()
        assert entry["mac"] == mac
        assert [f"{ip}/24" for ip in entry["ips"]] == ipv4_of(pingpong, pod, ifname)
        assert entry["name"].endswith("ping-network" if ifname == "net1" else "other-network")
