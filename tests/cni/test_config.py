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
    assert (netconf.network, netconf.mtu) == ("blue", 1450)


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
