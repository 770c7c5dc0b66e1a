"""`sandbox down` removes every namespace, process and link the sandbox made, also from a half-broken sandbox."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from osm_l2sm.sandbox import Sandbox, netns


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def own_links(name: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f" {name}-" in line]


@pytest.fixture
def sandbox(require_root_ovs):
    state = tempfile.mkdtemp(prefix="l2sm-d-")
    sb = Sandbox("d" + os.urandom(2).hex(), state)
    try:
        yield sb
    finally:
        sb.down()
        shutil.rmtree(state, ignore_errors=True)


def started_processes(sb) -> list[int]:
    pids = [sb.status()["controller"]["pid"]]
    for pidfile in glob.glob(os.path.join(sb.layout.state_dir, "nodes", "*", "*.pid")):
        with open(pidfile) as f:
            pids.append(int(f.read()))
    return pids + [p["pid"] for p in sb.pods() if p["pid"]]


def test_down_removes_everything(sandbox):
    sandbox.up(3)
    sandbox.create_network("blue")
    # a program that forks a child which outlives its parent's group
    sandbox.run_pod("a", "node1", [("blue", "10.40.0.1/24")], ["sh", "-c", "setsid sleep 600 & sleep 600"])
    sandbox.run_pod("b", "node3", [("blue", "10.40.0.2/24")], ["sleep", "600"])
    assert sandbox.exec_pod("a", ["ping", "-c1", "-W2", "10.40.0.2"]).returncode == 0
    pids = started_processes(sandbox) + netns.pids(sandbox.layout.pod_netns("a"))
    assert len(pids) >= 1 + 2 * 3 + 2
    assert all(alive(p) for p in pids)

    sandbox.down()
    assert netns.names_with_prefix(sandbox.name + "-") == []
    assert [p for p in pids if alive(p)] == []
    assert own_links(sandbox.name) == []
    assert sandbox.status()["up"] is False
    assert not os.path.exists(sandbox.layout.state_dir), os.listdir(sandbox.layout.state_dir)


def test_down_cleans_a_half_broken_sandbox(sandbox):
    sandbox.up(2)
    sandbox.create_network("blue")
    sandbox.run_pod("a", "node1", [("blue", "10.40.0.1/24")], ["sleep", "600"])
    pids = started_processes(sandbox)
    # break it: controller killed, one node's OVS killed, the pod's namespace removed behind its back
    os.kill(sandbox.status()["controller"]["pid"], signal.SIGKILL)
    with open(os.path.join(sandbox.layout.node_dir("node2"), "ovs-vswitchd.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    netns.remove(sandbox.layout.pod_netns("a"))

    sandbox.down()
    assert netns.names_with_prefix(sandbox.name + "-") == []
    assert [p for p in pids if alive(p)] == []
    assert own_links(sandbox.name) == []


def test_down_stops_the_node_daemons_even_when_the_state_file_is_lost(sandbox):
    sandbox.up(1)
    controller, *pids = started_processes(sandbox)  # pids: OVS and the CNI daemon of node1
    assert len(pids) == 3 and all(alive(p) for p in pids)
    os.remove(sandbox.layout.state_file)
    try:
        sandbox.down()
        assert [p for p in pids if alive(p)] == []
    finally:  # the lost state file was the only record of the controller: stop it here, by its pid
        if alive(controller):
            os.kill(controller, signal.SIGTERM)
