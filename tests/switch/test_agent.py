"""`osm-l2sm switch up|down` on real OVS in a node namespace, and the controller's own process life."""
from __future__ import annotations

import ipaddress
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile

import pytest
from pyroute2 import IPRoute, NetNS, netns

from osm_l2sm.protocol import dpid_for
from osm_l2sm.switch import domain_link_name, pair_vni
from osm_l2sm.switch.bridge import tunnel_name
from osm_l2sm.switch.ovs import OvsInstance
from tests.controllers import controller_process
from tests.polling import wait_for
from tests.ports import free_port


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 no interface of the root namespace uses."""
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    while True:
        prefix = f"10.{random.randint(160, 250)}.{random.randint(0, 255)}."
        if f" {prefix}" not in used:
            return ipaddress.IPv4Network(f"{prefix}0/24")


def sh(*cmd: str, ns: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd] if ns else list(cmd), capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def node(require_root_ovs, tmp_path, request):
    """A node namespace whose ul0 (veth to the root namespace) reaches a controller on the root side; parametrized
    with "tls", the controller speaks OpenFlow over TLS with a CA in ``tmp_path/pki``."""
    tls = None
    if getattr(request, "param", None) == "tls":
        from osm_l2sm.controller.tls import ensure_ca, issue
        pki = tmp_path / "pki"
        pki.mkdir()
        ensure_ca(str(pki / "ca.pem"), str(pki / "ca.key"))
        issue(str(pki / "ca.pem"), str(pki / "ca.key"), "controller", str(pki / "c.pem"), str(pki / "c.key"))
        tls = (str(pki / "c.key"), str(pki / "c.pem"), str(pki / "ca.pem"))
    tag = "a" + secrets.token_hex(3)
    subnet = free_subnet()
    gateway, node_ip = str(subnet.network_address + 1), str(subnet.network_address + 2)
    ns, host_if = f"{tag}n", f"{tag}h"
    run_dir = tempfile.mkdtemp(prefix=f"{tag}-")
    controller = controller_process(tmp_path, host=gateway, tls=tls)
    netns.create(ns)
    try:
        with IPRoute() as ipr:
            ipr.link("add", ifname=host_if, kind="veth", peer={"ifname": "ul0", "net_ns_fd": ns})
            idx = ipr.link_lookup(ifname=host_if)[0]
            ipr.addr("add", index=idx, address=gateway, prefixlen=24)
            ipr.link("set", index=idx, state="up")
        with NetNS(ns) as ipr:
            idx = ipr.link_lookup(ifname="ul0")[0]
            ipr.addr("add", index=idx, address=node_ip, prefixlen=24)
            ipr.link("set", index=idx, state="up")
        controller.start()
        yield {"ns": ns, "ip": node_ip, "gateway": gateway, "run_dir": run_dir, "controller": controller,
               "name": f"{tag}-node1"}
    finally:
        controller.stop()
        OvsInstance(run_dir).stop()
        netns.remove(ns)
        subprocess.run(["rm", "-rf", run_dir], check=False)


def osm_l2sm(ns, *args):
    return sh("osm-l2sm", *args, ns=ns)


def test_switch_up_is_idempotent_and_down_removes_everything(node):
    ns, run_dir, name = node["ns"], node["run_dir"], node["name"]
    client = node["controller"].client()
    of_target = f"tcp:{node['gateway']}:{node['controller'].of_listen.rsplit(':', 1)[1]}"
    up = ["switch", "up", "--node", name, "--run-dir", run_dir, "--controller", of_target,
          "--rest", node["controller"].url, "--local-ip", node["ip"], "--underlay-dev", "ul0",
          "--peer", "peer-a=10.255.0.1", "--peer", "a-very-long-peer-name=10.255.0.2"]
    first = osm_l2sm(ns, *up)
    assert first.returncode == 0, first.stderr
    ovs = OvsInstance(run_dir)
    assert ovs.running
    wait_for(lambda: client.list_switches()[0]["connected"], "switch connected")
    assert client.list_switches()[0]["name"] == name
    bridge = ovs.vsctl("--columns=datapath_type,fail_mode,protocols,other_config", "list", "bridge", "br-l2sm")
    assert "netdev" in bridge and "secure" in bridge and "OpenFlow13" in bridge and dpid_for(name) in bridge
    tunnels = {"peer-a": "vx-peer-a", "a-very-long-peer-name": tunnel_name("a-very-long-peer-name")}
    assert len(tunnels["a-very-long-peer-name"]) <= 15
    assert client.list_switches()[0]["tunnels"] == tunnels
    assert sorted(ovs.vsctl("list-ports", "br-l2sm").split()) == sorted(tunnels.values())
    client.register_switch("peer-a", "00000000000000aa", {name: "vx-x"})  # tunnel flows need a known peer
    client.create_network("blue")
    ovs.vsctl("add-port", "br-l2sm", "blue0", "--", "set", "interface", "blue0", "type=internal")
    client.attach_port("blue", name, "blue0")  # a network's flows go only to the switches with its ports
    wait_for(lambda: "dl_vlan=1" in ovs.ofctl("dump-flows", "br-l2sm"), "flows for blue")
    pids = open(os.path.join(run_dir, "ovs-vswitchd.pid")).read()

    again = osm_l2sm(ns, *up)  # idempotent: same daemons, still connected, flows kept
    assert again.returncode == 0, again.stderr
    assert open(os.path.join(run_dir, "ovs-vswitchd.pid")).read() == pids
    log = open(node["controller"].log_file).read()
    assert log.count(f"switch {name} ") == 1 and " connected with " in log, "the switch reconnected"
    assert "dl_vlan=1" in ovs.ofctl("dump-flows", "br-l2sm")

    down = osm_l2sm(ns, "switch", "down", "--node", name, "--run-dir", run_dir, "--rest", node["controller"].url)
    assert down.returncode == 0, down.stderr
    assert [s["name"] for s in client.list_switches()] == ["peer-a"]
    assert not ovs.running
    links = sh("ip", "-o", "link", ns=ns).stdout
    assert "vx-" not in links and "br-l2sm" not in links


def test_switch_up_of_an_edge_makes_and_registers_its_domain_links_and_down_removes_them(node):
    ns, run_dir, name = node["ns"], node["run_dir"], node["name"]
    client = node["controller"].client()
    of_target = f"tcp:{node['gateway']}:{node['controller'].of_listen.rsplit(':', 1)[1]}"
    up = ["switch", "up", "--node", name, "--run-dir", run_dir, "--controller", of_target,
          "--rest", node["controller"].url, "--local-ip", node["ip"], "--underlay-dev", "ul0"]
    half = osm_l2sm(ns, *up, "--domain-peer", "c2=c2-edge@10.255.1.2")
    assert half.returncode == 1
    assert half.stderr.strip().splitlines() == [
        "osm-l2sm: error: domain links need --domain-peer, --domain-ip and --domain-dev together"]
    edge = up + ["--domain-ip", node["ip"], "--domain-dev", "ul0", "--domain-peer", "c2=c2-edge@10.255.1.2",
                 "--domain-peer", "c3=c3-edge@10.255.1.3"]
    first = osm_l2sm(ns, *edge)
    assert first.returncode == 0, first.stderr
    links = {"c2": domain_link_name("c2"), "c3": domain_link_name("c3")}
    assert client.list_switches()[0]["domain_links"] == links
    detail = sh("ip", "-d", "-o", "link", "show", links["c2"], ns=ns).stdout
    assert f"vxlan id {pair_vni(name, 'c2-edge')} remote 10.255.1.2 local {node['ip']}" in detail
    assert sorted(OvsInstance(run_dir).vsctl("list-ports", "br-l2sm").split()) == sorted(links.values())

    again = osm_l2sm(ns, *up)  # up again without them (a restarted node agent) keeps the edge's links
    assert again.returncode == 0, again.stderr
    assert client.list_switches()[0]["domain_links"] == links

    down = osm_l2sm(ns, "switch", "down", "--node", name, "--run-dir", run_dir, "--rest", node["controller"].url)
    assert down.returncode == 0, down.stderr
    assert "vx-" not in sh("ip", "-o", "link", ns=ns).stdout


@pytest.mark.parametrize("node", ["tls"], indirect=True)
def test_switch_with_its_nodes_certificate_connects_over_tls_and_stays_connected_on_up_again(node, tmp_path):
    ns, run_dir, name = node["ns"], node["run_dir"], node["name"]
    client = node["controller"].client()
    pki, certs = tmp_path / "pki", tmp_path / "switch-tls"
    made = osm_l2sm(None, "switch", "cert", "--node", name, "--ca-cert", str(pki / "ca.pem"), "--ca-key",
                    str(pki / "ca.key"), "--out-dir", str(certs))
    assert made.returncode == 0, made.stderr
    assert oct(os.stat(certs / "switch.key").st_mode & 0o777) == "0o600"
    port = node["controller"].of_listen.rsplit(":", 1)[1]
    up = ["switch", "up", "--node", name, "--run-dir", run_dir, "--controller", f"ssl:{node['gateway']}:{port}",
          "--rest", node["controller"].url, "--local-ip", node["ip"], "--underlay-dev", "ul0",
          "--tls-key", str(certs / "switch.key"), "--tls-cert", str(certs / "switch.pem"),
          "--tls-ca", str(certs / "ca.pem")]
    first = osm_l2sm(ns, *up)
    assert first.returncode == 0, first.stderr
    wait_for(lambda: client.list_switches()[0]["connected"], "switch connected over TLS")
    assert str(certs / "switch.pem") in OvsInstance(run_dir).vsctl("get-ssl")
    again = osm_l2sm(ns, *up)  # the same SSL settings: not set again, no reconnection
    assert again.returncode == 0, again.stderr
    assert open(node["controller"].log_file).read().count(f"switch {name} ") == 1, "the switch reconnected"
    no_tls = osm_l2sm(ns, *up[:-6])
    assert no_tls.returncode == 1 and "needs the switch's TLS key" in no_tls.stderr


def test_switch_up_with_an_unknown_underlay_device_is_one_clear_error(node):
    result = osm_l2sm(node["ns"], "switch", "up", "--node", node["name"], "--run-dir", node["run_dir"],
                      "--controller", "tcp:127.0.0.1:1", "--rest", node["controller"].url,
                      "--local-ip", node["ip"], "--underlay-dev", "nope0", "--peer", "p=10.0.0.9")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["osm-l2sm: error: underlay device nope0 not found"]
    # the failed first start took back what it started: no OVS daemons, no tunnel device
    assert not OvsInstance(node["run_dir"]).running
    assert tunnel_name("p") not in sh("ip", "-o", "link", "show", ns=node["ns"]).stdout


def test_switch_up_with_an_unreachable_controller_leaves_no_daemons(node):
    result = osm_l2sm(node["ns"], "switch", "up", "--node", node["name"], "--run-dir", node["run_dir"],
                      "--controller", "tcp:127.0.0.1:1", "--rest", f"http://{node['gateway']}:{free_port()}",
                      "--local-ip", node["ip"], "--underlay-dev", "ul0")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "osm-l2sm: error:" in result.stderr
    assert not OvsInstance(node["run_dir"]).running


def test_controller_exits_cleanly_on_sigterm_and_keeps_its_state(tmp_path):
    proc = controller_process(tmp_path)
    proc.start()
    try:
        proc.client().create_network("blue")
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(timeout=15) == 0
        proc.start()
        assert [n["name"] for n in proc.client().list_networks()] == ["blue"]
    finally:
        proc.stop()


def test_set_peers_adds_and_removes_tunnels_at_the_underlays_mtu_and_registers_them(node):
    """A node joined and one left: the running switch's tunnels follow with nothing restarted; the VXLAN devices
    get the underlay's MTU less the VXLAN overhead (ul0: 1500 -> 1450)."""
    ns, run_dir, name = node["ns"], node["run_dir"], node["name"]
    client = node["controller"].client()
    of_target = f"tcp:{node['gateway']}:{node['controller'].of_listen.rsplit(':', 1)[1]}"
    up = osm_l2sm(ns, "switch", "up", "--node", name, "--run-dir", run_dir, "--controller", of_target,
                  "--rest", node["controller"].url, "--local-ip", node["ip"], "--underlay-dev", "ul0",
                  "--peer", "peer-a=10.255.0.1", "--peer", "peer-b=10.255.0.2")
    assert up.returncode == 0, up.stderr
    ovs = OvsInstance(run_dir)
    pids = open(os.path.join(run_dir, "ovs-vswitchd.pid")).read()
    assert sh("cat", "/sys/class/net/vx-peer-a/mtu", ns=ns).stdout.strip() == "1450"

    # in the node's namespace, as node-attach runs beside the switch
    peers = {"peer-b": "10.255.0.2", "peer-c": "10.255.0.3", name: node["ip"]}
    done = sh(sys.executable, "-c", "import json, sys; from osm_l2sm.switch import set_peers; "
              "print(json.dumps([sorted(s) for s in set_peers(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3])]))",
              run_dir, json.dumps(peers), node["controller"].url, ns=ns)
    assert json.loads(done.stdout) == [["peer-c"], ["peer-a"]], done.stderr
    assert sorted(ovs.vsctl("list-ports", "br-l2sm").split()) == ["vx-peer-b", "vx-peer-c"]
    links = sh("ip", "-o", "-d", "link", ns=ns).stdout
    assert "vx-peer-a" not in links and "remote 10.255.0.3" in links
    assert sh("cat", "/sys/class/net/vx-peer-c/mtu", ns=ns).stdout.strip() == "1450"
    assert client.list_switches()[0]["tunnels"] == {"peer-b": "vx-peer-b", "peer-c": "vx-peer-c"}
    assert open(os.path.join(run_dir, "ovs-vswitchd.pid")).read() == pids  # nothing restarted
    # a switch brought down removes the tunnels set_peers made too
    down = osm_l2sm(ns, "switch", "down", "--node", name, "--run-dir", run_dir, "--rest", node["controller"].url)
    assert down.returncode == 0, down.stderr
    assert "vx-" not in sh("ip", "-o", "link", ns=ns).stdout
