"""The node daemon's reading of a request and its network configuration (no root needed)."""
from __future__ import annotations

import json

import pytest

from osm_l2sm.cni.attachments import Attachments
from osm_l2sm.cni.config import NodeConfig, parse_netconf, parse_request
from osm_l2sm.cni.daemon import answer
from osm_l2sm.cni.errors import DECODE_FAILURE, INVALID_CONFIG, INVALID_ENV, CniError
from osm_l2sm.cni.handler import Handler

BASE = {"cniVersion": "1.0.0", "name": "blue", "type": "l2sm-cni"}


def conf(**extra) -> str:
    return json.dumps({**BASE, **extra})


@pytest.mark.parametrize("where", [
    lambda ips: {"ips": ips},
    lambda ips: {"runtimeConfig": {"ips": ips}},
    lambda ips: {"args": {"cni": {"ips": ips}}},
], ids=["ips", "runtimeConfig", "args.cni"])
def test_ips_come_from_the_capability_args_or_config(where):
    assert [str(ip) for ip in parse_netconf(conf(**where(["10.0.0.5/24"]))).ips] == ["10.0.0.5/24"]


def test_the_ips_capability_wins_over_the_config():
    netconf = parse_netconf(conf(ips=["10.0.0.1/24"], runtimeConfig={"ips": ["10.0.0.2/24"]}))
    assert [str(ip) for ip in netconf.ips] == ["10.0.0.2/24"]


def test_routes_come_from_args_cni_in_the_results_form():
    netconf = parse_netconf(conf(args={"cni": {"routes": [{"dst": "10.0.2.0/24", "gw": "10.0.1.1"},
                                                          {"dst": "10.9.0.0/16"}]}}))
    assert netconf.routes == [{"dst": "10.0.2.0/24", "gw": "10.0.1.1"}, {"dst": "10.9.0.0/16"}]
    assert parse_netconf(conf()).routes == []


def test_network_defaults_to_name_and_mtu_to_overlay_size():
    netconf = parse_netconf(conf())
    assert (netconf.network, netconf.mtu) == ("blue", 1442)


def test_node_owned_fields_of_a_network_configuration_are_ignored():
    # a NetworkAttachmentDefinition cannot pick the controller (and so where the token goes), switch or bridge
    netconf = parse_netconf(conf(controller=12, token=["x"], switch="other", bridge="br-x", ovs_rundir="/x"))
    assert not {"controller", "token", "switch", "bridge", "ovs_rundir"} & set(vars(netconf))


@pytest.mark.parametrize("data, code, field", [
    ("{not json", DECODE_FAILURE, "JSON"),
    (conf(ips=["10.0.0.300/24"]), INVALID_CONFIG, "10.0.0.300/24"),
    (conf(ips=["10.0.0.3"]), INVALID_CONFIG, "IP/PREFIX"),
    (conf(ips="10.0.0.3/24"), INVALID_CONFIG, "ips"),
    (conf(mtu="big"), INVALID_CONFIG, "mtu"),
    (conf(runtimeConfig=[]), INVALID_CONFIG, "runtimeConfig"),
    (conf(args="ips=1"), INVALID_CONFIG, "args"),
    (conf(prevResult=[]), INVALID_CONFIG, "prevResult"),
    (conf(prevResult={"cniVersion": "1.0.0", "interfaces": "eth0"}), INVALID_CONFIG, "prevResult.interfaces"),
    (conf(prevResult={"cniVersion": "1.0.0", "ips": ["10.0.0.2/24"]}), INVALID_CONFIG, "prevResult.ips"),
    (conf(ipam={"type": "host-local"}), INVALID_CONFIG, "ipam"),
    (conf(args={"cni": {"routes": {"dst": "10.0.2.0/24"}}}), INVALID_CONFIG, "args.cni.routes"),
    (conf(args={"cni": {"routes": [{"gw": "10.0.1.1"}]}}), INVALID_CONFIG, "args.cni.routes"),
    (conf(args={"cni": {"routes": [{"dst": "10.0.2.0/33"}]}}), INVALID_CONFIG, "10.0.2.0/33"),
    (conf(args={"cni": {"routes": [{"dst": "10.0.2.0/24", "gw": "10.0.1"}]}}), INVALID_CONFIG, "10.0.1"),
    (json.dumps({"cniVersion": "1.0.0"}), INVALID_CONFIG, "name"),
])
def test_bad_configs_have_the_spec_codes_and_name_the_field(data, code, field):
    with pytest.raises(CniError) as err:
        parse_netconf(data)
    assert err.value.code == code and field in err.value.msg


