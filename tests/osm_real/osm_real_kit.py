"""Constants shared by the real-OSM tests (a plain module: `conftest` names are ambiguous)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from osm_l2sm.osm.nbi import RestNbi
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "osm-real-token"
PACKAGES = ("cdn_cache_knf", "router_firewall_knf", "content_server_knf", "cdn_ns")  # VNF packages first
LOCAL = [str(REPO / "descriptors" / name) for name in PACKAGES]
START_TIMEOUT = 120.0  # seconds for NBI's start-up on a busy two-core machine


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


def nbi_storage(nbi: RealNbi) -> Path:
    """The package store of this NBI (``run-nbi``'s storage path with the launcher's ``-store`` suffix): the
    storage LCM shares with NBI, where the onboarded packages and their bundled charts are."""
    return nbi.tier["work"] / "run" / f"nbi-{nbi.port}" / "storage-store"


def lcm_helm(lcm_tier: dict, bin_dir: str | Path, request: dict, timeout: float = 900) -> dict:
    """Runs ``lcm_kdus.py`` (LCM's own K8sHelm3Connector) with LCM's podLabels post-renderer switched on as LCM's
    image does (``OSMLCM_MAINPOSTRENDERERPATH``, ``OSMLCM_PODLABELSPOSTRENDERERPATH``), real ``helm`` and
    ``kubectl`` from ``bin_dir`` first on PATH. The podLabels script copies its kustomization.yaml from where LCM's
    image installs LCM (``/usr/lib/python3/dist-packages/osm_lcm/...``): the driver runs in a private mount
    namespace where LCM's sources are overlaid there, so nothing on the host changes."""
    scripts = Path(lcm_tier["lcm_src"]) / "osm_lcm" / "n2vc" / "post-renderer-scripts"
    env = dict(os.environ, PYTHONPATH=str(lcm_tier["lcm_src"]), PATH=f"{bin_dir}:{os.environ.get('PATH', '')}",
               OSMLCM_MAINPOSTRENDERERPATH=str(scripts / "mainPostRenderer" / "mainPostRenderer"),
               OSMLCM_PODLABELSPOSTRENDERERPATH=str(scripts / "podLabels" / "podLabels"))
    with tempfile.TemporaryDirectory(prefix="lcm-overlay-") as low:
        os.symlink(Path(lcm_tier["lcm_src"]) / "osm_lcm", Path(low) / "osm_lcm")
        dist = "/usr/lib/python3/dist-packages"
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f'mount -t overlay overlay -o lowerdir="$1":{dist} {dist} && exec "$2" "$3"', "sh", low,
             str(lcm_tier["python"]), str(Path(__file__).with_name("lcm_kdus.py"))],
            input=json.dumps(request), capture_output=True, text=True, timeout=timeout, check=False, env=env)
    assert done.returncode == 0, f"LCM's K8sHelm3Connector {request['op']} failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout) if done.stdout.strip() else {}


def lcm_install_kdus(lcm_tier: dict, bin_dir: str | Path, nbi: RealNbi, ns_id: str, kubeconfig: str | Path,
                     atomic: bool = True, timeout: float = 600) -> list[dict]:
    """Installs NS ``ns_id``'s KDUs as LCM's deploy_kdus does, from the records ``nbi`` made; returns what LCM
    keeps in ``_admin.deployed.K8s``. ``atomic`` is LCM's (helm --atomic waits for every pod to be ready)."""
    client = nbi.client()
    vnfrs = client.vnf_records(ns_id)
    vnfds = [client._json("GET", f"/vnfpkgm/v1/vnf_packages/{vnfd_id}")
             for vnfd_id in sorted({v["vnfd-id"] for v in vnfrs})]
    return lcm_helm(lcm_tier, bin_dir, {
        "op": "install", "storage": str(nbi_storage(nbi)) + "/", "kubeconfig": Path(kubeconfig).read_text(),
        "nsr": client.ns_record(ns_id), "vnfrs": vnfrs, "vnfds": vnfds, "atomic": atomic, "timeout": timeout,
    })["kdus"]


def lcm_uninstall_kdus(lcm_tier: dict, bin_dir: str | Path, nbi: RealNbi, kdus: list[dict]) -> None:
    """Termination's part of LCM's connector: ``uninstall`` of every KDU ``lcm_install_kdus`` installed."""
    lcm_helm(lcm_tier, bin_dir, {"op": "uninstall", "storage": str(nbi_storage(nbi)) + "/", "kdus": kdus})
