"""An impostor switch (a raw OpenFlow client claiming node1's dpid) is refused, and node1 keeps its connection,
its flows and its traffic: the OpenFlow channel is TLS with certificates that bind each dpid to its node."""
from __future__ import annotations

import os
import stat

import pytest

from osm_l2sm.sandbox.layout import BRIDGE, OF_PORT, underlay_addresses
from tests.openflow_impostor import Impostor
from tests.polling import wait_for

from .conftest import ping


@pytest.fixture(scope="module")
def pods(sandbox):
    sandbox.create_network("green", cidr="10.30.0.0/24")
    sandbox.run_pod("g1", "node1", [("green", "10.30.0.1/24")])
    sandbox.run_pod("g2", "node2", [("green", "10.30.0.2/24")])
    assert ping(sandbox, "g1", "10.30.0.2")
    return sandbox


def controller_drops(sb, node: str) -> int:
    """How often the node's OVS lost its controller connection, as its own log says."""
    with open(os.path.join(sb.layout.node_dir(node), "ovs-vswitchd.log"), encoding="utf-8") as log:
        return sum(1 for line in log if "rconn" in line and ("closed" in line or "dropped" in line
                                                              or "disconnected" in line))


def node1_still_serves(sb, new_pod: str, address: str, drops_before: int) -> None:
    switches = {s["name"]: s for s in sb.controller_client().list_switches()}
    assert switches["node1"]["connected"], "the controller lost node1"
    wait_for(lambda: sb.node_ovs("node1").vsctl("get", "controller", BRIDGE, "is_connected").strip() == "true",
             "node1's OVS reporting its controller connection")  # OVS updates that column lazily
    assert controller_drops(sb, "node1") == drops_before, "node1's connection was disturbed"
    assert ping(sb, "g1", "10.30.0.2")
    sb.run_pod(new_pod, "node1", [("green", address)])  # flows pushed now must still reach node1
    try:
        assert ping(sb, new_pod, "10.30.0.2")
    finally:
        sb.delete_pod(new_pod)


def _gateway(sb) -> str:
    return underlay_addresses(sb.status()["underlay"], 0)[0]


@pytest.mark.parametrize("certificate, pod, address, refused", [
    (None, "n1a", "10.30.0.11/24", "a plain-TCP switch was accepted"),
    ("node2", "n1b", "10.30.0.12/24", "node2's certificate was accepted for node1's dpid"),
    ("node1", "n1c", "10.30.0.13/24", "a second connection for a live dpid was kept"),
], ids=["plain-tcp", "another-nodes-certificate", "second-connection-with-node1s-own"])
def test_an_impostor_claiming_node1_is_refused_and_node1_keeps_serving(pods, certificate, pod, address, refused):
    drops = controller_drops(pods, "node1")
    tls = pods.layout.tls_files(certificate) if certificate else None
    impostor = Impostor(_gateway(pods), OF_PORT, _dpid("node1"), tls=tls)
    try:
        assert not impostor.handshake_and_hold(), refused
        if certificate is None:
            assert not impostor.features_requested
    finally:
        impostor.close()
    node1_still_serves(pods, pod, address, drops)


def test_keys_are_private_to_root(pods):
    pki = pods.layout.pki_dir
    assert stat.S_IMODE(os.stat(pki).st_mode) == 0o700
    keys = [f for f in os.listdir(pki) if f.endswith(".key")]
    assert {"ca.key", "controller.key", "node1.key", "node2.key"} <= set(keys)
    for key in keys:
        assert stat.S_IMODE(os.stat(os.path.join(pki, key)).st_mode) == 0o600, key


def _dpid(node: str) -> str:
    from osm_l2sm.protocol import dpid_for
    return dpid_for(node)
