"""The package as a wheel, the way `pip install .` ships it: it carries the reference service's OSM packages and the
Helm charts as real files, and the CDN demo runs from an installed wheel, outside any checkout."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.demo.test_cdn_demo import SANDBOX, _own_links, _own_namespaces, _processes_using

REPO = Path(__file__).resolve().parents[2]
DATA = ("descriptors", "helm-charts")  # the repository's folders the wheel carries under osm_l2sm/data/


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout (links kept as links, no earlier build/ folder), offline: the
    setuptools and wheel of this environment (the `test` extra) build it."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "bench"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(work / "dist"), str(src)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (found,) = (work / "dist").glob("osm_l2sm-*.whl")
    return found


def _repo_files(folder: str) -> set[str]:
    """Files under a repository folder as a reader sees them: through links, so linked charts count as files."""
    root = REPO / folder
    return {str(Path(d, f).relative_to(root)) for d, _, files in os.walk(root, followlinks=True) for f in files
            if "__pycache__" not in d}


def test_wheel_carries_descriptors_and_charts_as_real_files(wheel):
    with zipfile.ZipFile(wheel) as whl:
        entries = {i.filename: i for i in whl.infolist()}
    for folder in DATA:
        prefix = f"osm_l2sm/data/{folder}/"
        shipped = {name[len(prefix):] for name in entries if name.startswith(prefix)}
        assert shipped == _repo_files(folder), f"the wheel's {folder}/ differs from the repository's"
        links = [n for n in entries if n.startswith(prefix) and stat.S_ISLNK(entries[n].external_attr >> 16)]
        assert links == [], "the wheel keeps links, which an installed package cannot follow"
    assert "osm_l2sm/data/helm-charts/l2sm/Chart.yaml" in entries


@pytest.mark.root
def test_demo_runs_from_the_wheel_installed_in_a_new_venv(require_root_ovs, wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # The wheel itself, with no index; then its dependencies from this environment through a .pth line (written
    # after, or pip would find this environment's osm-l2sm installed already), which Python adds after the venv's
    # own site-packages, so osm_l2sm is the wheel's.
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "deps-of-the-test-environment.pth").write_text("\n".join(
        p for p in sys.path if p.endswith("site-packages")) + "\n")

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
               OSM_L2SM_SANDBOX=SANDBOX, OSM_L2SM_STATE_DIR=str(tmp_path / "state"))

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "osm-l2sm"), *args], cwd=outside, env=env, capture_output=True,
                              text=True, timeout=600)

    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import osm_l2sm.data as d; print(d.root())"],
                           cwd=outside, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv), f"the demo would read {where}, not the installed package's data"
    try:
        result = cli("demo", "cdn", "--sandbox", SANDBOX, "--json")
        assert result.returncode in (0, 1), result.stderr[-2000:]
        report = json.loads(result.stdout)
        assert report["ok"] is True, [c for c in report["checks"] if not c["ok"]]
        assert result.returncode == 0
    finally:
        down = cli("demo", "cdn", "--sandbox", SANDBOX, "--down")
    assert down.returncode == 0, down.stderr
    assert _own_namespaces() == [] and _own_links() == []
    assert _processes_using(env["OSM_L2SM_STATE_DIR"]) == []
    assert not os.path.exists(env["OSM_L2SM_STATE_DIR"]), "the sandbox's state folder is left"
