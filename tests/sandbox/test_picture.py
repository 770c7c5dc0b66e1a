"""What runs, drawn (`osm-l2sm network list --graph`, `sandbox status --graph`; Graphviz's real `dot`): each node
with its switch and its pods, each pod's interfaces with their addresses linked to their networks, every network,
and the tunnel between the nodes' switches, read back from the SVG."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import unavailable
from tests.polling import wait_for

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def drawn(sandbox):
    if shutil.which("dot") is None:
        unavailable("needs Graphviz's dot (apt install graphviz)")
    sandbox.create_network("blue", "10.62.0.0/24")
    sandbox.create_network("red")
    sandbox.run_pod("pa", "node1", [("blue", "10.62.0.1/24"), ("red", None)], ["sleep", "600"])
    sandbox.run_pod("pb", "node2", [("blue", "10.62.0.2/24")], ["sleep", "600"])
    try:
        yield sandbox
    finally:
        for pod in ("pa", "pb"):
            sandbox.delete_pod(pod)
        for net in ("blue", "red"):
            sandbox.delete_network(net)


def cli(sb, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OSM_L2SM_SANDBOX=sb.name, OSM_L2SM_STATE_DIR=sb.layout.state_dir)
    return subprocess.run([sys.executable, "-m", "osm_l2sm", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def parse(svg: str) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Each drawn node (its id) with its lines of text, and each drawn edge as (tail, head) ids."""
    nodes, edges = {}, []
    for g in ET.fromstring(svg).iter(SVG + "g"):
        title = g.find(SVG + "title").text if g.find(SVG + "title") is not None else ""
        if g.get("class") == "node":
            nodes[title] = [re.sub(r"\s+", " ", "".join(t.itertext())).strip() for t in g.iter(SVG + "text")]
        elif g.get("class") == "edge":
            tail, head = title.split("--")
            edges.append((tail.split(":net")[0] if tail.startswith("pod:") else tail, head))
        elif g.get("class") == "cluster":
            nodes[title] = [re.sub(r"\s+", " ", "".join(t.itertext())).strip() for t in g.iter(SVG + "text")][:1]
    return nodes, edges


@pytest.mark.parametrize("command", [["network", "list", "--graph"], ["sandbox", "status", "--graph", "svg"]])
def test_what_runs_is_drawn_with_every_pod_network_and_tunnel(drawn, command):
    done = cli(drawn, *command)
    assert done.returncode == 0, done.stderr
    nodes, edges = parse(done.stdout)
    assert nodes["pod:pa"] == ["pa", "net1 10.62.0.1/24", "net2 L2 only"]
    assert nodes["pod:pb"] == ["pb", "net1 10.62.0.2/24"]
    assert nodes["net:blue"] == ["blue", "10.62.0.0/24"] and nodes["net:red"] == ["red"]
    status = drawn.status()
    for node in status["nodes"]:
        assert nodes[f"cluster_n:{node['name']}"] == [f"{node['name']} ({node['underlay_ip']})"]
    assert sorted(edges) == sorted([("pod:pa", "net:blue"), ("pod:pa", "net:red"), ("pod:pb", "net:blue"),
                                    ("sw:node1", "sw:node2")])


def test_the_dot_source_names_which_interface_goes_where(drawn):
    done = cli(drawn, "network", "list", "--graph", "dot")
    assert done.returncode == 0, done.stderr
    links = set(re.findall(r'^\s*"pod:(\w+)":"(net\d)" -- "net:(\w+)";$', done.stdout, re.MULTILINE))
    assert links == {("pa", "net1", "blue"), ("pa", "net2", "red"), ("pb", "net1", "blue")}


def test_a_node_that_does_not_work_is_drawn_red_with_its_problem(drawn):
    with open(os.path.join(drawn.layout.node_dir("node2"), "ovs-vswitchd.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    try:
        wait_for(lambda: drawn.status()["problems"], "the killed ovs-vswitchd seen")
        root = ET.fromstring(cli(drawn, "sandbox", "status", "--graph").stdout)
        boxes = {g.find(SVG + "title").text: g for g in root.iter(SVG + "g") if g.get("class") == "cluster"}
        assert boxes["cluster_n:node2"].find(SVG + "polygon").get("stroke") == "red"
        assert "".join(boxes["cluster_n:node2"].find(SVG + "text").itertext()).endswith("ovs-vswitchd not running")
        assert boxes["cluster_n:node1"].find(SVG + "polygon").get("stroke") == "black"
    finally:
        drawn.up()
