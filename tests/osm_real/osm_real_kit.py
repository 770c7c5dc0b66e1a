"""Constants shared by the real-OSM tests (a plain module: `conftest` names are ambiguous)."""
from __future__ import annotations

import os
import signal
import subprocess
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
