"""The acceptance sequence of the sandbox through the `osm-l2sm` command itself, and its clean removal."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile

import pytest

from osm_l2sm.sandbox import Sandbox, netns
from osm_l2sm.sandbox.layout import BRIDGE
from osm_l2sm.switch import port_names


@pytest.fixture(scope="module")
def cli(require_root_ovs):
    name = "a" + secrets.token_hex(2)
    state = tempfile.mkdtemp(prefix=f"l2sm-{name}-")
    env = dict(os.environ, OSM_L2SM_SANDBOX=name, OSM_L2SM_STATE_DIR=state)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["osm-l2sm", *args], env=env, capture_output=True, text=True, timeout=300)

    run.name = name
    run.sandbox = Sandbox(name, state)
    try:
        yield run
    finally:
        run("sandbox", "down")
        shutil.rmtree(state, ignore_errors=True)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("osm-l2sm: error: "), proc.stderr
    for word in words:
        assert word in lines[0]


def footprint(sb: Sandbox) -> tuple:
    """What a refused pod must not leave: namespaces, veths and OVS ports of each node, controller ports."""
    nodes = ("node1", "node2")
    veths = [netns.run(sb.layout.node_netns(n), ["ip", "-o", "link", "show", "type", "veth"]).stdout for n in nodes]
    return (sorted(netns.names_with_prefix(sb.layout.prefix)), veths,
            [sorted(port_names(sb.node_ovs(n), BRIDGE)) for n in nodes], sb.controller_client().list_ports())


BAD_ADDRESSES = [  # blue is 10.10.0.0/24 and pod a holds 10.10.0.1
    ("10.11.0.5/24", "address 10.11.0.5/24 is outside network blue (10.10.0.0/24)"),
    ("10.10.0.5/16", "address 10.10.0.5/16 has a prefix wider than network blue (10.10.0.0/24)"),
    ("10.10.0.0/24", "address 10.10.0.0/24 is the network address of network blue (10.10.0.0/24)"),
    ("10.10.0.255/24", "address 10.10.0.255/24 is the broadcast address of network blue (10.10.0.0/24)"),
    ("10.10.0.1/24", "address 10.10.0.1 is already held by port node1/"),
]


def test_commands_before_up_say_the_sandbox_is_down(cli):
    one_line_error(cli("network", "list"), "not up")
    one_line_error(cli("pod", "exec", "a", "--", "true"), "not up")


def test_changing_commands_on_a_sandbox_never_made_leave_nothing(require_root_ovs, tmp_path):
    state = tmp_path / "never-made"
    env = dict(os.environ, OSM_L2SM_SANDBOX="n" + secrets.token_hex(2), OSM_L2SM_STATE_DIR=str(state))
    for args in (("pod", "run", "a", "--node", "node1", "--network", "blue"), ("pod", "delete", "a"),
                 ("pod", "attach", "a", "--network", "blue"), ("pod", "detach", "a", "--network", "blue"),
                 ("network", "delete", "blue")):
        one_line_error(subprocess.run(["osm-l2sm", *args], env=env, capture_output=True, text=True, timeout=60),
                       "not up")
    assert not state.exists()


def test_acceptance_sequence(cli):
    namespaces_before = [n for n in netns.names_with_prefix(cli.name + "-")]
    assert namespaces_before == []
    ok(cli("sandbox", "up", "--nodes", "2"))
    assert "already up" in ok(cli("sandbox", "up", "--nodes", "2"))
    ok(cli("network", "create", "blue", "--cidr", "10.10.0.0/24"))
    ok(cli("network", "create", "red", "--cidr", "10.10.0.0/24"))
    ok(cli("pod", "run", "a", "--node", "node1", "--network", "blue=10.10.0.1/24"))
    ok(cli("pod", "run", "b", "--node", "node2", "--network", "blue=10.10.0.2/24"))
    ok(cli("pod", "run", "c", "--node", "node2", "--network", "red=10.10.0.3/24", "--", "sleep", "600"))
    assert cli("pod", "exec", "a", "--", "ping", "-c1", "-W2", "10.10.0.2").returncode == 0
    assert cli("pod", "exec", "a", "--", "ping", "-c1", "-W2", "10.10.0.3").returncode != 0

    listing = ok(cli("pod", "list"))
    assert "c" in listing and "running" in listing and "net1=red(10.10.0.3/24)" in listing
    assert "blue" in ok(cli("network", "list")) and "red" in ok(cli("network", "list"))
    assert '"up": true' in ok(cli("sandbox", "status", "--json"))

    # attach and detach on running pods
    ok(cli("network", "create", "green", "--cidr", "10.20.0.0/24"))
    assert "net2" in ok(cli("pod", "attach", "a", "--network", "green=10.20.0.1/24"))
    assert "net2" in ok(cli("pod", "attach", "c", "--network", "green=10.20.0.3/24"))
    assert cli("pod", "exec", "c", "--", "ping", "-c1", "-W2", "10.20.0.1").returncode == 0
    ok(cli("pod", "detach", "c", "--network", "green"))
    assert cli("pod", "exec", "c", "--", "ping", "-c1", "-W2", "10.20.0.1").returncode != 0

    one_line_error(cli("pod", "run", "x", "--node", "node9", "--network", "blue"), "node9")
    one_line_error(cli("pod", "run", "x", "--node", "node1", "--network", "yellow"), "yellow")
    one_line_error(cli("pod", "exec", "nosuch", "--", "true"), "nosuch")
    one_line_error(cli("pod", "run", "x", "--node", "node1", "--network", "blue=10.10.0.999/24"))
    before = footprint(cli.sandbox)
    for address, message in BAD_ADDRESSES:  # the controller's word, on one line, and nothing left behind
        one_line_error(cli("pod", "run", "x", "--node", "node2", "--network", f"blue={address}"), message)
        one_line_error(cli("pod", "attach", "c", "--network", f"blue={address}"), message)
        assert footprint(cli.sandbox) == before, address
    # the failed runs left no pod x (compare names: the JSON also holds paths, which may contain an "x")
    assert "x" not in {p["name"] for p in json.loads(ok(cli("pod", "list", "--json")))}

    status = ok(cli("sandbox", "status", "--json"))
    ok(cli("sandbox", "down"))
    assert netns.names_with_prefix(cli.name + "-") == namespaces_before
    assert cli.name not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert '"up": false' in ok(cli("sandbox", "status", "--json"))
    assert status  # the status before down was readable
