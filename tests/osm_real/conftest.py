"""Fixtures of the real-OSM tier: OSM release 19's own NBI, run with in-memory backends on loopback.

The OSM kit (``setup-osm-tier``, ``run-nbi``, ``nbi-onboard`` and OSM's source tarballs) is found through
``OSM_L2SM_OSM_KIT``, else ``../shared/osm`` next to the repository. ``setup-osm-tier`` prepares its work folder
once in ``${OSM_L2SM_CACHE:-~/.cache/osm-l2sm}/osm-tier`` (about a minute the first time, pip from PyPI); each NBI
runs on a free loopback port and is stopped by its pid. Without the kit the tier skips (fails under ``CI=true``).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from osm_l2sm.controller import ControllerProcess
from osm_l2sm.osm.nbi import RestNbi
from tests.ports import free_port

try:
    from tests.conftest import unavailable
except ImportError:  # plain `pytest` leaves the repository root off sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.conftest import unavailable

from osm_real_kit import PACKAGES, REPO, TOKEN

CACHE = Path(os.environ.get("OSM_L2SM_CACHE", Path.home() / ".cache" / "osm-l2sm"))
START_TIMEOUT = 120.0  # seconds for NBI's start-up on a busy two-core machine
SETUP_TIMEOUT = 1200.0  # the first setup installs NBI's requirements from PyPI


def kit_dir() -> Path | None:
    given = os.environ.get("OSM_L2SM_OSM_KIT")
    path = Path(given) if given else REPO.parent / "shared" / "osm"
    return path if (path / "setup-osm-tier").is_file() and (path / "run-nbi").is_file() else None


@pytest.fixture(scope="session")
def osm_tier() -> dict:
    """The kit and its prepared work folder: ``{"kit": Path, "work": Path, "python": Path}``."""
    kit = kit_dir()
    if kit is None:
        unavailable("needs OSM's release-19 sources: set OSM_L2SM_OSM_KIT to the OSM kit folder (setup-osm-tier, "
                    "run-nbi, src/*.tar.gz; see docs/osm.md) or put it at ../shared/osm")
    work = CACHE / "osm-tier"
    work.parent.mkdir(parents=True, exist_ok=True)
    log = CACHE / "osm-tier-setup.log"
    with open(log, "wb") as out:
        done = subprocess.run([str(kit / "setup-osm-tier"), str(work)], stdout=out, stderr=subprocess.STDOUT,
                              timeout=SETUP_TIMEOUT, check=False)
    if done.returncode != 0:
        pytest.fail(f"setup-osm-tier {work} failed ({done.returncode}); see {log}", pytrace=False)
    return {"kit": kit, "work": work, "python": work / "venv" / "bin" / "python"}


@dataclass
class RealNbi:
    url: str
    port: int
    pid: int
    log: Path
    tier: dict

    def client(self) -> RestNbi:
        return RestNbi(self.url)

    def onboard(self, *packages: str | Path, clean: bool = False) -> subprocess.CompletedProcess:
        """The kit's ``nbi-onboard`` (uploads as osmclient does): NBI's own verdict on the packages."""
        cmd = [str(self.tier["python"]), str(self.tier["kit"] / "nbi-onboard"), "--nbi", self.url]
        return subprocess.run(cmd + (["--clean"] if clean else []) + [str(p) for p in packages],
                              capture_output=True, text=True, timeout=300, check=False)


def start_nbi(tier: dict, log_dir: Path) -> RealNbi:
    port = free_port()
    log = log_dir / f"nbi-{port}.log"
    out = open(log, "wb")
    proc = subprocess.Popen([str(tier["kit"] / "run-nbi"), str(tier["work"]), str(port)], stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    out.close()
    nbi = RealNbi(f"http://127.0.0.1:{port}/osm", port, proc.pid, log, tier)
    deadline = time.monotonic() + START_TIMEOUT
    while b"nbi_memory_launcher: READY" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_nbi(nbi)
            pytest.fail(f"OSM NBI did not start on port {port}; see {log}", pytrace=False)
        time.sleep(0.2)
    return nbi


def stop_nbi(nbi: RealNbi) -> None:
    """SIGTERM, then SIGKILL: NBI's subscription thread takes up to 25 s to notice a SIGTERM, and the in-memory
    database loses nothing that is not lost anyway."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
        try:
            os.kill(nbi.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if os.waitpid(nbi.pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:
                return
            time.sleep(0.1)


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


@pytest.fixture
def controller(tmp_path):
    """A real controller process, the network target of ns-create here (no Kubernetes needed)."""
    proc = ControllerProcess(str(tmp_path / "controller-state.json"), of_listen=f"127.0.0.1:{free_port()}",
                             rest_listen=f"127.0.0.1:{free_port()}", token=TOKEN,
                             log_file=str(tmp_path / "controller.log"))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
