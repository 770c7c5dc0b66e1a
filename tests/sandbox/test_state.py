"""The sandbox's state file: a sandbox recorded by the earlier format (before the clusters were a list) is still
shown, revived and removed, so a running sandbox outlives an upgrade."""
from __future__ import annotations

import json

from osm_l2sm.sandbox import Sandbox


def write_state(tmp_path, state: dict) -> Sandbox:
    (tmp_path / "sandbox.json").write_text(json.dumps(state))
    return Sandbox("old", str(tmp_path))


def test_a_single_cluster_sandbox_of_the_earlier_format_shows_its_nodes_and_controller(tmp_path):
    sb = write_state(tmp_path, {
        "name": "old", "underlay": "10.231.7.0/24", "nodes": ["node1", "node2"], "ready": True,
        "controller": {"pid": None, "url": "http://10.231.7.1:8181"},
        "pods": {"a": {"node": "node2", "networks": {"blue": {"interface": "net1", "address": None}},
                       "pid": None, "command": None}}})
    status = sb.status()
    assert [n["name"] for n in status["nodes"]] == ["node1", "node2"]
    assert [n["underlay_ip"] for n in status["nodes"]] == ["10.231.7.11", "10.231.7.12"]
    assert status["controller"]["url"] == "http://10.231.7.1:8181" and "clusters" not in status
    assert status["pods"] == ["a"] and status["up"] and not status["ok"]
    assert status["problems"] == ["controller http://10.231.7.1:8181 is not running",
                                  "node1: namespace old-node1 missing", "node2: namespace old-node2 missing"]
    assert sb.place(None, "node2") == "node2"


def test_a_multi_cluster_sandbox_of_the_earlier_format_shows_its_clusters_and_provider(tmp_path):
    sb = write_state(tmp_path, {
        "name": "old", "underlay": "10.231.8.0/24", "interdomain": "10.232.8.0/24", "ready": True, "pods": {},
        "nodes": ["c1-node1", "c1-edge", "c2-node1", "c2-edge"],
        "controller": {"pid": None, "url": "http://10.231.8.1:8182"},
        "provider": {"pid": None, "url": "http://10.231.8.1:8190"},
        "clusters": {"c1": {"controller": {"pid": None, "url": "http://10.231.8.1:8182"},
                            "nodes": ["c1-node1", "c1-edge"], "edge": "c1-edge"},
                     "c2": {"controller": {"pid": None, "url": "http://10.231.8.1:8183"},
                            "nodes": ["c2-node1", "c2-edge"], "edge": "c2-edge"}}})
    status = sb.status()
    assert [n["name"] for n in status["nodes"]] == ["c1-node1", "c1-edge", "c2-node1", "c2-edge"]
    assert status["clusters"]["c2"]["controller"]["url"] == "http://10.231.8.1:8183"
    assert status["clusters"]["c1"]["edge"] == "c1-edge"
    assert status["provider"]["url"] == "http://10.231.8.1:8190" and status["interdomain"] == "10.232.8.0/24"
    assert status["controller"]["url"] == "http://10.231.8.1:8182"
    assert sb.cluster_names() == ["c1", "c2"] and sb.place("c2", "node2") == "c2-node1"
