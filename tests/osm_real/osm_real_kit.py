"""What the real-OSM tests share, and the real-pods tier's OSM test too (a plain module: `conftest` names are
ambiguous): the OSM kit prepared, a real NBI started and stopped, the CDN onboarded, LCM's Helm connector run."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from osm_l2sm.cli import main
from osm_l2sm.processes import stop_process, wait_until
from osm_l2sm.descriptors import load_package
from osm_l2sm.osm.nbi import RestNbi
from tests.conftest import unavailable
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "osm-real-token"
PACKAGES = ("cdn_cache_knf", "router_firewall_knf", "content_server_knf", "cdn_ns")  # VNF packages first
LOCAL = [str(REPO / "descriptors" / name) for name in PACKAGES]
START_TIMEOUT = 120.0  # seconds for NBI's start-up on a busy two-core machine
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


def prepare_osm_tier() -> dict:
    """The kit and its prepared work folder: ``{"kit": Path, "work": Path, "python": Path}`` (skips, or fails under
    CI, without the kit)."""
    kit = kit_dir()
    if kit is None:
        unavailable("needs OSM's release-19 sources: set OSM_L2SM_OSM_KIT to the OSM kit folder (setup-osm-tier, "
                    "run-nbi, src/*.tar.gz; see docs/osm.md) or put it at ../shared/osm (beside the repository or "
                    "its origin)")
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


def prepare_lcm_tier(osm_tier: dict) -> dict:
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
    def started() -> str | None:
        if proc.poll() is not None:
            return "exited"
        return "ready" if b"nbi_memory_launcher: READY" in log.read_bytes() else None

    if wait_until(started, START_TIMEOUT, 0.2) != "ready":
        stop_nbi(nbi)
        pytest.fail(f"OSM NBI did not start on port {port}; see {log}", pytrace=False)
    return nbi


def stop_nbi(nbi: RealNbi) -> None:
    """SIGTERM, then SIGKILL: NBI's subscription thread takes up to 25 s to notice a SIGTERM, and the in-memory
    database loses nothing that is not lost anyway."""
    stop_process(nbi.pid, grace=3.0, kill_wait=10.0)


def nbi_storage(nbi: RealNbi) -> Path:
    """The package store of this NBI (``run-nbi``'s storage path with the launcher's ``-store`` suffix): the
    storage LCM shares with NBI, where the onboarded packages and their bundled charts are."""
    return nbi.tier["work"] / "run" / f"nbi-{nbi.port}" / "storage-store"


def lcm_helm(lcm_tier: dict, bin_dir: str | Path, request: dict, timeout: float = 900,
             netns: str | None = None) -> dict:
    """Runs ``lcm_kdus.py`` (LCM's own K8sHelm3Connector) with LCM's podLabels post-renderer switched on as LCM's
    image does (``OSMLCM_MAINPOSTRENDERERPATH``, ``OSMLCM_PODLABELSPOSTRENDERERPATH``), real ``helm`` and
    ``kubectl`` from ``bin_dir`` first on PATH. The podLabels script copies its kustomization.yaml from where LCM's
    image installs LCM (``/usr/lib/python3/dist-packages/osm_lcm/...``): the driver runs in a private mount
    namespace where LCM's sources are overlaid there, so nothing on the host changes. ``netns``: run in that
    network namespace (where the cluster's API server is reachable)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        unavailable("LCM's Helm connector runs in a private mount namespace here: needs root and unshare")
    scripts = Path(lcm_tier["lcm_src"]) / "osm_lcm" / "n2vc" / "post-renderer-scripts"
    env = dict(os.environ, PYTHONPATH=str(lcm_tier["lcm_src"]), PATH=f"{bin_dir}:{os.environ.get('PATH', '')}",
               OSMLCM_MAINPOSTRENDERERPATH=str(scripts / "mainPostRenderer" / "mainPostRenderer"),
               OSMLCM_PODLABELSPOSTRENDERERPATH=str(scripts / "podLabels" / "podLabels"))
    with tempfile.TemporaryDirectory(prefix="lcm-overlay-") as low:
        os.symlink(Path(lcm_tier["lcm_src"]) / "osm_lcm", Path(low) / "osm_lcm")
        dist = "/usr/lib/python3/dist-packages"
        done = subprocess.run(
            [*(["nsenter", f"--net=/run/netns/{netns}"] if netns else []),
             "unshare", "--mount", "--propagation", "private", "sh", "-c",
             f'mount -t overlay overlay -o lowerdir="$1":{dist} {dist} && exec "$2" "$3"', "sh", low,
             str(lcm_tier["python"]), str(Path(__file__).with_name("lcm_kdus.py"))],
            input=json.dumps(request), capture_output=True, text=True, timeout=timeout, check=False, env=env)
    assert done.returncode == 0, f"LCM's K8sHelm3Connector {request['op']} failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout) if done.stdout.strip() else {}


def lcm_install_kdus(lcm_tier: dict, bin_dir: str | Path, nbi: RealNbi, ns_id: str, kubeconfig: str | Path,
                     atomic: bool = True, timeout: float = 600, netns: str | None = None) -> list[dict]:
    """Installs NS ``ns_id``'s KDUs as LCM's deploy_kdus does, from the records ``nbi`` made; returns what LCM
    keeps in ``_admin.deployed.K8s``. ``atomic`` is LCM's (helm --atomic waits for every pod to be ready)."""
    client = nbi.client()
    vnfrs = client.vnf_records(ns_id)
    vnfds = [client._json("GET", f"/vnfpkgm/v1/vnf_packages/{vnfd_id}")
             for vnfd_id in sorted({v["vnfd-id"] for v in vnfrs})]
    return lcm_helm(lcm_tier, bin_dir, {
        "op": "install", "storage": str(nbi_storage(nbi)) + "/", "kubeconfig": Path(kubeconfig).read_text(),
        "nsr": client.ns_record(ns_id), "vnfrs": vnfrs, "vnfds": vnfds, "atomic": atomic, "timeout": timeout,
    }, timeout=timeout + 300, netns=netns)["kdus"]


def lcm_uninstall_kdus(lcm_tier: dict, bin_dir: str | Path, nbi: RealNbi, kdus: list[dict],
                       netns: str | None = None) -> None:
    """Termination's part of LCM's connector: ``uninstall`` of every KDU ``lcm_install_kdus`` installed."""
    lcm_helm(lcm_tier, bin_dir, {"op": "uninstall", "storage": str(nbi_storage(nbi)) + "/", "kdus": kdus},
             netns=netns)


def onboard_cdn(nbi: RealNbi, packages: list[Path], kubeconfig: Path) -> dict:
    """The CDN packages onboarded by our client, a VIM and a WIM account, and a K8s cluster (``kubeconfig`` its
    credentials) on the VIM: NBI places an NS's KNFs only on a VIM that has one."""
    client = nbi.client()
    ids = {}
    for archive in packages:
        pkg = load_package(archive)
        ids[pkg.id] = (client.onboard_nsd if pkg.kind == "nsd" else client.onboard_vnfd)(archive)
    vim = client._json("POST", "/admin/v1/vim_accounts", json={
        "name": "k8s-vim", "vim_type": "dummy", "vim_url": "http://127.0.0.1:1", "vim_user": "u",
        "vim_password": "p", "vim_tenant_name": "t"})["id"]
    wim = client._json("POST", "/admin/v1/wim_accounts", json={
        "name": "l2-wim", "wim_type": "dummy", "wim_url": "http://127.0.0.1:2"})["id"]
    assert main(["k8scluster-add", "edge", "--creds", str(kubeconfig), "--version", "1.29", "--vim", "k8s-vim",
                 "--package", *LOCAL, "--osm-host", nbi.url]) == 0
    return {"url": nbi.url, "nbi": client, "ids": ids, "vim": vim, "wim": wim, "kubeconfig": kubeconfig}
