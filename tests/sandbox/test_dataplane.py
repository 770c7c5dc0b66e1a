"""The sandbox's data plane as a user sees it: reachability, isolation, attach/detach, controller failures."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from osm_l2sm.errors import L2smError
from osm_l2sm.sandbox import PodSpec, netns

from .conftest import neighbour_resolved, ping


@pytest.fixture(scope="module")
def nets(sandbox):
    sandbox.create_network("blue", cidr="10.10.0.0/24")
    sandbox.create_network("red", cidr="10.10.0.0/24")
    # blue: a (node1) and b (node2); red, same subnet: c (node2) and d (node1)
    sandbox.run_pod("a", "node1", [("blue", "10.10.0.1/24")])
    sandbox.run_pod("b", "node2", [("blue", "10.10.0.2/24")])
    sandbox.run_pod("c", "node2", [("red", "10.10.0.3/24")])
    sandbox.run_pod("d", "node1", [("red", "10.10.0.4/24")])
    return sandbox


def web_server(pod: str, address: str, tmp_path) -> tuple[bytes, list[str]]:
    """A 2 MB file of random bytes and the nginx command line that serves it on ``address``:8080."""
    root = tmp_path / f"www-{pod}"
    root.mkdir()
    body = os.urandom(2 * 1024 * 1024)
    (root / "blob").write_bytes(body)
    conf = tmp_path / f"nginx-{pod}.conf"
    temp = tmp_path / f"nginx-{pod}-tmp"
    temp.mkdir()
    conf.write_text(f"""daemon off; user root; pid {tmp_path}/nginx-{pod}.pid; error_log {tmp_path}/nginx-{pod}.err;
events {{}}
http {{ access_log off; client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
  uwsgi_temp_path {temp}; scgi_temp_path {temp};
  server {{ listen {address}:8080; root {root}; }} }}
