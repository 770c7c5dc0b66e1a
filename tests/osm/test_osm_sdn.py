"""The RO SDN plugin as RO uses it (loaded from its entry point) against a real controller process."""
from __future__ import annotations

import os
import shutil
import tempfile
from importlib.metadata import entry_points

import pytest
from osm_testdata import TOKEN

from osm_l2sm.osm.sdnconn import SdnConnectorBase, SdnConnectorError
from tests.polling import wait_for

DPID = "00000000000000a1"


def cp(endpoint: str, port, dpid: str = DPID, vlan=None) -> dict:
    return {"service_endpoint_id": endpoint,
            "service_endpoint_encapsulation_type": "dot1q" if vlan else None,
            "service_endpoint_encapsulation_info": {"switch_dpid": dpid, "switch_port": port, "vlan": vlan}}


def plugin_class():
    return entry_points(group="osm_rosdn.plugins")["rosdn_l2sm"].load()


@pytest.fixture
def sdn(controller):
    """The connector built the way RO builds it: ``Cls(wim, wim_account, config)`` with the same dict twice."""
    controller.client().register_switch("edge1", DPID, {})
    wim = {"wim_url": controller.url, "user": "osm", "password": "unused", "type": "l2sm"}
    return plugin_class()(wim, wim, {"token": TOKEN})


def networks(controller) -> dict:
    return {n["name"]: sorted(f"{p['switch']}/{p['interface']}" for p in n.get("ports", []))
            for n in controller.client().list_networks()}


def test_entry_point_is_the_connector():
    cls = plugin_class()
    assert cls.__name__ == "L2smSdnConnector" and issubclass(cls, SdnConnectorBase)


def test_credentials(controller, sdn):
    sdn.check_credentials()
    wim = {"wim_url": controller.url}
    with pytest.raises(SdnConnectorError) as err:
        plugin_class()(wim, dict(wim, password="bad")).check_credentials()
    assert err.value.http_code == 401
    token_as_password = plugin_class()(wim, dict(wim, user="osm", password=TOKEN))
    token_as_password.check_credentials()
    with pytest.raises(SdnConnectorError, match="wim_url is missing") as err:
        plugin_class()({}, {})
    assert err.value.http_code == 400


def test_elan_lifecycle_create_status_edit_delete(controller, sdn):
    uuid, info = sdn.create_connectivity_service(
        "ELAN", [cp("a", "p1"), cp("b", "p2"), cp("c", "p3", dpid="00:00:00:00:00:00:00:a1")])
    name = info["network"]
    assert networks(controller) == {name: ["edge1/p1", "edge1/p2", "edge1/p3"]}
    status = sdn.get_connectivity_service_status(uuid, info)
    assert status["sdn_status"] == "BUILD"  # no switch has reported these interfaces yet
    assert sdn.get_all_active_connectivity_services() == [
        {"service_uuid": uuid, "conn_info": {"network": name, "ports": [
            {"switch": "edge1", "interface": f"p{i}"} for i in (1, 2, 3)]}}]

    assert sdn.edit_connectivity_service(uuid, info) is None  # nothing asked, nothing changed
    info = sdn.edit_connectivity_service(uuid, info, [cp("a", "p1"), cp("d", "p4", vlan=100)])
    assert networks(controller) == {name: ["edge1/p1", "edge1/p4.100"]}
    assert [p["interface"] for p in info["ports"]] == ["p1", "p4.100"]

    sdn.delete_connectivity_service(uuid, info)
    assert networks(controller) == {}
    with pytest.raises(SdnConnectorError) as err:  # RO reads 404 as "already deleted"
        sdn.delete_connectivity_service(uuid, info)
    assert err.value.http_code == 404
    assert sdn.get_connectivity_service_status(uuid, info)["sdn_status"] == "ERROR"


def test_failed_attach_leaves_nothing(controller, sdn):
    client = controller.client()
    client.create_network("other", cidr=None)
    client.attach_port("other", "edge1", "busy0")
    with pytest.raises(SdnConnectorError) as err:
        sdn.create_connectivity_service("ELINE", [cp("a", "free0"), cp("b", "busy0")])
    assert err.value.http_code == 409
    assert networks(controller) == {"other": ["edge1/busy0"]}


