"""l2sm-cni run exactly as a runtime runs it, inside a sandbox node, against the real controller and OVS."""
from __future__ import annotations

import json
import subprocess

import pytest

from osm_l2sm.sandbox import netns, temporary_sandbox
from osm_l2sm.sandbox.cni_runtime import find_plugin
from osm_l2sm.sandbox.layout import BRIDGE
from osm_l2sm.sandbox.pod import cni_config
from osm_l2sm.switch import port_names


@pytest.fixture(scope="module")
def sb(require_root_ovs):
    with temporary_sandbox(prefix="c", nodes=1) as sandbox:
        sandbox.create_network("blue", cidr="10.30.0.0/24")
        yield sandbox


@pytest.fixture
def pod_ns(sb, request):
    name = sb.layout.pod_netns(request.node.name[-20:].replace("_", "-").strip("-").lower())
    netns.create(name)
    yield name
    netns.remove(name)


def config(sb, network="blue", address=None, **extra) -> dict:
    conf = cni_config(network, sb.status()["controller"]["url"], "node1", sb.layout.node_dir("node1"), address)
    return {**conf, **extra}


def cni(sb, command: str, conf, pod_ns: str | None, ifname="net1", container="ctr1", drop=()):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": command, "CNI_CONTAINERID": container,
           "CNI_NETNS": netns.path(pod_ns) if pod_ns else "", "CNI_IFNAME": ifname, "CNI_PATH": "/opt/cni/bin"}
    for key in drop:
        env.pop(key)
    stdin = conf if isinstance(conf, str) else json.dumps(conf)
    proc = subprocess.run(netns.argv(sb.layout.node_netns("node1"), [find_plugin()]), input=stdin, env=env,
                          capture_output=True, text=True)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def leftovers(sb) -> tuple:
    """What a failed ADD must not change: veths and bridge ports on the node, ports at the controller."""
    veths = netns.run(sb.layout.node_netns("node1"), ["ip", "-o", "link", "show", "type", "veth"]).stdout
    return (len(veths.splitlines()), len(port_names(sb.node_ovs("node1"), BRIDGE)),
            len(sb.controller_client().list_ports()))


def test_add_check_del_round_trip(sb, pod_ns):
    before = leftovers(sb)
    status, result = cni(sb, "ADD", config(sb, address="10.30.0.1/24"), pod_ns)
    assert status == 0, result
    assert result["cniVersion"] == "1.0.0"
    host, pod = result["interfaces"]
    assert pod == {"name": "net1", "mac": pod["mac"], "sandbox": netns.path(pod_ns)}
    assert result["ips"] == [{"address": "10.30.0.1/24", "interface": 1}]
    inside = netns.run(pod_ns, ["ip", "-o", "addr", "show", "net1"]).stdout
    assert "10.30.0.1/24" in inside
    assert "mtu 1450" in netns.run(pod_ns, ["ip", "link", "show", "net1"]).stdout
    offload = netns.run(pod_ns, ["ethtool", "-k", "net1"]).stdout
    assert "tx-checksumming: off" in offload
    ports = [p for p in sb.controller_client().list_ports() if p["interface"] == host["name"]]
    assert ports and ports[0]["network"] == "blue" and ports[0]["mac"].lower() == pod["mac"].lower()
    assert host["name"] in port_names(sb.node_ovs("node1"), BRIDGE)

    assert cni(sb, "CHECK", {**config(sb, address="10.30.0.1/24"), "prevResult": result}, pod_ns)[0] == 0
    status, error = cni(sb, "CHECK", config(sb, address="10.30.0.9/24"), pod_ns)
    assert status == 1 and "10.30.0.9/24" in error["msg"]

    assert cni(sb, "DEL", config(sb), pod_ns) == (0, {})
    assert leftovers(sb) == before
    assert cni(sb, "DEL", config(sb), pod_ns) == (0, {}), "DEL twice must succeed"
    assert cni(sb, "DEL", config(sb), None) == (0, {}), "DEL without netns must succeed"


BAD = [
    ("bad json", lambda sb: '{"cniVersion": "1.0.0", "name": ', (), 6),
    ("unknown network", lambda sb: config(sb, network="nosuchnet", address="10.30.0.2/24"), (), 4),
    ("bad ip", lambda sb: config(sb, address="10.30.0.256/24"), (), 4),
    ("missing env", lambda sb: config(sb, address="10.30.0.2/24"), ("CNI_NETNS",), 7),
    ("missing bridge", lambda sb: config(sb, address="10.30.0.2/24", bridge="br-nope"), (), 999),
]


@pytest.mark.parametrize("what, make_conf, drop, code", BAD, ids=[b[0] for b in BAD])
def test_bad_add_gives_error_json_and_leaves_nothing(sb, pod_ns, what, make_conf, drop, code):
    before = leftovers(sb)
    status, error = cni(sb, "ADD", make_conf(sb), pod_ns, drop=drop)
    assert status == 1
    assert error["code"] == code, error
    assert error["msg"] and error["cniVersion"]
    assert leftovers(sb) == before
    assert "net1" not in netns.run(pod_ns, ["ip", "-o", "link"]).stdout
    assert sb.controller_client().healthz()["status"] == "ok"


def test_second_add_of_same_ifname_fails_cleanly(sb, pod_ns):
    assert cni(sb, "ADD", config(sb, address="10.30.0.3/24"), pod_ns)[0] == 0
    try:
        before = leftovers(sb)
        status, error = cni(sb, "ADD", config(sb, address="10.30.0.4/24"), pod_ns, container="ctr2")
        assert status == 1 and "net1" in error["msg"]
        assert leftovers(sb) == before
    finally:
        cni(sb, "DEL", config(sb), pod_ns)
