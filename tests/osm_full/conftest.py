"""Fixtures of the full-OSM tier: OSM release 19's NBI, NG-RO and LCM as processes of their own (osm_full_kit.py),
the real osmclient in front of NBI, and the real-pods cluster with the l2sm chart in OSM mode reading this NBI.

LCM runs in the cluster's network namespace (where the API server is, as LCM runs where it reaches its clusters),
with the database and RO ports of the host offered there on 127.0.0.1 (tests/realpods/netns_forward.py), and in a
private mount namespace where LCM's sources are overlaid at the path its podLabels post-renderer copies its
kustomization from (as lcm_helm does for the real-OSM tier). Without a prerequisite the tier skips (fails under
``CI=true``).
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT, ROOT / "tests" / "osm_real", Path(__file__).parent):
    if str(folder) not in sys.path:
        sys.path.append(str(folder))

from osm_full_kit import prepare_full_osm, start_full_osm, start_lcm, stop_full_osm  # noqa: E402
from osm_real_kit import prepare_osm_tier  # noqa: E402
from osmclient_kit import TlsFront, prepare_osmclient  # noqa: E402
from tests.realpods.conftest import CACHE, RELEASE_NS  # noqa: E402
from tests.realpods.test_6_osm_cdn import _forward, _l2sm_with_osm, _node_ip  # noqa: E402

DIST = "/usr/lib/python3/dist-packages"  # where LCM's podLabels script looks for its kustomization.yaml


@pytest.fixture(scope="session")
def full_setup() -> dict:
    return prepare_full_osm()


@pytest.fixture(scope="session")
def osmclient(full_setup) -> Path:
    return prepare_osmclient(prepare_osm_tier())


@pytest.fixture(scope="module")
def bare_osm(full_setup, osmclient):
    """OSM (FerretDB, NBI, NG-RO, LCM) on the host's loopback, no cluster: ``{"osm", "front", "osm_script"}``."""
    run = Path(tempfile.mkdtemp(prefix="osm-full-"))
    osm = start_full_osm(full_setup, run)
    front = None
    try:
        start_lcm(osm, full_setup, CACHE / "bin")
        front = TlsFront(osm.nbi_port, run)
        yield {"osm": osm, "front": front, "osm_script": osmclient, "run": run}
    finally:
        if front is not None:
            front.close()
        stop_full_osm(osm)
        shutil.rmtree(run, ignore_errors=True)


@pytest.fixture(scope="module")
def full_osm(full_setup, osmclient, l2sm, tmp_path_factory):
    """OSM (FerretDB, NBI, NG-RO, LCM) up, osmclient's TLS front, the l2sm operator in OSM mode on this NBI:
    ``{"osm": FullOsm, "front": TlsFront, "osm_script": Path, "cluster": Cluster, "setup": dict}``."""
    run = Path(tempfile.mkdtemp(prefix="osm-full-"))
    osm = start_full_osm(full_setup, run)
    forwarders, front, overlay = [], None, Path(tempfile.mkdtemp(prefix="osm-full-lcm-overlay-"))
    try:
        for port in (osm.db_port, osm.ro_port):  # LCM's view of them, inside the cluster's namespace
            forwarders.append(_forward(l2sm, "127.0.0.1", port))
        host = _node_ip(l2sm)
        forwarders.append(_forward(l2sm, host, osm.nbi_port))  # the operator's view of NBI
        (overlay / "osm_lcm").symlink_to(full_setup["src"] / "LCM" / "osm_lcm")
        scripts = full_setup["src"] / "LCM" / "osm_lcm" / "n2vc" / "post-renderer-scripts"
        wrap = ["nsenter", f"--net=/run/netns/{l2sm.netns}", "unshare", "--mount", "--propagation", "private",
                "sh", "-c", f'mount -t overlay overlay -o lowerdir="$0":{DIST} {DIST} && exec "$@"', str(overlay)]
        start_lcm(osm, full_setup, CACHE / "bin", wrap=wrap, env={
            "OSMLCM_MAINPOSTRENDERERPATH": str(scripts / "mainPostRenderer" / "mainPostRenderer"),
            "OSMLCM_PODLABELSPOSTRENDERERPATH": str(scripts / "podLabels" / "podLabels")})
        front = TlsFront(osm.nbi_port, run)
        l2sm.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "osm-nbi"},
                    "stringData": {"user": "admin", "password": "admin"}}, namespace=RELEASE_NS)
        _l2sm_with_osm(l2sm, f"http://{host}:{osm.nbi_port}/osm")
        try:
            yield {"osm": osm, "front": front, "osm_script": osmclient, "cluster": l2sm, "setup": full_setup}
        finally:
            _l2sm_with_osm(l2sm, None)
            l2sm.kubectl("-n", RELEASE_NS, "delete", "secret", "osm-nbi", check=False)
    finally:
        if front is not None:
            front.close()
        stop_full_osm(osm)
        for proc in forwarders:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(overlay, ignore_errors=True)
        shutil.rmtree(run, ignore_errors=True)
