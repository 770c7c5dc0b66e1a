"""Issue 6 on a two-cluster sandbox, through the CLI: isolation, ping and TCP across clusters, link cut and provider
stop with packet counters showing no flood, restore without manual steps, teardown.

The tests share one sandbox and run in file order; each fault test restores what it broke before it ends."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest
from pyroute2 import IPRoute

from osm_l2sm.controller import ControllerClient
from osm_l2sm.sandbox import domains, netns
from osm_l2sm.sandbox.layout import BRIDGE
from osm_l2sm.switch import port_names
from tests.multidomain.conftest import cli_sandbox
from tests.sandbox.test_dataplane import fetch, web_server

C1 = ("c1-node1", "c1-node2", "c1-edge")
SPAN_PODS = ("x", "y", "w")


@pytest.fixture(scope="module")
def cli(require_root_ovs):
    with cli_sandbox("md") as run:
        run("sandbox", "up", "--clusters", "2", "--nodes", "2")
        run("network", "create", "span", "--cidr", "10.20.0.0/24", "--clusters", "c1,c2")
        run("network", "create", "other", "--cidr", "10.20.0.0/24", "--clusters", "c1,c2")
        run("pod", "run", "x", "--node", "c1-node1", "--network", "span=10.20.0.1/24")
        run("pod", "run", "y", "--node", "c2-node2", "--network", "span=10.20.0.2/24")
        run("pod", "run", "z", "--node", "c2-node1", "--network", "other=10.20.0.2/24")
        run("pod", "run", "w", "--node", "c1-node2", "--network", "span=10.20.0.3/24")
        yield run


def ping(cli, pod: str, address: str, count: int = 1) -> subprocess.CompletedProcess:
    return cli("pod", "exec", pod, "--", "ping", "-c", str(count), "-W2", address, check=False)


def link_counters(namespace: str) -> dict[str, dict]:
    """The kernel's counters of every interface of a namespace."""
    with IPRoute(netns=netns.path(namespace), flags=0) as ipr:
        return {link.get_attr("IFLA_IFNAME"): link.get_attr("IFLA_STATS64") for link in ipr.get_links()}


def pod_counter(cli, pod: str, key: str) -> int:
    return link_counters(cli.sandbox.layout.pod_netns(pod))["net1"][key]


def frames_sent(cli, nodes=C1) -> dict[tuple[str, str], int]:
    """tx packets of every OVS port (pod links, tunnels, domain links) of ``nodes``."""
    sent = {}
    for node in nodes:
        counters = link_counters(cli.sandbox.layout.node_netns(node))
        for port in port_names(cli.sandbox.node_ovs(node), BRIDGE):
            sent[(node, port)] = counters[port]["tx_packets"]
    return sent


def ping_counted(cli, src: str, address: str) -> tuple[bool, dict, int]:
    """Every pod of span forgets its neighbours (so the ping starts with one broadcast ARP), then ``src`` pings
    once; returns whether it got a reply, the frames each port of cluster c1 sent meanwhile (non-zero only) and the
    frames ``src`` sent. ``src`` forgets last: an ARP probe a peer sends for a stale entry would teach it again."""
    for pod in [p for p in SPAN_PODS if p != src] + [src]:
        cli("pod", "exec", pod, "--", "ip", "neigh", "flush", "dev", "net1")
    before, src_before = frames_sent(cli), pod_counter(cli, src, "tx_packets")
    ok = ping(cli, src, address).returncode == 0
    after = frames_sent(cli)
    delta = {port: after[port] - before.get(port, 0) for port in after if after[port] != before.get(port, 0)}
    return ok, delta, pod_counter(cli, src, "tx_packets") - src_before


def domain_link(delta: dict, cluster="c1", peer="c2") -> int:
    return delta.get((domains.edge_name(cluster), domains.domain_link_name(peer)), 0)


def test_acceptance_one_reply_from_y_and_z_sees_nothing(cli):
    z_rx, w_rx = pod_counter(cli, "z", "rx_packets"), pod_counter(cli, "w", "rx_packets")
    cli("pod", "exec", "x", "--", "ip", "neigh", "flush", "dev", "net1")
    out = ping(cli, "x", "10.20.0.2").stdout
    assert "1 received" in out and "DUP" not in out
    y_mac = cli("pod", "exec", "y", "--", "cat", "/sys/class/net/net1/address").stdout.strip()
    assert y_mac in cli("pod", "exec", "x", "--", "ip", "neigh", "show", "10.20.0.2").stdout
    # x's ARP request was flooded through span (w got it) but not a single frame reached z on "other"
    assert pod_counter(cli, "w", "rx_packets") > w_rx
    assert pod_counter(cli, "z", "rx_packets") == z_rx
    assert "10.20.0.1" not in cli("pod", "exec", "z", "--", "ip", "neigh", "show").stdout


def test_tcp_across_clusters(cli, tmp_path):
    body, nginx = web_server("web", "10.20.0.5", tmp_path)
    cli.sandbox.run_pod("web", "c2-node1", [("span", "10.20.0.5/24")], nginx)
    try:
        got = fetch(cli.sandbox, "x", "http://10.20.0.5:8080/blob")
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest()
    finally:
        cli.sandbox.delete_pod("web")


