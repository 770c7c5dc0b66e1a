"""The CLI a user runs: exit codes, one-line errors, the plan as JSON and as a table, package build."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from cdn_package_copies import DESCRIPTORS, PACKAGES

ALL = [str(DESCRIPTORS / name) for name in PACKAGES]


def osm_l2sm(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "osm_l2sm", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_validate_the_repo_packages_exits_0():
    result = osm_l2sm("validate", *ALL)
    assert result.returncode == 0, result.stderr
    assert "ok  nsd  cdn_ns" in result.stdout


def test_validate_a_broken_copy_exits_1_with_one_line(pkg_copy):
    pkg_copy.edit("cdn_ns", lambda d: d["nsd"]["nsd"][0]["df"][0]["vnf-profile"][1].update({"vnfd-id": "x"}))
    result = osm_l2sm("validate", *[pkg_copy.root / name for name in PACKAGES])
    assert result.returncode == 1
    assert result.stderr == ("osm-l2sm: error: cdn_ns/cdn_nsd.yaml: nsd.nsd[0].df[0].vnf-profile[1].vnfd-id: "
                             "unknown VNFD 'x'\n")
    assert result.stdout == ""


def test_plan_json_has_two_networks_and_four_attachments():
    result = osm_l2sm("plan", *ALL, "--ns-name", "vod", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert [n["name"] for n in plan["networks"]] == ["vod-cache-vl", "vod-content-vl"]
    assert sorted(a["address"] for a in plan["attachments"]) == [
        "10.0.1.1/24", "10.0.1.10/24", "10.0.2.1/24", "10.0.2.10/24"]


def test_plan_table_and_config_file(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"vld": [{"name": "cache-vl", "vnfd-connection-point-ref": [
        {"member-vnf-index-ref": "cache", "vnfd-connection-point-ref": "cache-ext", "ip-address": "10.0.1.77"}]}]}))
    result = osm_l2sm("plan", *ALL, "--ns-name", "vod", "--config", config)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["cache", "cdn-cache", "cache-ext", "net1", "vod-cache-vl", "10.0.1.77/24"] in rows
    assert ["vod-content-vl", "content-vl", "10.0.2.0/24", "10.0.2.1"] in rows


def test_plan_with_an_unreadable_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("vld: [unclosed\n")
    result = osm_l2sm("plan", *ALL, "--ns-name", "vod", "--config", bad)
    assert result.returncode == 1
    assert result.stderr.startswith(f"osm-l2sm: error: {bad}: not valid YAML")
    assert result.stderr.count("\n") == 1


def test_plan_piped_into_a_reader_that_stopped_prints_no_traceback():
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `osm-l2sm plan ... | head -1` once head has exited
    try:
        result = subprocess.run([sys.executable, "-m", "osm_l2sm", "plan", *ALL, "--ns-name", "vod"],
                                stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr and "Error" not in result.stderr, result.stderr


def test_plan_of_a_missing_package_is_one_line():
    result = osm_l2sm("plan", "no/such/pkg", "--ns-name", "vod")
    assert (result.returncode, result.stderr) == (1, "osm-l2sm: error: no/such/pkg: (top): no such file or folder\n")


def test_package_build_writes_the_archive(tmp_path):
    result = osm_l2sm("package", "build", DESCRIPTORS / "cdn_ns", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "cdn_ns.tar.gz")
    assert osm_l2sm("validate", tmp_path / "cdn_ns.tar.gz", *ALL[1:]).returncode == 0


def test_validate_all_prints_every_problem(pkg_copy):
    def two_bad_addresses(doc):
        for profile in doc["nsd"]["nsd"][0]["df"][0]["vnf-profile"][::2]:
            profile["virtual-link-connectivity"][0]["constituent-cpd-id"][0]["ip-address"] = "192.0.2.1"
    pkg_copy.edit("cdn_ns", two_bad_addresses)
    result = osm_l2sm("validate", "--all", *[pkg_copy.root / name for name in PACKAGES])
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all("address 192.0.2.1 is outside the link's subnet" in line for line in lines)
