"""The real-pods cluster's two session fixtures, ``k8s_node`` (the cluster up) and ``l2sm`` (the stock chart Ready).
They are registered once for the whole suite (tests/conftest.py's ``pytest_plugins``), not in a tier's conftest: every
tier that needs the cluster (realpods, osm_full) then shares one bring-up, as the machine holds one cluster at a
time."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.polling import wait_for
from tests.realpods.conftest import (CACHE, COMPONENTS, NODES, RELEASE, RELEASE_NS, ROOT, SCRIPTS, Cluster,
                                     l2sm_ready, missing_prerequisite, run, run_showing_progress)
from tests.realpods.timings import TIMINGS, report_timing


@pytest.fixture(scope="session")
def k8s_node(pytestconfig):
    """Images built (the project image from this checkout), the cluster up; torn down at the end whatever
    happened. Prints the bring-up timings."""
    reason = missing_prerequisite()
    if reason:
        unavailable(reason)
    started = time.monotonic()
    run_showing_progress(pytestconfig, SCRIPTS / "build-k8s-node-images", timeout=3600)
    built = time.monotonic()
    keep = os.environ.get("OSM_L2SM_REALPODS_KEEP") == "1"  # debugging: leave the cluster up, reuse it next time
    try:
        if not (keep and Path(CACHE / "k8s-node" / "run" / "nodes").exists()):  # the script's own "is up" mark
            run_showing_progress(pytestconfig, SCRIPTS / "k8s-node-cluster", "up", "--nodes", NODES, timeout=900)
        env = dict(line.split("=", 1) for line in run(SCRIPTS / "k8s-node-cluster", "env").stdout.split())
        cluster = Cluster(env, started=built)
        timings = Path(env["K8S_NODE_RUN"], "timings").read_text().split()
        report_timing(f"images {built - started:.0f} s, cluster {' '.join(timings)} s")
        yield cluster
    finally:
        if not keep:
            run(SCRIPTS / "k8s-node-cluster", "down", timeout=600, check=False)


def install_l2sm(cluster: Cluster) -> None:
    """The stock ``helm install l2sm helm-charts/l2sm`` with every component Ready; the time from the install to
    Ready is printed."""
    started = time.monotonic()
    cluster.helm("upgrade", "--install", RELEASE, ROOT / "helm-charts" / "l2sm", "-n", RELEASE_NS,
                 "--create-namespace")
    try:
        for component in COMPONENTS:
            wait_for(lambda c=component: l2sm_ready(cluster, c), f"l2sm {component} Ready", timeout=240, interval=2)
    except AssertionError:
        pods = cluster.kubectl("-n", RELEASE_NS, "get", "pods", "-o", "wide", check=False).stdout
        logs = cluster.kubectl("-n", RELEASE_NS, "logs", "--all-containers", "--tail=20", "--prefix", "-l",
                               "app.kubernetes.io/instance=l2sm", check=False).stdout
        raise AssertionError(f"the l2sm chart did not come up:\n{pods}\n{logs[-4000:]}") from None
    report_timing(f"l2sm chart Ready {time.monotonic() - started:.0f} s after helm install")


@pytest.fixture(scope="session")
def l2sm(k8s_node: Cluster) -> Cluster:
    """The stock chart installed and Ready (:func:`install_l2sm`); a test that removes it installs it again."""
    install_l2sm(k8s_node)
    return k8s_node


def pytest_terminal_summary(terminalreporter) -> None:
    """The timings the tests reported (every tier on the cluster: realpods, osm_full)."""
    if TIMINGS:
        terminalreporter.section("real-pods timings")
        for line in TIMINGS:
            terminalreporter.write_line(line)
