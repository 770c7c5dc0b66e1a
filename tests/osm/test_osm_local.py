"""`ns-create --local` and `ns-delete --local` on a real sandbox (OVS, namespaces, controller process)."""
from __future__ import annotations

import pytest

from osm_testdata import PACKAGES

from osm_l2sm.cli import main



@pytest.fixture
def sandbox(require_root_ovs, monkeypatch):
    from osm_l2sm.sandbox import temporary_sandbox

    with temporary_sandbox(prefix="o", nodes=1) as sb:
        monkeypatch.setenv("OSM_L2SM_STATE_DIR", sb.layout.state_dir)
        yield sb


def test_local_ns_create_and_delete(sandbox, capsys):
    sandbox.create_network("keepme", cidr="10.50.0.0/24")
    local = ["--package", *PACKAGES, "--local", "--sandbox", sandbox.name]
    assert main(["ns-create", "--ns_name", "vod", *local]) == 0
    assert {n["name"]: n["cidr"] for n in sandbox.networks()} == {
        "keepme": "10.50.0.0/24", "vod-cache-vl": "10.0.1.0/24", "vod-content-vl": "10.0.2.0/24"}
    assert "KNFs not installed" in capsys.readouterr().out
    assert main(["ns-delete", "--ns_name", "vod", *local]) == 0
    assert [n["name"] for n in sandbox.networks()] == ["keepme"]