def test_a_request_needs_a_known_command():
    with pytest.raises(CniError) as err:
        parse_request(b'{"command": "FOO"}')
    assert err.value.code == INVALID_ENV


def test_every_failure_is_the_spec_error_object(tmp_path):
    node = NodeConfig(switch="n1", controller="http://127.0.0.1:1", bridge="br-l2sm", ovs_rundir=str(tmp_path))
    handler = Handler(node, Attachments(str(tmp_path / "attachments.json")))
    reply = answer(handler, b'{"command": "ADD", "config": "[]"}')
    assert reply == {"error": {"code": DECODE_FAILURE, "msg": "network configuration must be a JSON object",
                               "details": ""}}


def test_a_prev_result_reaches_the_add_result_whole_and_ours_follow(tmp_path):
    """An earlier plugin's interfaces, addresses (with fields this daemon does not use), routes and DNS stay as they
    came, in CNI 1.x form (0.x's ``version`` dropped); ours follow, our address on our pod interface."""
    from osm_l2sm.cni.config import Request
    from osm_l2sm.cni.handler import add_result
    from osm_l2sm.cni.link import PodLink

    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": "0a:00:00:00:00:01", "sandbox": "/ns",
                                                   "mtu": 1400}],
            "ips": [{"address": "10.1.0.2/24", "interface": 0, "gateway": "10.1.0.1", "version": "4"}],
            "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1", "table": 5}], "dns": {"nameservers": ["10.1.0.53"]}}
    netconf = parse_netconf(conf(prevResult=prev, runtimeConfig={"ips": ["10.0.0.5/24"]},
                                 args={"cni": {"routes": [{"dst": "10.0.2.0/24", "gw": "10.0.0.1"}]}}))
    req = Request("ADD", "ctr", "/ns", "net1", "")
    result = add_result(netconf, req, PodLink("l2abc", "0a:00:00:00:00:02", "net1", "0a:00:00:00:00:03")).to_json()
    assert result == {
        "cniVersion": "1.0.0",
        "interfaces": [prev["interfaces"][0], {"name": "l2abc", "mac": "0a:00:00:00:00:02"},
                       {"name": "net1", "mac": "0a:00:00:00:00:03", "sandbox": "/ns"}],
        "ips": [{"address": "10.1.0.2/24", "interface": 0, "gateway": "10.1.0.1"},
                {"address": "10.0.0.5/24", "interface": 2}],
        "routes": [prev["routes"][0], {"dst": "10.0.2.0/24", "gw": "10.0.0.1"}],
        "dns": {"nameservers": ["10.1.0.53"]}}


def test_attachment_records_of_an_earlier_version_still_load(tmp_path):
    """A record written without the pod's MAC (an earlier version) loads, and is written back in the same form."""
    path = tmp_path / "attachments.json"
    record = {"name": "blue", "network": "blue", "netns": "/ns", "containerID": "ctr", "ifname": "net1",
              "ips": ["10.0.0.5/24"]}
    path.write_text(json.dumps({"attachments": {"l2abc": record}, "releases": ["l2old"]}))
    attachments = Attachments(str(path))
    (host_if, loaded), = attachments.items()
    assert (host_if, loaded.container_id, loaded.mac, attachments.releases()) == ("l2abc", "ctr", None, ["l2old"])
    attachments.owe_release("l2new")
    assert json.loads(path.read_text()) == {"attachments": {"l2abc": {**record, "mac": None}},
                                            "releases": ["l2old", "l2new"]}
