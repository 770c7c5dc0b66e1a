"""The plan as a picture (`osm-l2sm plan --format svg|dot`, Graphviz's real `dot`): every KNF with its interfaces
and addresses, every network with its CIDR, and the routes through the router are in the SVG; the picture the
README shows is what the command draws today."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cdn_package_copies import DESCRIPTORS
from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
README_PICTURE = ROOT / "docs" / "cdn-plan.svg"
# the README's command: `osm-l2sm plan descriptors/* --ns-name vod --format svg -o docs/cdn-plan.svg`
PACKAGES = sorted(str(p.relative_to(ROOT)) for p in DESCRIPTORS.iterdir() if p.is_dir())
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def dot() -> str:
    path = shutil.which("dot")
    if path is None:
        unavailable("needs Graphviz's dot (apt install graphviz)")
    return path


def osm_l2sm(*args, env=None):
    return subprocess.run([sys.executable, "-m", "osm_l2sm", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


def texts(svg: str) -> list[str]:
    """Every line of text the picture shows, spaces made plain."""
    root = ET.fromstring(svg)
    return [re.sub(r"\s+", " ", "".join(t.itertext())).strip() for t in root.iter(SVG + "text")]


def test_the_plan_picture_shows_every_knf_network_address_and_route(dot):
    plan = osm_l2sm("plan", *PACKAGES, "--ns-name", "vod", "--json")
    assert plan.returncode == 0, plan.stderr
    expected = json.loads(plan.stdout)
    done = osm_l2sm("plan", *PACKAGES, "--ns-name", "vod", "--format", "svg")
    assert done.returncode == 0, done.stderr
    shown = texts(done.stdout)
    for net in expected["networks"]:
        assert net["name"] in shown and net["cidr"] in shown and f"gw {net['gateway']}" in shown, net
    for kdu in expected["kdus"]:
        assert kdu["kdu"] in shown and f"member {kdu['member_vnf_index']}" in shown, kdu
    for att in expected["attachments"]:
        assert f"{att['interface']} {att['address']}" in shown, att
    routes = [t for t in shown if t.startswith("route via ")]
    assert sorted(routes) == ["route via 10.0.1.1 (router-firewall)", "route via 10.0.2.1 (router-firewall)"]


def test_the_dot_source_is_the_picture(dot, tmp_path):
    source = osm_l2sm("plan", *PACKAGES, "--ns-name", "vod", "--format", "dot", "-o", tmp_path / "ns.dot")
    assert source.returncode == 0 and source.stdout == "", source.stderr
    drawn = subprocess.run([dot, "-Tsvg", str(tmp_path / "ns.dot")], capture_output=True, text=True, check=True)
    assert drawn.stdout == osm_l2sm("plan", *PACKAGES, "--ns-name", "vod", "--format", "svg").stdout


def test_the_readme_picture_is_what_the_command_draws_today(dot):
    done = osm_l2sm("plan", *PACKAGES, "--ns-name", "vod", "--format", "svg")
    assert done.returncode == 0, done.stderr
    assert README_PICTURE.read_text() == done.stdout, \
        "docs/cdn-plan.svg is stale: osm-l2sm plan descriptors/* --ns-name vod --format svg -o docs/cdn-plan.svg"
    assert "docs/cdn-plan.svg" in (ROOT / "README.md").read_text()


def test_placed_knfs_are_drawn_inside_their_clusters(dot, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("vnf: [{member-vnf-index: cache, vimAccountId: vim-edge}]\n")
    done = osm_l2sm("plan", *PACKAGES, "--ns-name", "vod", "--config", config, "--vim-account", "vim-cloud",
                    "--cluster-map", "vim-cloud=cloud,vim-edge=edge", "--format", "svg")
    assert done.returncode == 0, done.stderr
    root = ET.fromstring(done.stdout)
    boxes = {}
    for g in root.iter(SVG + "g"):
        if g.get("class") == "cluster":
            points = [tuple(map(float, p.split(","))) for p in g.find(SVG + "polygon").get("points").split()]
            xs, ys = [x for x, _ in points], [y for _, y in points]
            boxes["".join(g.find(SVG + "text").itertext())] = (min(xs), max(xs), min(ys), max(ys))
    assert set(boxes) == {"cluster edge", "cluster cloud"}
    placed = {}
    for g in root.iter(SVG + "g"):
        title = g.find(SVG + "title")
        if g.get("class") == "node" and title.text.startswith("knf:"):
            x, y = (float(g.find(SVG + "text").get(k)) for k in ("x", "y"))
            placed[title.text] = [name for name, (x0, x1, y0, y1) in boxes.items() if x0 <= x <= x1 and y0 <= y <= y1]
    assert placed == {"knf:cache:cdn-cache": ["cluster edge"], "knf:router:router-firewall": ["cluster cloud"],
                      "knf:content:content-server": ["cluster cloud"]}


def test_without_graphviz_svg_is_refused_in_one_line(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no dot there
    done = osm_l2sm("plan", *PACKAGES, "--ns-name", "vod", "--format", "svg", env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("osm-l2sm: error: drawing SVG needs Graphviz's dot command: apt install graphviz "
                           "(or use --format dot)\n")
