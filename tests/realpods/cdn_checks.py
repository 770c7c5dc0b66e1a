"""The checks of OSM PoC 14 on the reference CDN service running on real pods (ping TTL 63, traceroute two hops, a
download with a matching sha256, the router cut off mid-download: the transfer stalls, then resumes and completes),
whoever installed its three KNFs: plain Helm with the plan's values (test_4) or OSM's LCM in OSM mode (test_6)."""
from __future__ import annotations

import re
import time

from osm_l2sm.processes import wait_until
from tests.polling import wait_for
from tests.realpods.conftest import Cluster

SIZE_MIB = 32
RATE = "1M"  # 32 s for the file: the cut lands well before its end
VIDEO = "/usr/share/nginx/html/video.mp4"
KDUS = ("cdn-cache", "router-firewall", "content-server")


def planned_addresses(kdus) -> dict[str, dict[str, str]]:
    """kdu -> interface -> bare address, from each KDU's planned values (``l2sm.networks``)."""
    return {kdu["kdu"]: {i["interface"]: i["ips"][0].split("/")[0] for i in kdu["values"]["l2sm"]["networks"]}
            for kdu in kdus}


class Cdn:
    """The running service: ``selectors`` finds each KDU's pods (a kubectl label selector) in ``namespace``,
    ``addresses`` gives each KDU's address per interface."""

    def __init__(self, cluster: Cluster, namespace: str, selectors: dict[str, str],
                 addresses: dict[str, dict[str, str]]):
        self.cluster, self.namespace, self.selectors, self.addresses = cluster, namespace, selectors, addresses

    def kubectl(self, *args, **kwargs):
        return self.cluster.kubectl("-n", self.namespace, *args, **kwargs)

    def pod(self, kdu: str) -> str:
        out = self.kubectl("get", "pods", "-l", self.selectors[kdu], "-o",
                           "jsonpath={.items[*].metadata.name}").stdout.split()
        assert len(out) == 1, f"{kdu}: pods {out}"
        return out[0]

    def address(self, kdu: str, ifname: str = "net1") -> str:
        return self.addresses[kdu][ifname]

    def exec(self, kdu: str, script: str, check: bool = True, timeout: float = 60):
        return self.cluster.exec(self.pod(kdu), "sh", "-c", script, namespace=self.namespace, check=check,
                                 timeout=timeout)

    def size(self, path: str) -> int:
        out = self.exec("cdn-cache", f"stat -c %s {path} 2>/dev/null || echo 0").stdout.strip()
        return int(out or 0)

    def wait_until_serving(self) -> None:
        for kdu in KDUS:
            self.kubectl("wait", "--for=condition=Available", "deployment", "-l", self.selectors[kdu],
                         "--timeout=240s", timeout=300)
        content = self.address("content-server")
        wait_for(lambda: self.exec("cdn-cache", f"ping -c1 -W1 {content}", check=False).returncode == 0,
                 "the content server through the router", timeout=90)


def check_ping_crosses_one_router(cdn: Cdn) -> None:
    out = cdn.exec("cdn-cache", f"ping -c1 -W2 {cdn.address('content-server')}").stdout
    assert re.search(r"ttl=63\b", out), out


def check_traceroute_shows_two_hops(cdn: Cdn) -> None:
    content = cdn.address("content-server")
    out = cdn.exec("cdn-cache", f"traceroute -I -n -q1 -w2 -m5 {content}").stdout
    hops = re.findall(r"^\s*\d+\s+(\S+)", out, re.MULTILINE)
    assert hops == [cdn.address("router-firewall", "net1"), content], out


def check_download_matches_the_content_servers_sha256(cdn: Cdn) -> None:
    expected = cdn.exec("content-server", f"sha256sum {VIDEO}").stdout.split()[0]
    out = cdn.exec("cdn-cache", f"curl -fsS -o /tmp/v.mp4 http://{cdn.address('content-server')}/video.mp4 "
                                "&& sha256sum /tmp/v.mp4", timeout=120).stdout
    assert out.split()[0] == expected


def check_router_cut_off_stalls_the_download_then_it_resumes(cdn: Cdn) -> None:
    expected = cdn.exec("content-server", f"sha256sum {VIDEO}").stdout.split()[0]
    total = SIZE_MIB * 1024 * 1024
    url = f"http://{cdn.address('content-server')}/video.mp4"
    cdn.exec("cdn-cache", f"rm -f /tmp/cut /tmp/cut.done; setsid sh -c 'curl -sS --limit-rate {RATE} -o /tmp/cut "
                          f"{url} > /tmp/cut.log 2>&1 && touch /tmp/cut.done' < /dev/null > /dev/null 2>&1 &")
    wait_for(lambda: cdn.size("/tmp/cut") >= total // 4, "a quarter of the download", timeout=60, interval=0.3)
    router_pods = cdn.selectors["router-firewall"]
    router = cdn.kubectl("get", "deployment", "-l", router_pods, "-o", "jsonpath={.items[0].metadata.name}").stdout
    cdn.kubectl("scale", "deployment", router, "--replicas=0")
    cdn.kubectl("wait", "--for=delete", "pod", "-l", router_pods, "--timeout=20s",
                timeout=60)  # the router stops at once on SIGTERM
    # data already in the cache's socket lands for a moment after the cut; then nothing for 3 s
    seen = {"size": cdn.size("/tmp/cut"), "since": time.monotonic()}

    def stalled() -> tuple[int] | None:
        size = cdn.size("/tmp/cut")
        if size != seen["size"]:
            seen.update(size=size, since=time.monotonic())
            return None
        return (size,) if time.monotonic() - seen["since"] >= 3 else None

    stall = wait_until(stalled, 30, 0.5)
    stalled_at = stall[0] if stall else None
    assert stalled_at is not None and stalled_at < total, f"the download did not stall: {seen['size']} of {total} bytes"
    cdn.kubectl("scale", "deployment", router, "--replicas=1")
    wait_for(lambda: cdn.exec("cdn-cache", "test -e /tmp/cut.done", check=False).returncode == 0,
             "the download to complete after the router came back", timeout=240, interval=1)
    assert cdn.size("/tmp/cut") == total > stalled_at
    assert cdn.exec("cdn-cache", "sha256sum /tmp/cut").stdout.split()[0] == expected


CHECKS = (check_ping_crosses_one_router, check_traceroute_shows_two_hops,
          check_download_matches_the_content_servers_sha256, check_router_cut_off_stalls_the_download_then_it_resumes)


# What an NS of L2S-M leaves at the controller and on the node while it runs: each must be back to what it was once
# the NS is gone.
FOOTPRINT = {
    "the controller's networks": lambda cluster: {n["name"] for n in cluster.controller_networks()},
    "the controller's ports": lambda cluster: {p["interface"] for p in cluster.controller_ports()},
    "the node's bridge ports": lambda cluster: cluster.ovs_ports(),
    "the node's ends of the pods' L2S-M interfaces": lambda cluster: cluster.host_ends(),
}


def footprint(cluster: Cluster) -> dict[str, set]:
    return {what: probe(cluster) for what, probe in FOOTPRINT.items()}


def back_to(cluster: Cluster, before: dict[str, set]) -> None:
    """Wait until every part of :data:`FOOTPRINT` is as in ``before``; if one never is, the assertion shows what is
    left over."""
    for what, probe in FOOTPRINT.items():
        try:
            wait_for(lambda: probe(cluster) == before[what], f"{what} back to before", timeout=120, interval=2)
        except BaseException:
            assert probe(cluster) == before[what], f"{what} left over"
            raise
