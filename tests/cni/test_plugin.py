"""l2sm-cni run exactly as a runtime runs it, inside a sandbox node, against its daemon, OVS and the controller."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from osm_l2sm.cni.link import host_ifname
from osm_l2sm.cni.timing import parse_line
from osm_l2sm.sandbox import netns
from osm_l2sm.sandbox.layout import BRIDGE
from osm_l2sm.switch import port_names
from tests.cni.conftest import cni, config, leftovers
from tests.polling import wait_for

VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def test_add_check_del_round_trip(sb, pod_ns):
    before = leftovers(sb)
    status, result = cni(sb, "ADD", config(address="10.30.0.1/24"), pod_ns)
    assert status == 0, result
    assert result["cniVersion"] == "1.0.0"
    host, pod = result["interfaces"]
    assert pod == {"name": "net1", "mac": pod["mac"], "sandbox": netns.path(pod_ns)}
    assert result["ips"] == [{"address": "10.30.0.1/24", "interface": 1}]
    assert "10.30.0.1/24" in netns.run(pod_ns, ["ip", "-o", "addr", "show", "net1"]).stdout
    assert "mtu 1442" in netns.run(pod_ns, ["ip", "link", "show", "net1"]).stdout
    assert "tx-checksumming: off" in netns.run(pod_ns, ["ethtool", "-k", "net1"]).stdout
    ports = [p for p in sb.controller_client().list_ports() if p["interface"] == host["name"]]
    assert ports and ports[0]["network"] == "blue" and ports[0]["mac"].lower() == pod["mac"].lower()
    assert host["name"] in port_names(sb.node_ovs("node1"), BRIDGE)

    assert cni(sb, "CHECK", config(prevResult=result), pod_ns)[0] == 0
    status, error = cni(sb, "CHECK", config(), pod_ns)
    assert status == 1 and error["code"] == 7 and "prevResult" in error["msg"]
    netns.run(pod_ns, ["ip", "addr", "del", "10.30.0.1/24", "dev", "net1"], check=True)
    status, error = cni(sb, "CHECK", config(prevResult=result), pod_ns)
    assert status == 1 and "10.30.0.1/24" in error["msg"]

    assert cni(sb, "DEL", config(), pod_ns) == (0, {})
    assert leftovers(sb) == before
    assert cni(sb, "DEL", config(), pod_ns) == (0, {}), "DEL twice must succeed"
    assert cni(sb, "DEL", config(), None) == (0, {}), "DEL without netns must succeed"


def test_routes_of_cni_args_go_into_the_pod_and_the_result(sb, pod_ns):
    # what Multus hands on from a network selection element's "cni-args": the planned routes of an OSM KDU
    routes = [{"dst": "10.30.9.0/24", "gw": "10.30.0.254"}]
    before = leftovers(sb)
    status, result = cni(sb, "ADD", config(address="10.30.0.1/24", args={"cni": {"routes": routes}}), pod_ns)
    assert status == 0, result
    assert result["routes"] == routes
    shown = netns.run(pod_ns, ["ip", "-4", "route", "show", "10.30.9.0/24"]).stdout
    assert "via 10.30.0.254 dev net1" in shown, shown
    assert cni(sb, "DEL", config(), pod_ns) == (0, {})
    assert leftovers(sb) == before


def test_the_daemon_logs_where_each_add_spent_its_time(sb, pod_ns):
    # bench/dataplane reads these lines to show the steps of an attach
    status, result = cni(sb, "ADD", config(address="10.30.0.1/24"), pod_ns)
    assert status == 0, result
    host = result["interfaces"][0]["name"]
    log = os.path.join(sb.layout.node_dir("node1"), "cni-daemon.log")

    def logged():
        with open(log, encoding="utf-8") as f:
            return [parsed for parsed in map(parse_line, f) if parsed and parsed[0] == host]

    _, steps, parts = wait_for(logged, f"the steps of the ADD of {host} in {log}", timeout=10)[-1]
    assert list(steps) == ["checks", "veth_netns", "addresses_routes", "ovs_port_controller", "record_announce"]
    assert set(parts) == {"ovs_port", "controller_port"}
    assert all(ms >= 0 for ms in [*steps.values(), *parts.values()])
    assert cni(sb, "DEL", config(), pod_ns) == (0, {})


def test_add_announces_the_address_so_neighbours_forget_an_old_mac(sb, pod_ns):
    # a restarted pod (e.g. the CDN's router) comes back with the same address and a new MAC
    other = sb.layout.pod_netns("garp-peer")
    netns.create(other)
    try:
        assert cni(sb, "ADD", config(address="10.30.0.2/24"), other, container="peer")[0] == 0
        netns.run(other, ["ip", "neigh", "replace", "10.30.0.1", "lladdr", "02:00:00:00:00:99", "nud", "stale",
                          "dev", "net1"], check=True)
        status, result = cni(sb, "ADD", config(address="10.30.0.1/24"), pod_ns)
        assert status == 0, result
        try:
            mac = result["interfaces"][1]["mac"].lower()
            wait_for(lambda: mac in netns.run(other, ["ip", "neigh", "show", "10.30.0.1"]).stdout.lower(),
                     "the peer's neighbour entry to follow the announcement", timeout=10)
        finally:
            assert cni(sb, "DEL", config(), pod_ns) == (0, {})
    finally:
        cni(sb, "DEL", config(), other, container="peer")
        netns.remove(other)


def test_a_route_that_cannot_be_added_fails_the_add_and_leaves_nothing(sb, pod_ns):
    before = leftovers(sb)
    status, error = cni(sb, "ADD", config(address="10.30.0.1/24", args={"cni": {"routes": [
        {"dst": "10.30.9.0/24", "gw": "192.0.2.1"}]}}), pod_ns)  # the gateway is on none of the pod's networks
    assert status == 1 and "10.30.9.0/24" in error["msg"], error
    assert leftovers(sb) == before


BAD = [
    ("bad json", lambda sb: '{"cniVersion": "1.0.0", "name": ', {}, 6),
    ("unknown version", lambda sb: config(version="9.9.9"), {}, 1),
    ("unknown network", lambda sb: config(network="nosuchnet", address="10.30.0.2/24"), {}, 7),
    ("bad ip", lambda sb: config(address="10.30.0.256/24"), {}, 7),
    ("runtimeConfig a list", lambda sb: config(runtimeConfig=[]), {}, 7),
    ("args a string", lambda sb: config(args="x"), {}, 7),
    ("ipam section", lambda sb: config(ipam={"type": "host-local", "subnet": "10.30.0.0/24"}), {}, 7),
    ("missing env", lambda sb: config(address="10.30.0.2/24"), {"drop": ("CNI_NETNS",)}, 4),
    ("netns a regular file", lambda sb: config(), {"netns_path": "/etc/hostname"}, 3),
    ("netns missing", lambda sb: config(), {"netns_path": "/var/run/netns/l2sm-no-such-ns"}, 3),
    ("daemon down", lambda sb: config(), {"socket": "/run/l2sm-no-such-dir/cni.sock"}, 11),
]


@pytest.mark.parametrize("what, make_conf, kwargs, code", BAD, ids=[b[0] for b in BAD])
def test_bad_add_gives_the_spec_error_and_leaves_nothing(sb, pod_ns, what, make_conf, kwargs, code):
    before = leftovers(sb)
    status, error = cni(sb, "ADD", make_conf(sb), pod_ns, **kwargs)
    assert status == 1
    assert error["code"] == code, error
    assert error["msg"] and "Traceback" not in error["msg"] and "Error:" not in error["msg"]
    assert leftovers(sb) == before
    assert "net1" not in netns.run(pod_ns, ["ip", "-o", "link"]).stdout


def test_an_interface_name_taken_in_the_pod_fails_the_add_and_leaves_nothing(sb, pod_ns):
    netns.run(pod_ns, ["ip", "link", "add", "net1", "type", "veth", "peer", "name", "other1"], check=True)
    taken = netns.run(pod_ns, ["ip", "-o", "link", "show", "net1"]).stdout.split("link/ether")[1].split()[0]
    before = leftovers(sb)
    status, error = cni(sb, "ADD", config(address="10.30.0.1/24"), pod_ns)
    assert status == 1 and error["code"] == 5, error  # the spec's I/O failure
    assert "interface net1 already exists in" in error["msg"], error
    assert leftovers(sb) == before
    assert taken in netns.run(pod_ns, ["ip", "-o", "link", "show", "net1"]).stdout  # the pod's own, untouched


BAD_ADDRESSES = [  # (name, address, the controller's message)
    ("outside", "10.31.0.9/24", "address 10.31.0.9/24 is outside network blue (10.30.0.0/24)"),
    ("wider", "10.30.0.9/16", "address 10.30.0.9/16 has a prefix wider than network blue (10.30.0.0/24)"),
    ("network", "10.30.0.0/24", "address 10.30.0.0/24 is the network address of network blue (10.30.0.0/24)"),
    ("broadcast", "10.30.0.255/24", "address 10.30.0.255/24 is the broadcast address of network blue (10.30.0.0/24)"),
    ("duplicate", "10.30.0.50/24", "address 10.30.0.50 is already held by port node1/"),
]


@pytest.mark.parametrize("what, address, message", BAD_ADDRESSES, ids=[b[0] for b in BAD_ADDRESSES])
def test_an_address_the_controller_refuses_is_a_cni_error_with_its_message_and_leaves_nothing(sb, pod_ns, what,
                                                                                               address, message):
    holder = config(address="10.30.0.50/24")
    assert cni(sb, "ADD", holder, pod_ns, ifname="net2", container="holder")[0] == 0
    try:
        before = leftovers(sb)
        status, error = cni(sb, "ADD", config(address=address), pod_ns)
        assert status == 1 and error["code"] == 7, error
        assert error["msg"].startswith("cannot attach to network blue: controller: " + message), error
        assert leftovers(sb) == before
        assert "net1" not in netns.run(pod_ns, ["ip", "-o", "link"]).stdout
    finally:
        cni(sb, "DEL", holder, pod_ns, ifname="net2", container="holder")


def test_an_add_the_controller_refuses_leaves_the_other_networks_port_registered(sb, pod_ns):
    # the controller holds this container's interface on another network (registered by someone else, not by this
    # node's daemon): its 409 means nothing was made, so the undo must not release that port
    client = sb.controller_client()
    client.create_network("undo-red", cidr="10.31.0.0/24")
    host_if = host_ifname("ctr-undo", "net1")
    client.attach_port("undo-red", "node1", host_if, mac="02:00:00:00:0a:01", ips=["10.31.0.1/24"])
    try:
        before = leftovers(sb)
        status, error = cni(sb, "ADD", config(address="10.30.0.9/24"), pod_ns, container="ctr-undo")
        assert status == 1 and error["code"] == 7 and "already attached to network undo-red" in error["msg"], error
        assert [(p["network"], p.get("ips")) for p in client.list_ports() if p["interface"] == host_if] == [
            ("undo-red", ["10.31.0.1/24"])]
        assert leftovers(sb) == before
    finally:
        client.delete_network("undo-red")


def test_a_check_that_follows_a_changed_mac_keeps_the_address_held(sb, pod_ns):
    status, result = cni(sb, "ADD", config(address="10.30.0.60/24"), pod_ns)
    assert status == 0, result
    try:
        new_mac = "02:de:ad:be:ef:60"
        netns.run(pod_ns, ["ip", "link", "set", "net1", "address", new_mac], check=True)
        result["interfaces"][1]["mac"] = new_mac  # as a later plugin of the chain (tuning) reports it
        assert cni(sb, "CHECK", config(prevResult=result), pod_ns)[0] == 0
        (port,) = [p for p in sb.controller_client().list_ports() if p["interface"] == result["interfaces"][0]["name"]]
        assert port["mac"] == new_mac and port["ips"] == ["10.30.0.60/24"]
        status, error = cni(sb, "ADD", config(address="10.30.0.60/24"), pod_ns, ifname="net2", container="ctr2")
        assert status == 1 and "10.30.0.60 is already held by port" in error["msg"]
    finally:
        cni(sb, "DEL", config(), pod_ns)


@pytest.mark.parametrize("second, refusal", [
    # the same interface name from another container of the pod's namespace
    (dict(container="ctr2"), "net1"),
    # a second interface of one container on the same network
    (dict(ifname="net2"), "attached to network blue already (as net1)"),
], ids=["same-ifname", "same-network"])
def test_a_second_add_that_is_refused_leaves_nothing(sb, pod_ns, second, refusal):
    assert cni(sb, "ADD", config(address="10.30.0.5/24"), pod_ns)[0] == 0
    try:
        before = leftovers(sb)
        status, error = cni(sb, "ADD", config(address="10.30.0.6/24"), pod_ns, **second)
        assert status == 1 and refusal in error["msg"], error
        assert leftovers(sb) == before
        if "ifname" in second:
            assert error["code"] == 7, error
            assert second["ifname"] not in netns.run(pod_ns, ["ip", "-o", "link"]).stdout
    finally:
        cni(sb, "DEL", config(), pod_ns)


def test_an_add_port_that_times_out_is_undone(sb, pod_ns):
    """ovs-vswitchd runs but does not answer (stopped): add-port commits the port, then times out waiting."""
    before = leftovers(sb)
    with open(os.path.join(sb.layout.node_dir("node1"), "ovs-vswitchd.pid")) as f:
        vswitchd = int(f.read())
    os.kill(vswitchd, signal.SIGSTOP)
    try:
        status, error = cni(sb, "ADD", config(address="10.30.0.10/24"), pod_ns)
        assert status == 1 and "cannot add" in error["msg"], error
        assert leftovers(sb) == before
    finally:
        os.kill(vswitchd, signal.SIGCONT)
    assert "net1" not in netns.run(pod_ns, ["ip", "-o", "link"]).stdout


def test_version_lists_0_3_0_to_1_1_0(sb):
    status, out = cni(sb, "VERSION", "", None)
    assert status == 0 and out["supportedVersions"] == VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_gets_a_result_of_its_own_format(sb, pod_ns, version):
    status, result = cni(sb, "ADD", config(address="10.30.0.5/24", version=version), pod_ns)
    try:
        assert status == 0, result
        assert result["cniVersion"] == version
        ip = result["ips"][0]
        assert ip["address"] == "10.30.0.5/24"
        assert ("version" in ip) == (version < "1.0.0") and ip.get("version", "4") == "4"
        check = cni(sb, "CHECK", config(version=version, prevResult=result), pod_ns)
        assert check[0] == (1 if version < "0.4.0" else 0), check
        if version < "0.4.0":
            assert check[1]["code"] == 1, "CHECK is not part of CNI before 0.4.0"
    finally:
        assert cni(sb, "DEL", config(version=version), pod_ns) == (0, {})


def test_add_keeps_an_earlier_plugins_result(sb, pod_ns):
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01",
                                                   "sandbox": netns.path(pod_ns)}],
            "ips": [{"address": "192.0.2.2/24", "gateway": "192.0.2.1", "interface": 0}],
            "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["192.0.2.53"]}}
    status, result = cni(sb, "ADD", config(address="10.30.0.6/24", prevResult=prev), pod_ns)
    try:
        assert status == 0, result
        assert result["interfaces"][0] == prev["interfaces"][0] and len(result["interfaces"]) == 3
        assert result["ips"] == prev["ips"] + [{"address": "10.30.0.6/24", "interface": 2}]
        assert result["routes"] == prev["routes"] and result["dns"] == prev["dns"]
    finally:
        cni(sb, "DEL", config(), pod_ns)


def test_status_and_gc_of_cni_1_1(sb, pod_ns):
    assert cni(sb, "STATUS", config(version="1.1.0"), None) == (0, {})
    assert cni(sb, "STATUS", config(version="1.0.0"), None)[1]["code"] == 1
    other = sb.layout.pod_netns("gc-other")
    netns.create(other)
    try:
        before = leftovers(sb)
        assert cni(sb, "ADD", config(version="1.1.0"), pod_ns, container="keep")[0] == 0
        assert cni(sb, "ADD", config(version="1.1.0"), other, container="stale")[0] == 0
        valid = [{"containerID": "keep", "ifname": "net1"}]
        assert cni(sb, "GC", config(version="1.1.0", **{"cni.dev/valid-attachments": valid}), None) == (0, {})
        assert "net1" in netns.run(pod_ns, ["ip", "-o", "link"]).stdout
        assert "net1" not in netns.run(other, ["ip", "-o", "link"]).stdout
        assert cni(sb, "DEL", config(version="1.1.0"), pod_ns, container="keep") == (0, {})
        assert leftovers(sb)[:3] == before[:3]
    finally:
        netns.remove(other)


def test_del_succeeds_without_the_controller_and_the_daemon_releases_the_port_later(sb, pod_ns):
    status, result = cni(sb, "ADD", config(address="10.30.0.7/24"), pod_ns)
    assert status == 0, result
    host_if = result["interfaces"][0]["name"]
    os.kill(sb.status()["controller"]["pid"], 9)
    try:
        assert cni(sb, "DEL", config(), pod_ns) == (0, {})
        assert "net1" not in netns.run(pod_ns, ["ip", "-o", "link"]).stdout
        assert host_if not in port_names(sb.node_ovs("node1"), BRIDGE)
    finally:
        sb.restart_controller()
    # the daemon retries with back-off; the timeout only bounds a hang
    wait_for(lambda: not any(p["interface"] == host_if for p in sb.controller_client().list_ports()),
             f"controller port {host_if} released", timeout=60, interval=0.2)


CATCHER = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def _any(self):
        with open(sys.argv[2], "a") as f:
            f.write(f"{self.command} {self.path} {self.headers.get('Authorization')}\n")
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
        self.wfile.write(b"{}")
    do_GET = do_POST = do_DELETE = do_PUT = _any
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_the_token_goes_to_the_nodes_controller_only(sb, pod_ns, tmp_path):
    """A network configuration naming its own controller cannot make the daemon send the node's token there."""
    node_ns = sb.layout.node_netns("node1")
    caught = tmp_path / "caught.log"
    caught.write_text("")
    socket_path = os.path.join(sb.layout.node_dir("node1"), "token-test.sock")
    with open(sb.layout.token_file, encoding="utf-8") as f:
        token = f.read().strip()  # the sandbox controller's own
    catcher = subprocess.Popen(netns.argv(node_ns, [sys.executable, "-c", CATCHER, "18999", str(caught)]))
    daemon = subprocess.Popen(["nsenter", f"--net={netns.path(node_ns)}", "--", sys.executable, "-m", "osm_l2sm",
                               "switch", "daemon", "--node", "node1", "--run-dir", sb.layout.node_dir("node1"),
                               "--rest", sb.status()["controller"]["url"], "--bridge", BRIDGE,
                               "--socket", socket_path], env={**os.environ, "L2SM_CONTROLLER_TOKEN": token},
                              cwd=tmp_path)
    try:
        while not os.path.exists(socket_path) or netns.run(node_ns, ["curl", "-s", "127.0.0.1:18999/up"]).returncode:
            assert daemon.poll() is None and catcher.poll() is None
            time.sleep(0.1)
        evil = config(address="10.30.0.8/24", controller="http://127.0.0.1:18999", version="1.1.0")
        # a container id of its own: this second daemon shares the node's attachment file, and the node's daemon
        # may still owe the release of an earlier test's port of the same name (ctr1/net1), which it would retry
        container = "ctr-token"
        status, result = cni(sb, "ADD", evil, pod_ns, container=container, socket=socket_path)
        assert status == 0, result
        assert any(p["interface"] == result["interfaces"][0]["name"] for p in sb.controller_client().list_ports())
        checked = cni(sb, "CHECK", {**evil, "prevResult": result}, pod_ns, container=container, socket=socket_path)
        assert checked[0] == 0, checked
        assert cni(sb, "STATUS", evil, None, socket=socket_path) == (0, {})
        assert cni(sb, "DEL", evil, pod_ns, container=container, socket=socket_path) == (0, {})
        assert caught.read_text() == "GET /up None\n", "only our own probe may reach the catcher"
    finally:
        for proc in (daemon, catcher):
            proc.terminate()
            proc.wait()


