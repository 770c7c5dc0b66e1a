"""What the controller and the switches do beyond what a CNI-made pod shows (tests/sandbox/test_dataplane.py has
those): a pod with the MAC of a pod in another network, a port registered before it exists, stale flows after a
controller crash, the metrics. On a sandbox's two nodes, with ports plugged by hand where the CNI plugin would not."""
from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from osm_l2sm.constants import BRIDGE
from osm_l2sm.sandbox import netns
from tests.hand_ports import HandPort
from tests.polling import wait_for


def pod_mac(sb, pod: str, ifname: str = "net1") -> str:
    return sb.exec_pod(pod, ["cat", f"/sys/class/net/{ifname}/address"]).stdout.strip()


def ping(sb, pod: str, ip: str) -> bool:
    return sb.exec_pod(pod, ["ping", "-c", "1", "-W", "2", ip], timeout=30).returncode == 0


def neigh_state(sb, pod: str, ip: str) -> str:
    return sb.exec_pod(pod, ["ip", "neigh", "show", ip, "dev", "net1"]).stdout.strip()


def flows(sb, node: str) -> str:
    return sb.node_ovs(node).ofctl("dump-flows", BRIDGE)


def attach_by_hand(sb, port: HandPort, network: str) -> None:
    sb.controller_client().attach_port(network, port.node, port.host_if, port.mac)
    wait_for(lambda: port_ofport(sb, port) and f"dl_dst={port.mac}" in flows(sb, port.node),
             f"flows for port {port.name}")


def port_ofport(sb, port: HandPort):
    return next((p["ofport"] for p in sb.controller_client().list_ports() if p["interface"] == port.host_if), None)


@pytest.fixture(scope="module")
def blue(sandbox):
    """blue: pod a on node1 (10.10.0.1) and pod b on node2 (10.10.0.2); red, the same subnet: pod c on node2
    (10.10.0.3)."""
    sandbox.create_network("blue", cidr="10.10.0.0/24")
    sandbox.create_network("red", cidr="10.10.0.0/24")
    sandbox.run_pod("a", "node1", [("blue", "10.10.0.1/24")])
    sandbox.run_pod("b", "node2", [("blue", "10.10.0.2/24")])
    sandbox.run_pod("c", "node2", [("red", "10.10.0.3/24")])
    return sandbox


def test_metrics_count_what_the_controller_holds(blue):
    client = blue.controller_client()
    text = client.metrics()
    assert "l2sm_networks 2.0" in text and "l2sm_ports 3.0" in text and "l2sm_switches_connected 2.0" in text
    topology = client.topology()
    assert {(link["a"], link["b"]) for link in topology["links"]} == {("node1", "node2")}
    assert json.dumps(topology)  # plain JSON


def test_a_port_with_the_ip_and_mac_of_a_pod_in_another_network_stays_isolated(blue):
    d = HandPort(blue, "d", "node1", "10.10.0.1/24", mac=pod_mac(blue, "a"))
    try:
        attach_by_hand(blue, d, "red")
        assert d.mac == pod_mac(blue, "a")
        assert d.ping("10.10.0.3"), "red works across nodes even with addresses and MACs blue uses"
        assert ping(blue, "a", "10.10.0.2"), "blue still works"
        assert not ping(blue, "a", "10.10.0.3"), "blue reaches red"
        assert not ping(blue, "c", "10.10.0.2"), "red reaches blue"
        for pod, ip in (("a", "10.10.0.3"), ("c", "10.10.0.2")):
            entry = neigh_state(blue, pod, ip)
            assert "lladdr" not in entry and ("FAILED" in entry or "INCOMPLETE" in entry), entry
        # d's ARP for 10.10.0.3 was answered by c, not by anyone in blue
        assert pod_mac(blue, "c") in d.neigh_state("10.10.0.3")
    finally:
        blue.controller_client().detach_port("node1", d.host_if)
        d.close()


def test_ports_registered_before_they_exist_work_once_plugged_and_stop_once_unplugged(blue):
    f = HandPort(blue, "f", "node2", "10.10.0.6/24", plug=False)
    try:
        blue.controller_client().attach_port("blue", "node2", f.host_if, f.mac)  # the ofport comes with the port
        f.plug()
        wait_for(lambda: port_ofport(blue, f) and f"dl_dst={f.mac}" in flows(blue, "node2"), "flows for port f")
        assert ping(blue, "a", "10.10.0.6") and f.ping("10.10.0.1")
        f.unplug()
        wait_for(lambda: port_ofport(blue, f) is None, "unplugged port forgotten")
        assert f"dl_dst={f.mac}" not in flows(blue, "node2")
        assert not ping(blue, "a", "10.10.0.6")
    finally:
        blue.controller_client().detach_port("node2", f.host_if)
        f.close()


