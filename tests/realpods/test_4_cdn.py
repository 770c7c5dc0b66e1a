"""The reference CDN service on real pods: the three KNF charts of ``descriptors/`` installed with Helm with the values
``osm-l2sm plan`` gives them, then the checks of OSM PoC 14 (ping TTL 63, traceroute two hops, a download with a
matching sha256, the router cut off mid-download: the transfer stalls, then resumes and completes)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.polling import wait_for
from tests.realpods.conftest import ROOT, TEST_IMAGE, Cluster, l2network
from tests.realpods.timings import report_timing

SIZE_MIB = 32
RATE = "1M"  # 32 s for the file: the cut lands well before its end
VIDEO = "/usr/share/nginx/html/video.mp4"


def _plan() -> dict:
    packages = sorted(str(p) for p in (ROOT / "descriptors").iterdir() if p.is_dir())
    done = subprocess.run([sys.executable, "-m", "osm_l2sm", "plan", *packages, "--ns-name", "cdn", "--json"],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


class Cdn:
    def __init__(self, cluster: Cluster, plan: dict):
        self.cluster = cluster
        self.plan = plan
        self.kdus = {k["kdu"]: k for k in plan["kdus"]}

    def pod(self, kdu: str) -> str:
        out = self.cluster.kubectl("get", "pods", "-l", f"app.kubernetes.io/instance={kdu}", "-o",
                                   "jsonpath={.items[*].metadata.name}").stdout.split()
        assert len(out) == 1, f"{kdu}: pods {out}"
        return out[0]

    def address(self, kdu: str, ifname: str = "net1") -> str:
        [itf] = [i for i in self.kdus[kdu]["values"]["l2sm"]["networks"] if i["interface"] == ifname]
        return itf["ips"][0].split("/")[0]

    def exec(self, kdu: str, script: str, check: bool = True, timeout: float = 60):
        return self.cluster.exec(self.pod(kdu), "sh", "-c", script, check=check, timeout=timeout)

    def size(self, path: str) -> int:
        out = self.exec("cdn-cache", f"stat -c %s {path} 2>/dev/null || echo 0").stdout.strip()
        return int(out or 0)


@pytest.fixture(scope="module")
def cdn(l2sm: Cluster, tmp_path_factory):
    plan = _plan()
    l2sm.apply(*[l2network(n["name"], n["cidr"]) for n in plan["networks"]])
    values_dir = tmp_path_factory.mktemp("cdn-values")
    started = time.monotonic()
    for kdu in plan["kdus"]:
        values = Path(values_dir, f"{kdu['kdu']}.json")
        values.write_text(json.dumps(kdu["values"]))
        repository, tag = TEST_IMAGE.rsplit(":", 1)
        l2sm.helm("install", kdu["kdu"], Path(kdu["chart"]).resolve(), "-f", values,
                  "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
                  "--set", "image.pullPolicy=Never", "--set", f"content.sizeMiB={SIZE_MIB}")
    for kdu in plan["kdus"]:
        l2sm.kubectl("wait", "--for=condition=Available", "deployment", "-l",
                     f"app.kubernetes.io/instance={kdu['kdu']}", "--timeout=240s", timeout=300)
    service = Cdn(l2sm, plan)
    content = service.address("content-server")
    wait_for(lambda: service.exec("cdn-cache", f"ping -c1 -W1 {content}", check=False).returncode == 0,
             "the content server through the router", timeout=90)
    report_timing(f"CDN service up {time.monotonic() - started:.0f} s after the first helm install")
    yield service
    for kdu in plan["kdus"]:
        l2sm.helm("uninstall", kdu["kdu"], "--wait", "--timeout", "120s", check=False)
    l2sm.kubectl("delete", "l2network", *[n["name"] for n in plan["networks"]], "--wait=true", "--timeout=120s",
                 check=False, timeout=180)


def test_ping_crosses_one_router(cdn: Cdn):
    out = cdn.exec("cdn-cache", f"ping -c1 -W2 {cdn.address('content-server')}").stdout
    assert re.search(r"ttl=63\b", out), out


def test_traceroute_shows_two_hops(cdn: Cdn):
    content = cdn.address("content-server")
    out = cdn.exec("cdn-cache", f"traceroute -I -n -q1 -w2 -m5 {content}").stdout
    hops = re.findall(r"^\s*\d+\s+(\S+)", out, re.MULTILINE)
    assert hops == [cdn.address("router-firewall", "net1"), content], out


def test_download_matches_the_content_servers_sha256(cdn: Cdn):
    expected = cdn.exec("content-server", f"sha256sum {VIDEO}").stdout.split()[0]
    out = cdn.exec("cdn-cache", f"curl -fsS -o /tmp/v.mp4 http://{cdn.address('content-server')}/video.mp4 "
                                "&& sha256sum /tmp/v.mp4", timeout=120).stdout
    assert out.split()[0] == expected


def test_router_cut_off_stalls_the_download_then_it_resumes(cdn: Cdn):
    expected = cdn.exec("content-server", f"sha256sum {VIDEO}").stdout.split()[0]
    total = SIZE_MIB * 1024 * 1024
    url = f"http://{cdn.address('content-server')}/video.mp4"
    cdn.exec("cdn-cache", f"rm -f /tmp/cut /tmp/cut.done; setsid sh -c 'curl -sS --limit-rate {RATE} -o /tmp/cut "
                          f"{url} > /tmp/cut.log 2>&1 && touch /tmp/cut.done' < /dev/null > /dev/null 2>&1 &")
    wait_for(lambda: cdn.size("/tmp/cut") >= total // 4, "a quarter of the download", timeout=60, interval=0.3)
    router = cdn.cluster.kubectl("get", "deployment", "-l", "app.kubernetes.io/instance=router-firewall", "-o",
                                 "jsonpath={.items[0].metadata.name}").stdout
    cdn.cluster.kubectl("scale", "deployment", router, "--replicas=0")
    cdn.cluster.kubectl("wait", "--for=delete", "pod", "-l", "app.kubernetes.io/instance=router-firewall",
                        "--timeout=20s", timeout=60)  # the router stops at once on SIGTERM
    # data already in the cache's socket lands for a moment after the cut; then nothing for 3 s
    stalled_at = None
    last, still_since, deadline = cdn.size("/tmp/cut"), time.monotonic(), time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.5)
        size = cdn.size("/tmp/cut")
        if size != last:
            last, still_since = size, time.monotonic()
        elif time.monotonic() - still_since >= 3:
            stalled_at = size
            break
    assert stalled_at is not None and stalled_at < total, f"the download did not stall: {last} of {total} bytes"
    cdn.cluster.kubectl("scale", "deployment", router, "--replicas=1")
    wait_for(lambda: cdn.exec("cdn-cache", "test -e /tmp/cut.done", check=False).returncode == 0,
             "the download to complete after the router came back", timeout=240, interval=1)
    assert cdn.size("/tmp/cut") == total > stalled_at
    assert cdn.exec("cdn-cache", "sha256sum /tmp/cut").stdout.split()[0] == expected
