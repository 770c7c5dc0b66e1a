"""Fixtures of the real-OSM tier: OSM release 19's own NBI, run with in-memory backends on loopback.

The OSM kit (``setup-osm-tier``, ``run-nbi``, ``nbi-onboard`` and OSM's source tarballs) is found through
``OSM_L2SM_OSM_KIT``, else ``../shared/osm`` next to the repository. ``setup-osm-tier`` prepares its work folder
once in ``${OSM_L2SM_CACHE:-~/.cache/osm-l2sm}/osm-tier`` (about a minute the first time, pip from PyPI); each NBI
runs on a free loopback port and is stopped by its pid. Without the kit the tier skips (fails under ``CI=true``).
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from osm_real_kit import (PACKAGES, REPO, TOKEN, RealNbi, onboard_cdn, prepare_lcm_tier, prepare_osm_tier, start_nbi,
                          stop_nbi)


@pytest.fixture(scope="session")
def osm_tier() -> dict:
    """The kit and its prepared work folder: ``{"kit": Path, "work": Path, "python": Path}``."""
    return prepare_osm_tier()


@pytest.fixture(scope="session")
def lcm_tier(osm_tier) -> dict:
    """The kit's work folder prepared ``--with-lcm`` (LCM's Helm connector importable):
    ``{"python": venv python, "lcm_src": LCM sources}``."""
    return prepare_lcm_tier(osm_tier)


@contextmanager
def running_nbi(osm_tier, log_dir: Path):
    nbi = start_nbi(osm_tier, log_dir)
    try:
        yield nbi
    finally:
        stop_nbi(nbi)


@pytest.fixture(scope="session")
def real_nbi(osm_tier, tmp_path_factory) -> RealNbi:
    """One real NBI for the session; the tests that use it pick unique names and clean up what they make."""
    with running_nbi(osm_tier, tmp_path_factory.mktemp("nbi")) as nbi:
        yield nbi


@pytest.fixture(scope="module")
def catalogue_nbi(osm_tier, tmp_path_factory) -> RealNbi:
    """An NBI of the module's own, for tests that empty its catalogue (``nbi-onboard --clean``) for every case."""
    with running_nbi(osm_tier, tmp_path_factory.mktemp("nbi-catalogue")) as nbi:
        yield nbi


@pytest.fixture(scope="session")
def built_packages(tmp_path_factory) -> list[Path]:
    """The CDN packages as `osm-l2sm package build` makes them (VNF packages first)."""
    from osm_l2sm.descriptors import build_package

    out = tmp_path_factory.mktemp("pkgs")
    return [build_package(REPO / "descriptors" / name, out) for name in PACKAGES]


@pytest.fixture(scope="session")
def osm(real_nbi, built_packages, tmp_path_factory):
    """Real NBI with the CDN packages onboarded by our client, a VIM and a WIM account, and a K8s cluster."""
    kubeconfig = tmp_path_factory.mktemp("kube") / "kubeconfig.yaml"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}]}))
    return onboard_cdn(real_nbi, built_packages, kubeconfig)


@pytest.fixture
def controller_token() -> str:
    """The bearer token of the ``controller`` fixture (tests/controllers.py), the network target of ns-create
    here (no Kubernetes needed)."""
    return TOKEN


TABLES = (("test_osm_real_osm_mode_corpus", "OSM mode with real users' NS packages (real NBI, kube-apiserver)"),
          ("test_osm_real_validate", "osm-l2sm validate vs OSM NBI v19 onboarding"),
          ("test_osm_real_corpus", "real OSM packages: OSM IM, NBI v19, osm-l2sm validate and plan"))


def pytest_terminal_summary(terminalreporter) -> None:
    """The OSM-mode admission latency and the tables of the corpus and validation tests, when their tests ran."""
    operator = sys.modules.get("test_osm_real_operator")
    if operator and operator.SUMMARY:
        terminalreporter.section("OSM-mode admission latency (real NBI)")
        for line in operator.SUMMARY:
            terminalreporter.write_line(line)
    for name, title in TABLES:
        module = sys.modules.get(name)
        lines = module.table_lines() if module else []
        if lines:
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line)