def test_controller_crash_keeps_a_download_going_and_restart_removes_stale_flows(blue, tmp_path):
    body = os.urandom(4 * 1024 * 1024)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "blob").write_bytes(body)
    (tmp_path / "nginx.conf").write_text(f"""daemon off; user root; pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx.err; events {{}}
http {{ access_log off; client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path}; fastcgi_temp_path {tmp_path};
  uwsgi_temp_path {tmp_path}; scgi_temp_path {tmp_path}; server {{ listen 10.10.0.5:8080; root {tmp_path}/www; }} }}
""")
    blue.run_pod("web", "node2", [("blue", "10.10.0.5/24")], ["nginx", "-c", str(tmp_path / "nginx.conf"),
                                                               "-p", str(tmp_path)])
    try:
        wait_for(lambda: blue.exec_pod("a", ["curl", "-so", "/dev/null", "http://10.10.0.5:8080/"]).returncode == 0,
                 "nginx answering")
        ports = sorted(p["interface"] for p in blue.controller_client().get_network("blue")["ports"])
        transfer = subprocess.Popen(netns.argv(blue.layout.pod_netns("a"), [
            "curl", "-sf", "--limit-rate", "1M", "--max-time", "60", "http://10.10.0.5:8080/blob"]),
            stdout=subprocess.PIPE)
        try:
            os.kill(blue.status()["controller"]["pid"], signal.SIGKILL)  # while the download runs
            got, _ = transfer.communicate(timeout=90)
        finally:
            if transfer.poll() is None:
                transfer.kill()
        assert transfer.returncode == 0 and got == body, "download broke when the controller died"
        assert ping(blue, "a", "10.10.0.2"), "switches keep forwarding without a controller"

        # flows the restarted controller does not want, one per cookie generation
        node1 = blue.node_ovs("node1")
        node1.ofctl("add-flow", BRIDGE, "cookie=0x0,table=1,priority=300,dl_dst=02:de:ad:00:00:00,actions=drop")
        node1.ofctl("add-flow", BRIDGE, "cookie=0x1,table=0,priority=300,in_port=999,actions=drop")
        blue.restart_controller()
        assert sorted(p["interface"] for p in blue.controller_client().get_network("blue")["ports"]) == ports
        wait_for(lambda: "02:de:ad" not in flows(blue, "node1") and "in_port=999" not in flows(blue, "node1"),
                 "stale flows removed after restart")
        assert ping(blue, "a", "10.10.0.2")
    finally:
        blue.delete_pod("web")
    blue.run_pod("e", "node2", [("blue", "10.10.0.7/24")])
    try:
        assert ping(blue, "a", "10.10.0.7") and ping(blue, "e", "10.10.0.2")
    finally:
        blue.delete_pod("e")


def test_up_after_the_controller_and_a_nodes_switch_died_brings_both_back_with_its_tunnels(blue):
    """The node comes back before the controller does (the controller waits for every switch), so the switch
    agent must rebuild it from what it made before, without the controller."""
    client = blue.controller_client()
    before = next(s for s in client.list_switches() if s["name"] == "node2")["tunnels"]
    os.kill(blue.status()["controller"]["pid"], signal.SIGKILL)
    ovs = blue.node_ovs("node2")
    for daemon in ("ovs-vswitchd", "ovsdb-server"):
        with open(os.path.join(ovs.run_dir, f"{daemon}.pid")) as f:
            os.kill(int(f.read()), signal.SIGKILL)
    # SIGKILL takes effect a little later: `up` must see both dead
    wait_for(lambda: (lambda st: not st["controller"]["alive"] and "node2" in st["degraded"])(blue.status()),
             "the controller and node2's switch seen dead")
    assert blue.up() is False
    status = blue.status()
    assert status["up"] and status["degraded"] == []
    assert next(s for s in client.list_switches() if s["name"] == "node2")["tunnels"] == before
    assert set(ovs.vsctl("list-ports", BRIDGE).split()) >= set(before.values())
    wait_for(lambda: ping(blue, "a", "10.10.0.2"), "a reaches b across the revived node")
    assert not ping(blue, "a", "10.10.0.3"), "isolation holds after the revival"
