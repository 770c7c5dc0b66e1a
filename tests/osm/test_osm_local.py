"""`ns-create --local` and `ns-delete --local` on a real sandbox (OVS, namespaces, controller process): the NS's
networks and its three KNFs, run from their sandbox profiles; ns-delete leaves nothing of them."""
from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from osm_testdata import PACKAGES
from tests.demo.test_cdn_demo import _processes_using
from tests.polling import wait_for

from osm_l2sm.cli import main

KNFS = {"cdn-cache", "router-firewall", "content-server"}


@pytest.fixture
def sandbox(require_root_ovs, monkeypatch):
    from osm_l2sm.sandbox import temporary_sandbox

    with temporary_sandbox(prefix="o", nodes=1) as sb:
        monkeypatch.setenv("OSM_L2SM_STATE_DIR", sb.layout.state_dir)
        yield sb


def _namespaces(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.startswith(prefix))


def _node_links(sb) -> list[str]:
    """The node's interfaces (pod veth ends included) and its bridge's OVS ports."""
    out = subprocess.run(["ip", "-n", sb.layout.node_netns("node1"), "-o", "link", "show"], capture_output=True,
                         text=True, check=True).stdout
    ovs = sb.node_ovs("node1")
    return sorted(line.split(":")[1].strip() for line in out.splitlines()) + \
        sorted(ovs.vsctl("list-ports", "br-l2sm").split())


def _http(sb, pod: str, url: str) -> subprocess.CompletedProcess:
    return sb.exec_pod(pod, ["curl", "-sS", "--fail", "--max-time", "5", url], timeout=30)


def test_local_ns_create_and_delete(sandbox, capsys):
    sandbox.create_network("keepme", cidr="10.50.0.0/24")
    local = ["--package", *PACKAGES, "--local", "--sandbox", sandbox.name]
    assert main(["ns-create", "--ns_name", "vod", *local]) == 0
    assert {n["name"]: n["cidr"] for n in sandbox.networks()} == {
        "keepme": "10.50.0.0/24", "vod-cache-vl": "10.0.1.0/24", "vod-content-vl": "10.0.2.0/24"}
    out = capsys.readouterr().out
    assert f"KNFs of vod running on sandbox {sandbox.name}: " in out
    assert main(["ns-delete", "--ns_name", "vod", *local]) == 0
    assert [n["name"] for n in sandbox.networks()] == ["keepme"]
    assert "KNF content-server: removed" in capsys.readouterr().out


def test_local_ns_create_runs_the_knfs_and_ns_delete_leaves_nothing(sandbox, capsys):
    links_before = _node_links(sandbox)
    local = ["--package", *PACKAGES, "--local", "--sandbox", sandbox.name]
    assert main(["ns-create", "--ns_name", "vod", *local]) == 0
    pods = {p["name"]: p for p in sandbox.pods()}
    assert set(pods) == KNFS
    # the KNFs' profiles ask for node2; a one-node sandbox runs them on node1
    assert {p["node"] for p in pods.values()} == {"node1"}
    addresses = {p["name"]: {a["network"]: a["address"].split("/")[0] for a in p["networks"]} for p in pods.values()}
    content = addresses["content-server"]["vod-content-vl"]

    # nginx answers on the content server, the router forwards the cache's HTTP to it (firewall open on 80 only)
    assert pods["content-server"]["running"] and pods["router-firewall"]["running"]
    sha = _http(sandbox, "router-firewall", f"http://{content}/video.mp4.sha256")
    assert sha.returncode == 0, sha.stderr
    assert _http(sandbox, "cdn-cache", f"http://{content}/video.mp4.sha256").stdout == sha.stdout
    assert _http(sandbox, "cdn-cache", f"http://{content}:8080/").returncode != 0
    # the cache KNF downloads the content server's video through the router, whole
    files = sandbox.layout.pod_files
    wait_for(lambda: not sandbox.pod("cdn-cache")["running"], "the cache's download ending", timeout=120)
    cached = hashlib.sha256(open(os.path.join(files("cdn-cache"), "video.mp4"), "rb").read()).hexdigest()
    assert cached == sha.stdout.split()[0]

    assert main(["ns-delete", "--ns_name", "vod", *local]) == 0
    out = capsys.readouterr().out
    assert all(f"KNF {k}: removed" in out for k in KNFS)
    assert sandbox.pods() == [] and sandbox.networks() == []
    assert _namespaces(f"{sandbox.name}-pod-") == []
    assert _node_links(sandbox) == links_before
    assert [p for k in KNFS for p in _processes_using(files(k))] == []
    assert [k for k in KNFS if os.path.exists(files(k)) or os.path.exists(sandbox.layout.pod_log(k))] == []
    # a second ns-delete finds nothing and says so
    assert main(["ns-delete", "--ns_name", "vod", *local]) == 0
    assert "KNF cdn-cache: not running" in capsys.readouterr().out


def test_local_ns_create_with_a_broken_profile_leaves_nothing(sandbox, tmp_path, capsys):
    import shutil

    packages = []
    for path in PACKAGES:
        copy = tmp_path / os.path.basename(path)
        shutil.copytree(path, copy)
        packages.append(str(copy))
    # the router's setup fails inside its pod, after the networks and the other KNFs were made
    profile = tmp_path / "router_firewall_knf" / "sandbox" / "router-firewall.yaml"
    profile.write_text(profile.read_text().replace("setup:\n", "setup:\n  - echo no forwarding here; false\n", 1))
    local = ["--package", *packages, "--local", "--sandbox", sandbox.name]
    assert main(["ns-create", "--ns_name", "vod", *local]) == 1
    err = capsys.readouterr().err
    assert "pod router-firewall (router_firewall_knf/sandbox/router-firewall.yaml) failed during setup: " \
           "no forwarding here" in err
    assert err.count("\n") == 1
    assert sandbox.pods() == [] and sandbox.networks() == []
    assert _namespaces(f"{sandbox.name}-pod-") == []


def test_a_knf_on_another_vim_in_a_one_cluster_sandbox_is_said_to_be_on_an_ordinary_network(sandbox, capsys):
    local = ["--package", *PACKAGES, "--local", "--sandbox", sandbox.name]
    config = "{vnf: [{member-vnf-index: cache, vimAccountId: edge-vim}]}"
    assert main(["ns-create", "--ns_name", "vod", "--vim_account", "k8s-vim", "--config", config, *local]) == 0
    out = capsys.readouterr().out
    assert "inter-domain" not in out
    assert ("network vod-cache-vl (10.0.1.0/24, virtual link cache-vl, KNFs placed on edge-vim, k8s-vim; this "
            "target is one domain: an ordinary network): created") in out
    assert main(["ns-delete", "--ns_name", "vod", *local]) == 0