def test_link_cut_keeps_cluster_traffic_without_flood_and_restores(cli):
    ok, with_link, _ = ping_counted(cli, "x", "10.20.0.3")
    assert ok and with_link
    assert domain_link(with_link) == 1  # span is inter-domain: x's ARP broadcast, one copy to the other cluster
    domains.set_link(cli.sandbox.layout, "c1", up=False)
    try:
        ok, cut, _ = ping_counted(cli, "x", "10.20.0.3")
        assert ok, "intra-cluster traffic must continue while the inter-domain link is down"
        assert cut == with_link, "every port sends exactly what it sent with the link up"
        ok, towards_y, x_sent = ping_counted(cli, "x", "10.20.0.2")
        assert not ok, "inter-domain traffic stops while the link is down"
        assert 0 < domain_link(towards_y) <= x_sent  # one copy of each broadcast, nothing more
        assert sum(towards_y.values()) <= x_sent * len(with_link)
    finally:
        domains.set_link(cli.sandbox.layout, "c1", up=True)
    assert ping(cli, "x", "10.20.0.2", count=3).returncode == 0, "restoring the link restores the network"


def test_stopped_provider_and_controller_keep_data_plane_and_sandbox_up_restores(cli):
    ok, before, _ = ping_counted(cli, "x", "10.20.0.3")
    assert ok
    status = json.loads(cli("sandbox", "status", "--json").stdout)
    os.kill(status["provider"]["pid"], 15)
    os.kill(status["clusters"]["c2"]["controller"]["pid"], 15)
    ok, stopped, _ = ping_counted(cli, "x", "10.20.0.3")
    assert ok and stopped == before, "no port sends more with the provider and c2's controller away"
    assert ping(cli, "x", "10.20.0.2").returncode == 0
    failed = cli("network", "create", "third", "--clusters", "c1,c2", check=False)
    assert failed.returncode == 1 and "provider" in failed.stderr and "Traceback" not in failed.stderr

    cli("sandbox", "up", "--clusters", "2", "--nodes", "2")  # restarts what died, keeps everything else
    status = json.loads(cli("sandbox", "status", "--json").stdout)
    assert status["provider"]["alive"] and status["clusters"]["c2"]["controller"]["alive"]
    created = cli("network", "create", "third", "--cidr", "10.30.0.0/24", "--clusters", "c1,c2").stdout
    assert "global tag 3" in created  # the restarted provider remembers tags 1 and 2
    cli("pod", "attach", "x", "--network", "third=10.30.0.1/24")
    cli("pod", "attach", "z", "--network", "third=10.30.0.2/24")  # c2-node1: a port made by the restarted controller
    assert ping(cli, "x", "10.30.0.2").returncode == 0
    assert ping(cli, "x", "10.20.0.2").returncode == 0


def test_a_pod_on_an_edge_gets_unicast_and_broadcast_from_the_other_cluster(cli):
    cli("pod", "run", "v", "--node", "c1-edge", "--network", "span=10.20.0.9/24")
    try:
        y_mac = cli("pod", "exec", "y", "--", "cat", "/sys/class/net/net1/address").stdout.strip()
        for pod in ("v", "y"):
            cli("pod", "exec", pod, "--", "ip", "neigh", "flush", "dev", "net1")
        # y (c2-node2) asks for v by a broadcast ARP, which crosses c2's edge, the domain link and c1's edge
        out = ping(cli, "y", "10.20.0.9", count=3).stdout
        assert "3 received" in out and "DUP" not in out
        assert y_mac in cli("pod", "exec", "v", "--", "ip", "neigh", "show", "10.20.0.2").stdout
        out = ping(cli, "v", "10.20.0.2", count=3).stdout  # and back, from the edge pod
        assert "3 received" in out and "DUP" not in out
        assert ping(cli, "v", "10.20.0.1").returncode == 0  # its own cluster too
    finally:
        cli("pod", "delete", "v")


def provider_client(cli) -> ControllerClient:
    status = json.loads(cli("sandbox", "status", "--json").stdout)
    with open(cli.sandbox.layout.token_file, encoding="utf-8") as f:
        return ControllerClient(status["provider"]["url"], f.read().strip())


def test_the_provider_keeps_a_tag_while_a_cluster_uses_it(cli):
    """Each cluster of an inter-domain network is a member of it at the provider (as with the Kubernetes operator),
    so the tag is freed only once every cluster let go of it: deleting the network releases it everywhere."""
    provider = provider_client(cli)
    assert sorted(p["switch"] for p in provider.get_network("span")["ports"]) == ["c1", "c2"]
    cli("network", "create", "brief", "--cidr", "10.40.0.0/24", "--clusters", "c1,c2")
    assert sorted(p["switch"] for p in provider.get_network("brief")["ports"]) == ["c1", "c2"]
    cli("network", "delete", "brief")
    assert "brief" not in [n["name"] for n in provider.list_networks()]
    assert "span" in [n["name"] for n in provider.list_networks()]


def test_a_failed_inter_domain_create_leaves_no_network_and_no_tag(cli):
    cli("network", "create", "dup", "--cidr", "10.41.0.0/24", "--clusters", "c2")
    failed = cli("network", "create", "dup", "--cidr", "10.41.0.0/24", "--clusters", "c1,c2", check=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    networks = {n["name"]: n for n in json.loads(cli("network", "list", "--json").stdout)}
    assert networks["dup"]["clusters"] == ["c2"], "c1's copy made by the failed create is gone"
    provider = provider_client(cli)
    assert "dup" not in [n["name"] for n in provider.list_networks()], "its tag is released"
    cli("network", "delete", "dup")


def test_teardown_leaves_nothing(cli):
    status = json.loads(cli("sandbox", "status", "--json").stdout)
    pids = [status["provider"]["pid"]] + [c["controller"]["pid"] for c in status["clusters"].values()]
    cli("sandbox", "down")
    assert not netns.names_with_prefix(f"{cli.name}-")
    with IPRoute() as ipr:
        assert not [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()
                    if link.get_attr("IFLA_IFNAME").startswith(cli.name)]
    assert not [pid for pid in pids if running(pid)]


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for its reaper (a zombie has an empty command line)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return bool(f.read())
    except OSError:
        return False