""")
    return body, ["nginx", "-c", str(conf), "-p", str(tmp_path)]


def fetch(sb, pod: str, url: str) -> bytes:
    # --retry-connrefused: nginx may not listen yet right after the pod started
    curl = ["curl", "-sf", "--retry", "30", "--retry-connrefused", "--retry-delay", "1", "--max-time", "30", url]
    proc = subprocess.run(netns.argv(sb.layout.pod_netns(pod), curl), capture_output=True)
    assert proc.returncode == 0, f"curl {url} from {pod} failed: {proc.stderr.decode()}"
    return proc.stdout


def test_same_network_across_nodes_carries_ping_and_http(nets, tmp_path):
    assert ping(nets, "a", "10.10.0.2")
    body, nginx = web_server("web", "10.10.0.5", tmp_path)
    nets.run_pod("web", "node2", [("blue", "10.10.0.5/24")], nginx)
    try:
        got = fetch(nets, "a", "http://10.10.0.5:8080/blob")
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    finally:
        nets.delete_pod("web")


def test_same_subnet_networks_are_isolated_both_ways(nets):
    assert ping(nets, "c", "10.10.0.4"), "red itself must work across nodes"
    assert not ping(nets, "a", "10.10.0.3")
    assert not ping(nets, "a", "10.10.0.4")
    assert not ping(nets, "c", "10.10.0.1")
    assert not ping(nets, "d", "10.10.0.2")
    # ARP never crossed: the neighbours stay unresolved
    assert not neighbour_resolved(nets, "a", "10.10.0.3")
    assert not neighbour_resolved(nets, "c", "10.10.0.1")
    assert neighbour_resolved(nets, "c", "10.10.0.4")


def test_a_network_past_4094_crosses_nodes_and_not_into_the_network_with_its_low_tag(nets):
    """Network 4094 + blue's id is keyed by blue's C-tag under another S-tag: real OVS keeps them apart."""
    client = nets.controller_client()
    blue = client.get_network("blue")["id"]
    far = client.create_network("far", cidr="10.10.0.0/24", network_id=blue + 4094)
    assert far["id"] == blue + 4094 > 4094
    try:
        nets.run_pod("e", "node1", [("far", "10.10.0.11/24")])
        nets.run_pod("f", "node2", [("far", "10.10.0.12/24")])
        assert ping(nets, "e", "10.10.0.12", count=3)
        assert not ping(nets, "e", "10.10.0.2")  # b, on blue on node2
        assert not neighbour_resolved(nets, "e", "10.10.0.2")
        assert not neighbour_resolved(nets, "a", "10.10.0.12")
    finally:
        for pod in ("e", "f"):
            if nets.pod(pod):
                nets.delete_pod(pod)
        client.delete_network("far")


def test_detach_stops_traffic_and_reattach_restores_it(nets):
    nets.run_pod("e", "node1", [("blue", "10.10.0.6/24")])
    try:
        assert ping(nets, "e", "10.10.0.2")
        nets.detach("e", "blue")
        assert not ping(nets, "e", "10.10.0.2")
        assert "net1" not in nets.exec_pod("e", ["ip", "-o", "link"]).stdout
        ifname = nets.attach("e", "blue", "10.10.0.6/24")
        assert ifname == "net1"
        assert ping(nets, "e", "10.10.0.2")
        assert ping(nets, "b", "10.10.0.6")
    finally:
        nets.delete_pod("e")


def test_attach_adds_numbered_interfaces(nets):
    nets.run_pod("f", "node2", [("blue", "10.10.0.7/24")])
    try:
        # red is 10.10.0.0/24 too: the controller refuses an address outside it, and one inside would give f two
        # routes to that subnet, so the second interface is L2 only
        assert nets.attach("f", "red") == "net2"
        links = nets.exec_pod("f", ["ip", "-o", "link"]).stdout
        assert "net1" in links and "net2" in links
        assert ping(nets, "f", "10.10.0.1")
    finally:
        nets.delete_pod("f")


def test_controller_killed_traffic_flows_and_restart_keeps_state(nets):
    pid = nets.status()["controller"]["pid"]
    pinger = subprocess.Popen(netns.argv(nets.layout.pod_netns("a"),
                                         ["ping", "-c", "30", "-i", "0.1", "-W", "2", "10.10.0.2"]),
                              stdout=subprocess.PIPE, text=True)
    try:
        os.kill(pid, signal.SIGKILL)
        out, _ = pinger.communicate(timeout=60)
    finally:
        if pinger.poll() is None:
            pinger.kill()
    replied = {int(n) for n in re.findall(r"icmp_seq=(\d+)", out)}
    assert 30 in replied, "the last pings (sent after the kill) got no reply"
    assert nets.status()["controller"]["alive"] is False
    assert ping(nets, "b", "10.10.0.1")
    assert not ping(nets, "a", "10.10.0.3"), "isolation holds without the controller"

    nets.restart_controller()
    networks = {n["name"]: n for n in nets.networks()}
    assert set(networks) >= {"blue", "red"}
    assert len(networks["blue"]["ports"]) == 2 and len(networks["red"]["ports"]) == 2
    nets.run_pod("g", "node2", [("red", "10.10.0.8/24")])
    try:
        assert ping(nets, "g", "10.10.0.4")
        assert not ping(nets, "g", "10.10.0.1")
        assert ping(nets, "a", "10.10.0.2")
    finally:
        nets.delete_pod("g")


def test_pod_program_runs_inside_with_its_output_logged(nets):
    nets.run_pod("h", "node1", [("blue", "10.10.0.9/24")], ["sh", "-c", "ip -o addr show net1; sleep 600"])
    try:
        info = next(p for p in nets.pods() if p["name"] == "h")
        assert info["running"] and info["networks"] == [
            {"network": "blue", "interface": "net1", "address": "10.10.0.9/24"}]
        for _ in range(100):  # the program may not have written yet
            if "10.10.0.9/24" in nets.pod_log("h"):
                break
            time.sleep(0.05)
        assert "10.10.0.9/24" in nets.pod_log("h")
    finally:
        nets.delete_pod("h")
    assert "h" not in [p["name"] for p in nets.pods()]
    assert not netns.exists(nets.layout.pod_netns("h"))


def test_a_program_slow_to_enter_its_pod_is_running_once_started(nets, tmp_path):
    """On a loaded machine `ip netns exec` enters the pod's namespace a while after it started; a pod whose
    program has not entered yet is starting, not dead. A slow `ip` (first on the program's PATH) makes that while
    long: the pod must show running as soon as run_pod returns, and delete_pod must still stop its program."""
    slow_ip = tmp_path / "bin" / "ip"
    slow_ip.parent.mkdir()
    slow_ip.write_text(f"#!/bin/sh\nsleep 2\nexec {shutil.which('ip')} \"$@\"\n")
    slow_ip.chmod(0o755)
    info = nets.run_pod("slow", "node1", [], ["sleep", "600"],
                        env={"PATH": f"{slow_ip.parent}{os.pathsep}{os.environ['PATH']}"})
    try:
        assert info["running"], "the pod's program counts as dead before it entered the namespace"
        assert nets.pod("slow")["running"]
        assert netns.holds(nets.layout.pod_netns("slow"), info["pid"])
    finally:
        nets.delete_pod("slow")
    try:  # gone, or a zombie its parent (this process) has not reaped yet
        state = open(f"/proc/{info['pid']}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z"), "delete_pod left the program running"


def test_sandbox_target_is_an_idempotent_network_target(nets):
    from osm_l2sm.model import Network, NetworkTarget
    from osm_l2sm.sandbox import SandboxTarget

    target = SandboxTarget(nets)
    assert isinstance(target, NetworkTarget)
    assert target.ensure_network(Network("green", cidr="10.60.0.0/24")) is True
    assert target.ensure_network(Network("green", cidr="10.60.0.0/24")) is False
    assert "green" in target.list_networks()
    nets.run_pod("i", "node2", [("green", "10.60.0.2/24")])
    assert target.delete_network("green") is True
    assert target.delete_network("green") is False
    assert next(p for p in nets.pods() if p["name"] == "i")["networks"] == [], "its pods were detached"
    nets.delete_pod("i")


def test_pods_made_together_reach_each_other_and_a_failure_leaves_none_of_them(nets):
    namespaces = netns.names_with_prefix(nets.layout.prefix)
    ports = sorted(p["interface"] for p in nets.controller_client().list_ports())
    made = nets.run_pods([PodSpec("g", "node1", [("blue", "10.10.0.8/24")]),
                          PodSpec("h", "node2", [("blue", "10.10.0.9/24")], ["sleep", "60"])])
    try:
        assert [p["name"] for p in made] == ["g", "h"] and made[1]["running"]
        assert ping(nets, "g", "10.10.0.9")
    finally:
        nets.delete_pods(["g", "h"])
    assert not {"g", "h"} & {p["name"] for p in nets.pods()}
    assert netns.names_with_prefix(nets.layout.prefix) == namespaces
    assert sorted(p["interface"] for p in nets.controller_client().list_ports()) == ports
    with pytest.raises(L2smError, match="10.99.0.1"):  # outside blue's CIDR: the controller refuses j's address
        nets.run_pods([PodSpec("i", "node1", [("blue", "10.10.0.10/24")], ["sleep", "60"]),
                       PodSpec("j", "node2", [("blue", "10.99.0.1/24")])])
    assert not {"i", "j"} & {p["name"] for p in nets.pods()}
    assert netns.names_with_prefix(nets.layout.prefix) == namespaces
    assert sorted(p["interface"] for p in nets.controller_client().list_ports()) == ports
