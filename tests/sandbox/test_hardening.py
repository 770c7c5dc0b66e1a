"""The sandbox's safe defaults and repairs: a controller token and root-only state, a dead ovs-vswitchd seen and
restarted, one network twice on a pod refused, and controller ports released when their interface is gone.

The sandbox's state folder is made by ``up`` under a world-readable parent, as the default /var/lib/osm-l2sm/<name>
is, so its permissions are the sandbox's own doing. Every test leaves no veth, OVS port, controller port or
namespace behind (counted before and after)."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

from osm_l2sm.errors import L2smError
from osm_l2sm.sandbox import Sandbox, netns
from osm_l2sm.sandbox.layout import BRIDGE
from osm_l2sm.switch import port_names
from tests.polling import wait_for
from tests.sandbox.conftest import ping

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture(scope="module")
def sb(require_root_ovs):
    parent = tempfile.mkdtemp(prefix="l2sm-h-")
    os.chmod(parent, 0o755)  # like /var/lib/osm-l2sm: anyone may look inside
    sandbox = Sandbox("h" + secrets.token_hex(2), os.path.join(parent, "state"))
    try:
        sandbox.up(2)
        sandbox.create_network("blue", "10.61.0.0/24")
        yield sandbox
    finally:
        try:
            sandbox.down()
        finally:
            shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def nothing_leaks(sb):
    """What a test must give back: veths and OVS ports on the nodes, controller ports, namespaces."""
    def count():
        veths = sum(len(netns.run(sb.layout.node_netns(n), ["ip", "-o", "link", "show", "type", "veth"])
                        .stdout.splitlines()) for n in ("node1", "node2"))
        ovs_ports = sorted(p for n in ("node1", "node2") for p in port_names(sb.node_ovs(n), BRIDGE))
        return veths, ovs_ports, sb.controller_client().list_ports(), netns.names_with_prefix(sb.layout.prefix)
    before = count()
    yield
    assert count() == before


def cli(sb, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OSM_L2SM_SANDBOX=sb.name, OSM_L2SM_STATE_DIR=sb.layout.state_dir)
    return subprocess.run([sys.executable, "-m", "osm_l2sm", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*NOBODY, *argv], capture_output=True, text=True, timeout=60)


def test_rest_without_the_token_is_refused_to_nobody_and_changes_nothing(sb, nothing_leaks):
    url = sb.status()["controller"]["url"]
    networks = sb.networks()
    for method, path, body in (("POST", "/api/v1/networks", '{"name": "evil"}'),
                               ("DELETE", "/api/v1/networks/blue", ""),
                               ("PUT", "/api/v1/switches/node1", '{"dpid": "00000000000000ff", "tunnels": {}}')):
        done = as_nobody("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "-H",
                         "Content-Type: application/json", "--data", body, url + path)
        assert done.stdout == "401", (method, path, done.stdout, done.stderr)
    assert sb.networks() == networks
    assert [s["dpid"] for s in sb.controller_client().list_switches() if s["name"] == "node1"] != ["00000000000000ff"]


def test_token_and_state_are_root_only_and_nobody_cannot_take_the_lock(sb, nothing_leaks):
    token = sb.layout.token_file
    assert os.stat(token).st_mode & 0o777 == 0o600 and os.stat(token).st_uid == 0
    assert os.stat(sb.layout.state_dir).st_mode & 0o777 == 0o700
    for path in (sb.layout.state_file, os.path.join(sb.layout.state_dir, "lock")):
        assert os.stat(path).st_mode & 0o777 == 0o600, path
    assert as_nobody("cat", token).returncode != 0
    lock = os.path.join(sb.layout.state_dir, "lock")
    holder = subprocess.Popen([*NOBODY, "flock", lock, "sleep", "600"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        # a changing command still runs while nobody tries to hold the lock
        done = cli(sb, "pod", "run", "lk", "--node", "node1", "--network", "blue=10.61.0.40/24")
        assert done.returncode == 0, done.stderr
        assert holder.wait(timeout=30) != 0, "nobody could open the lock"
        assert cli(sb, "pod", "delete", "lk").returncode == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_one_network_twice_on_a_pod_is_refused_and_leaves_nothing(sb, nothing_leaks):
    done = cli(sb, "pod", "run", "x", "--node", "node1", "--network", "blue=10.61.0.1/24",
               "--network", "blue=10.61.0.2/24")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("osm-l2sm: error: ") and "blue" in lines[0] and "twice" in lines[0]
    assert sb.pod("x") is None


def test_pod_delete_while_the_controller_is_down_releases_its_port_when_it_is_back(sb, nothing_leaks):
    sb.run_pod("d", "node1", [("blue", "10.61.0.3/24")])
    os.kill(sb.status()["controller"]["pid"], signal.SIGKILL)
    sb.delete_pod("d")
    assert sb.up() is False  # restarts the controller with its state
    wait_for(lambda: not sb.controller_client().get_network("blue")["ports"], "the deleted pod's port released")


def test_status_is_up_while_the_controller_is_dead_but_not_ok_and_says_why(sb, nothing_leaks):
    """``up`` means brought up and not taken down; ``ok`` means every part works, ``problems`` what does not."""
    assert json.loads(cli(sb, "sandbox", "status", "--json").stdout)["ok"] is True
    url = sb.status()["controller"]["url"]
    os.kill(sb.status()["controller"]["pid"], signal.SIGKILL)
    wait_for(lambda: not sb.status()["controller"]["alive"], "the killed controller seen dead")
    status = json.loads(cli(sb, "sandbox", "status", "--json").stdout)
    assert status["up"] is True and status["ok"] is False
    assert status["problems"] == [f"controller {url} is not running"]
    assert f"degraded: controller {url} is not running" in cli(sb, "sandbox", "status").stdout
    assert sb.up() is False
    status = sb.status()
    assert status["ok"] is True and status["problems"] == []


def test_a_port_whose_interface_went_while_the_controller_was_down_is_released(sb, nothing_leaks):
    """As when a node loses its pods without telling anybody (a crash): nobody owes the controller a release."""
    sb.run_pod("g", "node2", [("blue", "10.61.0.4/24")])
    host_if = sb.controller_client().get_network("blue")["ports"][0]["interface"]
    sb.controller_client().attach_port("blue", "node2", "later0")  # registered ahead of its interface
    try:
        os.kill(sb.status()["controller"]["pid"], signal.SIGKILL)
        sb.node_ovs("node2").vsctl("del-port", BRIDGE, host_if)
        sb.restart_controller()
        assert [p["interface"] for p in sb.controller_client().get_network("blue")["ports"]] == ["later0"]
    finally:
        sb.controller_client().detach_port("node2", "later0")
        sb.delete_pod("g")


def test_a_killed_ovs_vswitchd_is_seen_refused_fast_and_repaired_by_up(sb, nothing_leaks):
    sb.run_pod("a1", "node1", [("blue", "10.61.0.11/24")], ["sleep", "600"])
    sb.run_pod("a2", "node2", [("blue", "10.61.0.12/24")], ["sleep", "600"])
    try:
        assert ping(sb, "a1", "10.61.0.12")
        with open(os.path.join(sb.layout.node_dir("node2"), "ovs-vswitchd.pid")) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        status = json.loads(cli(sb, "sandbox", "status", "--json").stdout)
        assert status["degraded"] == ["node2"]
        assert status["up"] is True and status["ok"] is False
        assert status["problems"] == ["node2: ovs-vswitchd not running"]
        node2 = next(n for n in status["nodes"] if n["name"] == "node2")
        assert node2["state"] == "degraded" and "ovs-vswitchd not running" in node2["problems"]
        assert "degraded: node2" in cli(sb, "sandbox", "status").stdout

        ports = port_names(sb.node_ovs("node2"), BRIDGE)
        with pytest.raises(L2smError, match="ovs-vswitchd of bridge br-l2sm is not running"):
            sb.run_pod("a3", "node2", [("blue", "10.61.0.13/24")])
        assert port_names(sb.node_ovs("node2"), BRIDGE) == ports and sb.pod("a3") is None

        assert "already up" in cli(sb, "sandbox", "up").stdout
        assert sb.status()["degraded"] == [] and sb.status()["ok"] is True
        wait_for(lambda: ping(sb, "a1", "10.61.0.12"), "a ping across the nodes after the repair")
    finally:
        sb.delete_pod("a1")
        sb.delete_pod("a2")


def test_a_shared_folder_is_not_taken_as_state_folder(require_root_ovs, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    (shared / "someone-elses").write_text("")
    sandbox = Sandbox("k" + secrets.token_hex(2), str(shared))
    try:
        with pytest.raises(L2smError, match="open to other users"):
            sandbox.up(1)
        assert os.stat(shared).st_mode & 0o777 == 0o755
        assert sorted(os.listdir(shared)) == ["someone-elses"]
    finally:
        sandbox.down()