def test_del_with_ovs_down_still_removes_the_pod_interface_and_asks_to_retry(sb, pod_ns):
    status, result = cni(sb, "ADD", config(address="10.30.0.9/24"), pod_ns)
    assert status == 0, result
    ovs = sb.node_ovs("node1")
    ovs.stop()
    try:
        status, error = cni(sb, "DEL", config(), pod_ns)
        assert status == 1 and error["code"] == 11, error
        assert "net1" not in netns.run(pod_ns, ["ip", "-o", "link"]).stdout
    finally:
        ovs.start()
    assert cni(sb, "DEL", config(), pod_ns) == (0, {})
    assert result["interfaces"][0]["name"] not in port_names(ovs, BRIDGE)
    assert not any(p["interface"] == result["interfaces"][0]["name"] for p in sb.controller_client().list_ports())


def test_an_attachment_whose_host_end_went_without_a_del_is_released_not_announced_again(sb, pod_ns):
    """A pod gone while no daemon answered its DEL (a node that left the cluster and joined again): when the node
    daemon tells the next controller instance its ports, that one is torn down and released, so its address can be
    given to a new pod."""
    status, result = cni(sb, "ADD", config(address="10.30.0.7/24"), pod_ns)
    assert status == 0, result
    host = result["interfaces"][0]["name"]
    netns.run(sb.layout.node_netns("node1"), ["ip", "link", "del", host], check=True)  # both ends go
    sb.restart_controller()  # a new instance: the daemon registers its switch and announces its ports again
    client = sb.controller_client()
    wait_for(lambda: host not in {p["interface"] for p in client.list_ports()}, "the gone pod's port released",
             timeout=60)
    assert host not in port_names(sb.node_ovs("node1"), BRIDGE)
    status, result = cni(sb, "ADD", config(address="10.30.0.7/24"), pod_ns, container="ctr2")
    assert status == 0, result  # the address is free again
    assert cni(sb, "DEL", config(), pod_ns, container="ctr2") == (0, {})
