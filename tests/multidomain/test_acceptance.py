"""Issue 6 acceptance through the CLI: two clusters, two inter-domain networks with one subnet, link cut, provider stop."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile

import pytest


@pytest.fixture
def cli(require_root_ovs):
    name = "md" + secrets.token_hex(2)
    state_dir = tempfile.mkdtemp(prefix=f"l2sm-{name}-")
    env = dict(os.environ, OSM_L2SM_SANDBOX=name, OSM_L2SM_STATE_DIR=state_dir)

    def run(*args, check=True):
        done = subprocess.run(["osm-l2sm", *args], env=env, text=True, capture_output=True, timeout=120)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    run.name = name
    try:
        yield run
    finally:
        run("sandbox", "down", check=False)
        shutil.rmtree(state_dir, ignore_errors=True)



def test_acceptance_isolation_and_faults(cli):
    cli("sandbox", "up", "--clusters", "2", "--nodes", "2")
    cli("network", "create", "span", "--cidr", "10.20.0.0/24", "--clusters", "c1,c2")
    cli("network", "create", "other", "--cidr", "10.20.0.0/24", "--clusters", "c1,c2")
    cli("pod", "run", "x", "--node", "c1-node1", "--network", "span=10.20.0.1/24")
    cli("pod", "run", "y", "--node", "c2-node2", "--network", "span=10.20.0.2/24")
    cli("pod", "run", "z", "--node", "c2-node1", "--network", "other=10.20.0.2/24")
    cli("pod", "run", "w", "--node", "c1-node2", "--network", "span=10.20.0.3/24")
    ping = cli("pod", "exec", "x", "--", "ping", "-c1", "-W2", "10.20.0.2").stdout
    assert "1 received" in ping and "DUP" not in ping
    # the other network with the same subnet never got x's ARP request (z would have learnt x from it)
    assert "10.20.0.1" not in cli("pod", "exec", "z", "--", "ip", "neigh", "show").stdout
    y_mac = cli("pod", "exec", "y", "--", "cat", "/sys/class/net/net1/address").stdout.strip()
    assert y_mac in cli("pod", "exec", "x", "--", "ip", "neigh", "show", "10.20.0.2").stdout

    # link cut: inter-domain traffic stops, intra-cluster traffic continues
    subprocess.run(["ip", "link", "set", f"{cli.name}-d1", "down"], check=True)
    assert cli("pod", "exec", "x", "--", "ping", "-c1", "-W1", "10.20.0.3", check=False).returncode == 0
    assert cli("pod", "exec", "x", "--", "ping", "-c1", "-W1", "10.20.0.2", check=False).returncode != 0
    subprocess.run(["ip", "link", "set", f"{cli.name}-d1", "up"], check=True)
    assert cli("pod", "exec", "x", "--", "ping", "-c2", "-W2", "10.20.0.2", check=False).returncode == 0

    # provider stopped: the data plane keeps working, only a new inter-domain network fails, clearly
    status = cli("sandbox", "status", "--json").stdout
    import json
    pid = json.loads(status)["provider"]["pid"]
    os.kill(pid, 15)
    assert cli("pod", "exec", "x", "--", "ping", "-c1", "-W2", "10.20.0.2", check=False).returncode == 0
    failed = cli("network", "create", "third", "--clusters", "c1,c2", check=False)
    assert failed.returncode == 1 and "provider" in failed.stderr

    cli("sandbox", "down")
    names = subprocess.run(["ip", "netns", "list"], text=True, capture_output=True).stdout
    assert f"{cli.name}-" not in names
