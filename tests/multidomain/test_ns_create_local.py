"""`osm-l2sm ns-create --local` on a two-cluster sandbox: KNFs placed on two VIMs (clusters) make the virtual link
between them an inter-domain network, the one inside a cluster a local one; KNFs on the spanning link talk across
clusters; the KNFs run in their VIMs' clusters; ns-delete removes all of it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.multidomain.conftest import cli_sandbox

PACKAGES = sorted(str(p) for p in (Path(__file__).resolve().parents[2] / "descriptors").iterdir() if p.is_dir())
# the content server on VIM vim2 (cluster c2), everything else on the NS's VIM vim1 (cluster c1)
PLACEMENT = ["--vim_account", "vim1", "--config", "{vnf: [{member-vnf-index: content, vimAccountId: vim2}]}",
             "--cluster-map", "vim1=c1,vim2=c2"]


@pytest.fixture
def cli(require_root_ovs):
    with cli_sandbox("ns") as run:
        run("sandbox", "up", "--clusters", "2", "--nodes", "1")
        yield run


def test_ns_create_local_makes_spanning_links_inter_domain(cli, tmp_path):
    config = tmp_path / "placement.yaml"
    config.write_text("vnf: [{member-vnf-index: content, vimAccountId: vim2}]\n")
    plan = json.loads(cli("plan", *PACKAGES, "--ns-name", "vod", "--json", "--vim-account", "vim1",
                          "--config", str(config), "--cluster-map", "vim1=c1,vim2=c2").stdout)
    assert {n["name"]: n["clusters"] for n in plan["networks"]} == {"vod-cache-vl": ["c1"],
                                                                     "vod-content-vl": ["c1", "c2"]}

    out = cli("ns-create", "--local", "--package", *PACKAGES, "--ns_name", "vod", *PLACEMENT).stdout
    assert "inter-domain over c1, c2" in out
    networks = {n["name"]: n for n in json.loads(cli("network", "list", "--json").stdout)}
    assert sorted(networks) == ["vod-cache-vl", "vod-content-vl"]
    assert networks["vod-cache-vl"]["clusters"] == ["c1"]
    assert networks["vod-content-vl"]["clusters"] == ["c1", "c2"]

    # the KNFs run in their VIMs' clusters: the router in c1, the content server in c2, on the planned addresses
    by_kdu = {(a["kdu"], a["network"]): a["address"] for a in plan["attachments"]}
    content = by_kdu[("content-server", "vod-content-vl")]
    pods = {p["name"]: p for p in json.loads(cli("pod", "list", "--json").stdout)}
    assert {n: p["node"] for n, p in pods.items()} == {"cdn-cache": "c1-node1", "router-firewall": "c1-node1",
                                                       "content-server": "c2-node1"}
    assert {a["network"]: a["address"] for a in pods["content-server"]["networks"]} == {"vod-content-vl": content}
    assert cli("pod", "exec", "router-firewall", "--", "ping", "-c1", "-W2", content.split("/")[0],
               check=False).returncode == 0

    cli("ns-delete", "--local", "--package", *PACKAGES, "--ns_name", "vod")
    assert json.loads(cli("network", "list", "--json").stdout) == []
    assert json.loads(cli("pod", "list", "--json").stdout) == []

