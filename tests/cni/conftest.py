"""The cni tier runs the real ``l2sm-cni`` binary (scripts/build-cni-plugin) in a sandbox node, where the node's
daemon, OVS and the controller are real."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from osm_l2sm.cni.runtime import find_plugin, plugin_env
from osm_l2sm.errors import L2smError
from osm_l2sm.sandbox import netns, temporary_sandbox
from osm_l2sm.sandbox.layout import BRIDGE
from osm_l2sm.switch import port_names
from tests.conftest import unavailable


@pytest.fixture(scope="session")
def plugin_binary() -> str:
    try:
        return find_plugin()
    except L2smError as err:
        unavailable(str(err))


@pytest.fixture(scope="module")
def sb(require_root_ovs, plugin_binary):
    with temporary_sandbox(prefix="c", nodes=1) as sandbox:
        sandbox.create_network("blue", cidr="10.30.0.0/24")
        yield sandbox


@pytest.fixture
def pod_ns(sb, request):
    # a plain name from the test's (its parameters may hold addresses with a '/')
    name = sb.layout.pod_netns(re.sub(r"[^a-z0-9]+", "-", request.node.name[-20:].lower()).strip("-"))
    netns.create(name)
    yield name
    netns.remove(name)


def config(network="blue", address=None, version="1.0.0", **extra) -> dict:
    conf = {"cniVersion": version, "name": network, "type": "l2sm-cni", "network": network}
    if address:
        conf["runtimeConfig"] = {"ips": [address]}
    return {**conf, **extra}


def cni(sb, command: str, conf, pod_ns: str | None, ifname="net1", container="ctr1", drop=(), socket=None,
        netns_path=None):
    """Run the plugin as a runtime does, in the node's netns; (exit status, parsed stdout)."""
    env = plugin_env(command, container, netns_path or (netns.path(pod_ns) if pod_ns else ""), ifname,
                     socket or sb.layout.cni_socket("node1"))
    for key in drop:
        env.pop(key)
    stdin = conf if isinstance(conf, str) else json.dumps(conf)
    proc = subprocess.run(netns.argv(sb.layout.node_netns("node1"), [find_plugin()]), input=stdin, env=env,
                          capture_output=True, text=True)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def leftovers(sb) -> tuple:
    """What a failed ADD must not change: veths and bridge ports on the node, ports at the controller, namespaces."""
    veths = netns.run(sb.layout.node_netns("node1"), ["ip", "-o", "link", "show", "type", "veth"]).stdout
    return (len(veths.splitlines()), len(port_names(sb.node_ovs("node1"), BRIDGE)),
            len(sb.controller_client().list_ports()), len(netns.names_with_prefix(sb.layout.prefix)))
