"""Parsing of the CNI environment and network configuration (no root needed)."""
from __future__ import annotations

import json

import pytest

from osm_l2sm.cni.config import parse_netconf, read_env
from osm_l2sm.cni.errors import DECODE_FAILURE, INCOMPATIBLE_VERSION, INVALID_CONFIG, INVALID_ENV, CniError
from osm_l2sm.cni.plugin import run

BASE = {"cniVersion": "1.0.0", "name": "blue", "type": "l2sm-cni", "controller": "http://127.0.0.1:1"}
ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "net1",
       "L2SM_NODE_FILE": "/nonexistent"}


def conf(**extra) -> bytes:
    return json.dumps({**BASE, **extra}).encode()


@pytest.mark.parametrize("field, where", [
    ("ips", lambda ips: {"ips": ips}),
    ("runtimeConfig", lambda ips: {"runtimeConfig": {"ips": ips}}),
    ("args", lambda ips: {"args": {"cni": {"ips": ips}}}),
])
def test_ips_come_from_config_runtime_config_or_args(field, where):
    netconf = parse_netconf(conf(**where(["10.0.0.5/24"])), ENV)
    assert [str(ip) for ip in netconf.ips] == ["10.0.0.5/24"]


def test_network_defaults_to_name_and_mtu_to_overlay_size():
    netconf = parse_netconf(conf(), ENV)
    assert netconf.network == "blue"
    assert netconf.mtu == 1450
    assert netconf.bridge == "br-l2sm"


def test_node_defaults_come_from_env_then_node_file(tmp_path):
    node_file = tmp_path / "node.json"
    node_file.write_text(json.dumps({"switch": "n7", "controller": "http://c:8181", "token": "t",
                                     "bridge": "br-x"}))
    raw = {k: v for k, v in BASE.items() if k != "controller"}
    from_file = parse_netconf(json.dumps(raw), {**ENV, "L2SM_NODE_FILE": str(node_file)})
    assert (from_file.switch, from_file.controller, from_file.token, from_file.bridge) == \
        ("n7", "http://c:8181", "t", "br-x")
    from_env = parse_netconf(json.dumps(raw), {**ENV, "L2SM_NODE_FILE": str(node_file),
                                               "L2SM_SWITCH": "n9", "L2SM_CONTROLLER": "http://e:1"})
    assert (from_env.switch, from_env.controller) == ("n9", "http://e:1")


@pytest.mark.parametrize("data, code", [
    (b"{not json", DECODE_FAILURE),
    (json.dumps({**BASE, "cniVersion": "9.9.9"}).encode(), INCOMPATIBLE_VERSION),
    (json.dumps({**BASE, "ips": ["10.0.0.300/24"]}).encode(), INVALID_CONFIG),
    (json.dumps({**BASE, "ips": ["10.0.0.3"]}).encode(), INVALID_CONFIG),
    (json.dumps({**BASE, "mtu": "big"}).encode(), INVALID_CONFIG),
    (json.dumps({k: v for k, v in BASE.items() if k != "name"}).encode(), INVALID_CONFIG),
])
def test_bad_configs_have_the_spec_codes(data, code):
    with pytest.raises(CniError) as err:
        parse_netconf(data, ENV)
    assert err.value.code == code


def test_missing_env_is_code_7():
    with pytest.raises(CniError) as err:
        read_env({"CNI_COMMAND": "ADD", "CNI_IFNAME": "net1"})
    assert err.value.code == INVALID_ENV and "CNI_CONTAINERID" in err.value.msg


def test_version_and_error_output():
    status, out = run(b"", {"CNI_COMMAND": "VERSION"})
    assert status == 0 and "1.0.0" in json.loads(out)["supportedVersions"]
    status, out = run(b"[]", ENV)
    error = json.loads(out)
    assert status == 1 and error["code"] == DECODE_FAILURE and error["msg"] and "cniVersion" in error


def test_unreachable_controller_is_try_again_later(tmp_path):
    status, out = run(conf(ips=["10.0.0.5/24"]), {**ENV, "CNI_NETNS": str(tmp_path)})
    error = json.loads(out)
    assert status == 1 and error["code"] == 11 and "127.0.0.1:1" in error["msg"]