@pytest.mark.parametrize("service_type, points, message", [
    ("ETREE", [cp("a", "p1")], "service type ETREE not supported"),
    ("ELINE", [cp("a", "p1")], "an ELINE needs 2 distinct connection points, got 1"),
    ("ELAN", [cp("a", "p1", dpid="00000000000000ff")], "no switch with dpid 00000000000000ff"),
    ("ELAN", [cp("a", "7")], "switch edge1 has no OpenFlow port 7"),
    ("ELAN", [{"service_endpoint_id": "x"}], "'x': switch_dpid and switch_port are required"),
])
def test_bad_requests_are_400_and_create_nothing(controller, sdn, service_type, points, message):
    with pytest.raises(SdnConnectorError, match=message) as err:
        sdn.create_connectivity_service(service_type, points)
    assert err.value.http_code == 400
    assert networks(controller) == {}


def test_service_endpoint_mapping_fills_in_switch_and_port(controller):
    controller.client().register_switch("edge1", DPID, {})
    wim = {"wim_url": controller.url}
    mapping = [{"service_endpoint_id": "vm1-eth1", "switch_dpid": DPID, "switch_port": "tap-vm1"}]
    sdn = plugin_class()(wim, wim, {"token": TOKEN, "service_endpoint_mapping": mapping})
    _, info = sdn.create_connectivity_service("ELAN", [{"service_endpoint_id": "vm1-eth1"}])
    assert networks(controller) == {info["network"]: ["edge1/tap-vm1"]}


def test_clear_all_removes_only_its_own_services(controller, sdn):
    controller.client().create_network("user-net")
    sdn.create_connectivity_service("ELAN", [cp("a", "p1")])
    sdn.create_connectivity_service("ELAN", [cp("b", "p2")])
    sdn.clear_all_connectivity_services()
    assert networks(controller) == {"user-net": []}


@pytest.fixture
def real_switch(require_root_ovs, controller):
    """A userspace OVS bridge connected to the controller, registered as edge1, with two internal ports."""
    from osm_l2sm.switch import OvsInstance, ensure_bridge, remove_bridge

    run_dir = tempfile.mkdtemp(prefix="osmsdn")
    tag = f"{os.getpid() % 100000}"
    bridge, ports = f"brs{tag}", [f"sa{tag}", f"sb{tag}"]
    ovs = OvsInstance(run_dir)
    try:
        ovs.start()
        of_port = controller.of_listen.rpartition(":")[2]
        ensure_bridge(ovs, bridge, DPID, f"tcp:127.0.0.1:{of_port}")
        controller.client().register_switch("edge1", DPID, {})
        yield ovs, bridge, ports
    finally:
        try:
            remove_bridge(ovs, bridge)
        finally:
            ovs.stop()
            shutil.rmtree(run_dir, ignore_errors=True)


def test_status_active_once_the_switch_has_the_ports(controller, real_switch):
    ovs, bridge, ports = real_switch
    wim = {"wim_url": controller.url}
    sdn = plugin_class()(wim, wim, {"token": TOKEN})
    uuid, info = sdn.create_connectivity_service("ELINE", [cp("a", ports[0]), cp("b", ports[1])])
    assert sdn.get_connectivity_service_status(uuid, info)["sdn_status"] == "BUILD"
    for port in ports:
        ovs.vsctl("add-port", bridge, port, "--", "set", "interface", port, "type=internal")
    status = wait_for(lambda: (s := sdn.get_connectivity_service_status(uuid, info))["sdn_status"] == "ACTIVE" and s,
                      "the connectivity service ACTIVE", timeout=30, interval=0.2)
    assert all(isinstance(p["ofport"], int) for p in status["sdn_info"]["ports"])
    # a port referred to by its OpenFlow number resolves to the interface the switch reported
    ofport = next(p["ofport"] for p in status["sdn_info"]["ports"] if p["interface"] == ports[0])
    info = sdn.edit_connectivity_service(uuid, info, [cp("a", str(ofport))])
    assert info["ports"] == [{"switch": "edge1", "interface": ports[0]}]
    sdn.delete_connectivity_service(uuid, info)
