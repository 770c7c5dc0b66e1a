"""Fixtures of the real-OSM tier: OSM release 19's own NBI, run with in-memory backends on loopback.

The OSM kit (``setup-osm-tier``, ``run-nbi``, ``nbi-onboard`` and OSM's source tarballs) is found through
``OSM_L2SM_OSM_KIT``, else ``../shared/osm`` next to the repository. ``setup-osm-tier`` prepares its work folder
once in ``${OSM_L2SM_CACHE:-~/.cache/osm-l2sm}/osm-tier`` (about a minute the first time, pip from PyPI); each NBI
runs on a free loopback port and is stopped by its pid. Without the kit the tier skips (fails under ``CI=true``).
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from osm_l2sm.cli import main
from osm_l2sm.descriptors import load_package
from tests.controllers import running_controller

try:
    from tests.conftest import unavailable
except ImportError:  # plain `pytest` leaves the repository root off sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.conftest import unavailable

from osm_real_kit import LOCAL, PACKAGES, REPO, TOKEN, RealNbi, start_nbi, stop_nbi

CACHE = Path(os.environ.get("OSM_L2SM_CACHE", Path.home() / ".cache" / "osm-l2sm"))
SETUP_TIMEOUT = 1200.0  # the first setup installs NBI's requirements from PyPI


def kit_dir() -> Path | None:
    """``OSM_L2SM_OSM_KIT``, else ``../shared/osm`` beside the repository, or beside the repository a local clone
    was made from (CI runs in a fresh clone elsewhere)."""
    given = os.environ.get("OSM_L2SM_OSM_KIT")
    candidates = [Path(given)] if given else [REPO.parent / "shared" / "osm"]
    if not given:
        origin = subprocess.run(["git", "-C", str(REPO), "remote", "get-url", "origin"], capture_output=True,
                                text=True, check=False).stdout.strip()
        if origin and Path(origin).is_dir():
            candidates.append(Path(origin).resolve().parent / "shared" / "osm")
    for path in candidates:
        if (path / "setup-osm-tier").is_file() and (path / "run-nbi").is_file():
            return path
    return None


@pytest.fixture(scope="session")
def osm_tier() -> dict:
    """The kit and its prepared work folder: ``{"kit": Path, "work": Path, "python": Path}``."""
    kit = kit_dir()
    if kit is None:
        unavailable("needs OSM's release-19 sources: set OSM_L2SM_OSM_KIT to the OSM kit folder (setup-osm-tier, "
                    "run-nbi, src/*.tar.gz; see docs/osm.md) or put it at ../shared/osm (beside the repository or its origin)")
    work = CACHE / "osm-tier"
    work.parent.mkdir(parents=True, exist_ok=True)
    log = CACHE / "osm-tier-setup.log"
    with open(log, "wb") as out:
        done = subprocess.run([str(kit / "setup-osm-tier"), str(work)], stdout=out, stderr=subprocess.STDOUT,
                              timeout=SETUP_TIMEOUT, check=False)
    if done.returncode != 0:
        pytest.fail(f"setup-osm-tier {work} failed ({done.returncode}); see {log}", pytrace=False)
    return {"kit": kit, "work": work, "python": work / "venv" / "bin" / "python"}


def lcm_python() -> str | None:
    """A CPython 3.10 for LCM's code (its pins need 3.10): ``OSM_L2SM_LCM_PYTHON``, else ``python3.10`` on PATH,
    else one that pyenv installed (its shim answers only for the versions it was told to use)."""
    candidates = [os.environ.get("OSM_L2SM_LCM_PYTHON"), shutil.which("python3.10"),
                  *sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.10*" / "bin" / "python3.10")))]
    for candidate in filter(None, candidates):
        try:
            ok = subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 10)"],
                                capture_output=True, check=False, timeout=60).returncode == 0
        except OSError:
            ok = False
        if ok:
            return candidate
    return None


@pytest.fixture(scope="session")
def lcm_tier(osm_tier) -> dict:
    """The kit's work folder prepared ``--with-lcm`` (LCM's Helm connector importable):
    ``{"python": venv python, "lcm_src": LCM sources}``."""
    python = lcm_python()
    if python is None:
        unavailable("needs CPython 3.10 for OSM LCM's code (set OSM_L2SM_LCM_PYTHON or put python3.10 on PATH)")
    work = CACHE / "osm-tier-lcm"
    log = CACHE / "osm-tier-lcm-setup.log"
    with open(log, "wb") as out:
        done = subprocess.run([str(osm_tier["kit"] / "setup-osm-tier"), str(work), "--with-lcm"], stdout=out,
                              stderr=subprocess.STDOUT, timeout=SETUP_TIMEOUT, check=False,
                              env=dict(os.environ, OSM_PYTHON=python))
    if done.returncode != 0:
        pytest.fail(f"setup-osm-tier {work} --with-lcm failed ({done.returncode}); see {log}", pytrace=False)
    return {"python": work / "venv" / "bin" / "python", "lcm_src": work / "src" / "osm-nbi-lcm-v19" / "LCM"}


@pytest.fixture(scope="session")
def real_nbi(osm_tier, tmp_path_factory) -> RealNbi:
    """One real NBI for the session; the tests that use it pick unique names and clean up what they make."""
    nbi = start_nbi(osm_tier, tmp_path_factory.mktemp("nbi"))
    try:
        yield nbi
    finally:
        stop_nbi(nbi)


@pytest.fixture(scope="session")
def built_packages(tmp_path_factory) -> list[Path]:
    """The CDN packages as `osm-l2sm package build` makes them (VNF packages first)."""
    from osm_l2sm.descriptors import build_package

    out = tmp_path_factory.mktemp("pkgs")
    return [build_package(REPO / "descriptors" / name, out) for name in PACKAGES]


@pytest.fixture(scope="session")
def osm(real_nbi, built_packages, tmp_path_factory):
    """Real NBI with the CDN packages onboarded by our client, a VIM and a WIM account, and a K8s cluster."""
    nbi = real_nbi.client()
    ids = {}
    for archive in built_packages:
        pkg = load_package(archive)
        ids[pkg.id] = (nbi.onboard_nsd if pkg.kind == "nsd" else nbi.onboard_vnfd)(archive)
    vim = nbi._json("POST", "/admin/v1/vim_accounts", json={
        "name": "k8s-vim", "vim_type": "dummy", "vim_url": "http://127.0.0.1:1", "vim_user": "u",
        "vim_password": "p", "vim_tenant_name": "t"})["id"]
    wim = nbi._json("POST", "/admin/v1/wim_accounts", json={
        "name": "l2-wim", "wim_type": "dummy", "wim_url": "http://127.0.0.1:2"})["id"]
    kubeconfig = tmp_path_factory.mktemp("kube") / "kubeconfig.yaml"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}]}))
    # NBI places an NS's KNFs only on a VIM that has a K8s cluster
    assert main(["k8scluster-add", "edge", "--creds", str(kubeconfig), "--version", "1.29", "--vim", "k8s-vim",
                 "--package", *LOCAL, "--osm-host", real_nbi.url]) == 0
    return {"url": real_nbi.url, "nbi": nbi, "ids": ids, "vim": vim, "wim": wim, "kubeconfig": kubeconfig}


@pytest.fixture
def controller(tmp_path):
    """A real controller process, the network target of ns-create here (no Kubernetes needed)."""
    with running_controller(tmp_path, TOKEN) as proc:
        yield proc


def pytest_terminal_summary(terminalreporter) -> None:
    """The validate-vs-NBI table, when its tests ran."""
    module = sys.modules.get("test_osm_real_validate")
    lines = module.table_lines() if module else []
    if lines:
        terminalreporter.section("osm-l2sm validate vs OSM NBI v19 onboarding")
        for line in lines:
            terminalreporter.write_line(line)
