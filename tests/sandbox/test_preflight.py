"""Without root or without Open vSwitch, sandbox commands fail with one clear line (no root needed to run)."""
from __future__ import annotations

import shutil

import pytest

from osm_l2sm.cli import main
from osm_l2sm.errors import L2smError
from osm_l2sm.sandbox import netns


def test_not_root_is_one_clear_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OSM_L2SM_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    for argv in (["sandbox", "up"], ["sandbox", "down"], ["pod", "delete", "a"]):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("osm-l2sm: error: ") and "root" in err[0]


def test_ovs_missing_is_one_clear_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OSM_L2SM_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("os.geteuid", lambda: 0)
    real_which = shutil.which
    monkeypatch.setattr("shutil.which", lambda tool, *a, **k: None if tool == "ovs-vswitchd" else real_which(tool))
    assert main(["sandbox", "up", "--nodes", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ovs-vswitchd is missing" in err[0] and "openvswitch-switch" in err[0]
    assert list(tmp_path.iterdir()) == [], "nothing was made"


def test_a_namespace_name_with_a_slash_is_refused_and_nothing_is_mounted(monkeypatch, tmp_path):
    """pyroute2 takes such a name for a path: the namespace would be mounted in the working folder, and leak."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(L2smError, match="without '/'"):
        netns.create("s1-pod-10.30.0.9/24")
    assert list(tmp_path.iterdir()) == []
