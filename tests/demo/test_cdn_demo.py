"""The main job end to end: `osm-l2sm demo cdn` on a sandbox of its own, twice, then `--down`."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

SANDBOX = "t" + secrets.token_hex(2)  # unique per run: others may run this test on the same host
EXPECTED = {"ping_ttl": 63, "traceroute_hops": 2}
REQUIRED = ("ping_ttl", "traceroute_hops", "sha256_match", "firewall_blocks", "cutoff_stalled", "cutoff_resumed")


def _cli(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "osm_l2sm", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _own_namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"{SANDBOX}-")]


def _own_links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip() for line in out.splitlines() if f" {SANDBOX}-" in line]


def _processes_using(state_dir: str) -> list[str]:
    """Command lines of processes that name the sandbox's state dir (nginx, controller, OVS daemons do)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state_dir in cmdline:
            found.append(cmdline)
    return found


@pytest.fixture
def demo_env(require_root_ovs, tmp_path):
    env = dict(os.environ, OSM_L2SM_SANDBOX=SANDBOX, OSM_L2SM_STATE_DIR=str(tmp_path / "state"))
    try:
        yield env
    finally:
        _cli(env, "demo", "cdn", "--sandbox", SANDBOX, "--down")


def _report(result) -> dict:
    assert result.returncode in (0, 1), result.stderr
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"not JSON: {result.stdout[-500:]} / {result.stderr[-500:]}")


def test_cdn_demo_validates_twice_and_down_leaves_nothing(demo_env):
    namespaces_before = _own_namespaces()
    assert namespaces_before == [], f"a previous run left {namespaces_before}"
    for run in (1, 2):
        report = _report(_cli(demo_env, "demo", "cdn", "--sandbox", SANDBOX, "--json"))
        checks = {c["name"]: c for c in report["checks"]}
        failed = {n: c for n, c in checks.items() if not c["ok"]}
        assert report["ok"] is True, f"run {run}: failed checks {failed}"
        for name in REQUIRED:
            assert checks[name]["ok"], f"run {run}: {name}"
        for name, value in EXPECTED.items():
            assert checks[name]["value"] == value, f"run {run}: {name}"
        assert {p["name"] for p in report["phases"]} >= {"plan", "networks", "pods", "download+cutoff"}
    # the service is left running for the user: the three KNF pods exist
    pods = json.loads(_cli(demo_env, "pod", "list", "--json").stdout)
    assert {p["name"] for p in pods} >= {"cdn-cache", "router-firewall", "content-server"}
    # and drawn beside the report: every pod and network that runs
    assert report["picture"] == os.path.join(demo_env["OSM_L2SM_STATE_DIR"], "pictures", "cdn.svg")
    shown = {"".join(t.itertext()) for t in ET.parse(report["picture"]).iter("{http://www.w3.org/2000/svg}text")}
    networks = {n["name"] for n in json.loads(_cli(demo_env, "network", "list", "--json").stdout)}
    assert networks == {"cdn-cache-vl", "cdn-content-vl"} and networks | {p["name"] for p in pods} <= shown, shown

    down = _cli(demo_env, "demo", "cdn", "--sandbox", SANDBOX, "--down")
    assert down.returncode == 0, down.stderr
    assert _own_namespaces() == []
    assert _own_links() == []
    assert _processes_using(demo_env["OSM_L2SM_STATE_DIR"]) == []
    assert not os.path.exists(os.path.join(demo_env["OSM_L2SM_STATE_DIR"], "demo")), "the pods' files are left"
    assert not os.path.exists(demo_env["OSM_L2SM_STATE_DIR"]), "the sandbox's state folder is left"


def test_cdn_demo_rejects_bad_rate(demo_env):
    result = _cli(demo_env, "demo", "cdn", "--sandbox", SANDBOX, "--rate", "fast")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["osm-l2sm: error: --rate 'fast': use curl's form, e.g. 200k or 6M"]
    assert _own_namespaces() == []


def test_cdn_demo_names_a_broken_profile(demo_env, tmp_path):
    import shutil
    from pathlib import Path

    packages = tmp_path / "packages"
    shutil.copytree(Path(__file__).resolve().parents[2] / "descriptors", packages, symlinks=False)
    (packages / "router_firewall_knf" / "sandbox" / "router-firewall.yaml").write_text("setup: not-a-list\n")
    result = _cli(demo_env, "demo", "cdn", "--sandbox", SANDBOX, "--packages", str(packages))
    assert result.returncode == 1
    assert "router_firewall_knf/sandbox/router-firewall.yaml: setup: must be a list" in result.stderr
