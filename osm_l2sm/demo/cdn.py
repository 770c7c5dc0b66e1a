"""The reference CDN service (OSM PoC 14) from its OSM packages to validated traffic on the local sandbox.

Everything service-specific comes from the packages: networks and addresses from the NSD/VNFDs through the planner,
what each KDU runs from its sandbox profile. The service is deployed as `osm-l2sm ns-create --local` deploys it (the
OSM lifecycle on the sandbox target); this module only sequences the phases and checks what the PoC checked:
ping (ttl 63), traceroute (two hops), a download with a matching sha256, isolation, the firewall, and the cut-off
(router gone mid-download: the transfer stalls; router back: it resumes and completes).
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from osm_l2sm import data
from osm_l2sm.errors import L2smError
from osm_l2sm.model import Plan
from osm_l2sm.osm import lifecycle
from osm_l2sm.processes import in_parallel, wait_until
from osm_l2sm.sandbox import Knf, KnfRunner, Sandbox, SandboxTarget

DEFAULT_PACKAGES = data.descriptors_dir()
DEFAULT_SANDBOX = "cdn"
DEFAULT_NS_NAME = "cdn"
DEFAULT_RATE = "6M"  # 64 MiB in about 11 s: the cut-off lands mid-transfer and the demo stays under a minute
FILE_NAME = "video.mp4"  # what the content server publishes under $POD_DIR/www, with <name>.sha256 beside it
DEFAULT_SIZE_MIB = 64
STALL_WINDOW = 3.0  # seconds the download is watched while the router is gone
PROBE_POD = "probe"


@dataclass
class Check:
    name: str
    ok: bool
    value: object
    expected: object
    detail: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "value": self.value, "expected": self.expected,
                "detail": self.detail}


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    phases: list[tuple[str, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checks": [c.to_dict() for c in self.checks],
                "phases": [{"name": n, "seconds": round(s, 3)} for n, s in self.phases],
                "total_seconds": round(sum(s for _, s in self.phases), 3)}


class CdnDemo:
    def __init__(self, packages_dir: Path | str = DEFAULT_PACKAGES, sandbox: str = DEFAULT_SANDBOX,
                 ns_name: str = DEFAULT_NS_NAME, rate: str = DEFAULT_RATE, nodes: int = 2, size_mib: int = DEFAULT_SIZE_MIB,
                 progress: Callable[[str], None] = lambda _msg: None):
        if not re.fullmatch(r"[0-9]+[kKmMgG]?", rate):
            raise L2smError(f"--rate {rate!r}: use curl's form, e.g. 200k or 6M")
        self.packages_dir = Path(packages_dir)
        self.target = SandboxTarget(Sandbox(sandbox))
        self.sandbox = self.target.sandbox
        self.ns_name = ns_name
        self.rate = rate
        self.nodes = nodes
        if size_mib < 1:
            raise L2smError(f"--size-mib {size_mib}: must be at least 1")
        self.size_mib = size_mib
        self.progress = progress
        self.report = Report()

    # phases ----------------------------------------------------------------------------------------------------
    def _phase(self, name: str, fn, *args):
        self.progress(f"{name} ...")
        start = time.monotonic()
        result = fn(*args)
        self.report.phases.append((name, time.monotonic() - start))
        return result

    def run(self) -> Report:
        plan, packages = self._phase("plan", self._plan)
        self._phase("sandbox", self._sandbox_up)
        self._phase("clean", self._ns_delete, plan)
        knfs = self._ns_create(plan, packages)
        cache, router, content = self._identify(plan, {k.member: k for k in knfs.knfs})
        self._phase("download+cutoff", self._download_with_cutoff, knfs, cache, router, content)
        self._phase("ping+traceroute", self._check_path, cache, router, content)
        self._phase("isolation+firewall", self._check_isolation, plan, cache, router, content)
        return self.report

    def down(self) -> None:
        # the KNFs' files (the generated video, the cached copy, nginx's config and logs) are the sandbox's: its
        # own down removes them with the rest
        self.sandbox.down()

    # plan ------------------------------------------------------------------------------------------------------
    def _plan(self) -> tuple[Plan, list]:
        folders = sorted(p for p in self.packages_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            raise L2smError(f"{self.packages_dir}: no OSM packages found")
        packages = lifecycle.load_local_packages([str(p) for p in folders])
        return lifecycle.plan_for(packages, self.ns_name), packages

    @staticmethod
    def _identify(plan: Plan, knfs: dict[str, Knf]) -> tuple[Knf, Knf, Knf]:
        """Cache, router and content server by topology: the router is the KDU holding the VL gateways;
        the cache sits on the VL listed first in the NSD, the content server on the other one."""
        gateways = {n.name: n.gateway for n in plan.networks}
        router = next((r for r in knfs.values()
                       if len(r.interfaces) > 1 and all(gateways.get(i.network) == i.ip for i in r.interfaces)), None)
        if router is None:
            raise L2smError("the NS has no KDU that is the gateway of every virtual link it joins (the router)")
        first_vl = plan.networks[0].name
        others = [r for r in knfs.values() if r is not router]
        cache = next((r for r in others if r.interfaces and r.interfaces[0].network == first_vl), None)
        content = next((r for r in others if r is not cache), None)
        if cache is None or content is None:
            raise L2smError("the NS does not have the cache / router / content-server shape of the CDN service")
        return cache, router, content

    # sandbox: ns-delete / ns-create --local ------------------------------------------------------------------
    def _sandbox_up(self) -> None:
        if not self.sandbox.is_up():
            self.sandbox.up(self.nodes)

    def _ns_delete(self, plan: Plan) -> None:
        """A second run starts from a clean service on the same sandbox: `ns-delete --local` of the last one."""
        if any(p["name"] == PROBE_POD for p in self.sandbox.pods()):
            self.sandbox.delete_pod(PROBE_POD)
        self.target.remove_knfs(plan)
        lifecycle.remove_networks(self.target, [n.name for n in plan.networks])

    def _ns_create(self, plan: Plan, packages: list) -> KnfRunner:
        """`ns-create --local`: the plan's networks, then its KNFs from their sandbox profiles (a failure removes
        both); the demo's rate and file size go to the profiles as their variables."""
        knfs = self.target.knf_runner(plan, packages, progress=self.progress,
                                      env={"RATE": self.rate, "FILE_NAME": FILE_NAME,
                                           "FILE_SIZE_MIB": self.size_mib})
        self.progress("networks ...")
        start = time.monotonic()

        def run_knfs():
            self.report.phases.append(("networks", time.monotonic() - start))
            self._phase("pods", knfs.start)

        lifecycle.deploy_with_networks(plan, self.target, run_knfs)
        return knfs

    # helpers ---------------------------------------------------------------------------------------------------
    def _exec(self, pod: str, cmd: str, timeout: float = 30.0):
        return self.sandbox.exec_pod(pod, ["sh", "-c", cmd], timeout=timeout)

    def _exec_ok(self, pod: str, cmd: str, timeout: float = 30.0) -> bool:
        return self._exec(pod, cmd, timeout).returncode == 0

    def _check(self, name, ok, value, expected, detail="") -> Check:
        check = Check(name, bool(ok), value, expected, detail)
        self.report.checks.append(check)
        self.progress(f"  {'PASS' if check.ok else 'FAIL'} {name}: {value} (expected {expected})")
        return check

    # download and cut-off ------------------------------------------------------------------------------------
    def _file_size(self, path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0

    def _download_with_cutoff(self, knfs: KnfRunner, cache: Knf, router: Knf, content: Knf) -> None:
        origin_dir = knfs.files(content) / "www"
        expected_sha = (origin_dir / f"{FILE_NAME}.sha256").read_text().split()[0]
        total = (origin_dir / FILE_NAME).stat().st_size
        target = knfs.files(cache) / FILE_NAME
        # The cache's command is the download itself. ns-create started it with the other KNFs, so on a loaded
        # machine it may be well along or done by now: the demo starts it again, to watch a transfer from its start.
        self.sandbox.delete_pod(cache.pod)
        knfs.start([cache])
        # cut when the transfer is well under way, as the PoC scaled the router to 0 mid-download
        under_way = lambda: self._file_size(target) >= total * 0.25  # noqa: E731
        wait_until(lambda: under_way() or not knfs.running(cache), 60, interval=0.05)
        if not under_way():
            self._check("cutoff_stalled", False, f"{self._file_size(target)} bytes", "a transfer under way",
                        "the download did not reach 25% (see `osm-l2sm pod logs cdn-cache`)")
            return
        self.progress(f"  router removed at {self._file_size(target) * 100 // total}% of the download")
        # Deleting the router's pod takes seconds on a loaded machine (its links go with the CNI DEL calls), long
        # enough for the rest of the download to get through first. The cache's download is held until the router
        # is gone, so the cut lands mid-transfer however long the deletion takes.
        download = self.sandbox.pod(cache.pod)["pid"]
        os.kill(download, signal.SIGSTOP)
        try:
            self.sandbox.delete_pod(router.pod)
        finally:
            os.kill(download, signal.SIGCONT)
        stalled_at, drained = self._wait_stall(target)
        self._check("cutoff_stalled", stalled_at is not None and stalled_at < total,
                    f"0 bytes in {STALL_WINDOW:.0f} s" if stalled_at is not None else "still growing",
                    "0 bytes while the router is gone",
                    f"{drained} bytes already received by the cache's socket were written after the cut")
        knfs.start([router])
        shown = time.monotonic()

        def finished() -> bool:
            nonlocal shown
            if time.monotonic() - shown >= 2:
                shown = time.monotonic()
                self.progress(f"  download at {self._file_size(target) * 100 // total}%")
            return not knfs.running(cache)

        wait_until(finished, 120, interval=0.2)
        size = self._file_size(target)
        done = not knfs.running(cache) and size == total
        self._check("cutoff_resumed", done and stalled_at is not None and size > stalled_at,
                    f"{size} of {total} bytes", f"{total} bytes",
                    f"the download went on from {stalled_at} bytes after the router came back")
        digest = hashlib.sha256(target.read_bytes()).hexdigest() if target.exists() else ""
        self._check("sha256_match", digest == expected_sha, digest[:16], expected_sha[:16],
                    "sha256 of the cached file against the content server's")

    def _wait_stall(self, target: Path, timeout: float = 20.0) -> tuple[int | None, int]:
        """Wait until the file stops growing for STALL_WINDOW seconds. Data the kernel had already received keeps
        landing for a moment after the cut, so the window starts once that has drained. Returns the size at the
        stall (None when it never stalled) and how much landed after the cut."""
        cut_at = last = self._file_size(target)
        still_since = time.monotonic()

        def stalled() -> bool:
            nonlocal last, still_since
            size = self._file_size(target)
            if size != last:
                last, still_since = size, time.monotonic()
            return time.monotonic() - still_since >= STALL_WINDOW

        return (last if wait_until(stalled, timeout, interval=0.1) else None), last - cut_at

    # ping, traceroute, isolation, firewall ------------------------------------------------------------------
    def _check_path(self, cache: Knf, router: Knf, content: Knf) -> None:
        target = content.first_ip()
        out = self._exec(cache.pod, f"ping -c1 -W2 {target}")
        ttl = re.search(r"ttl=(\d+)", out.stdout or "")
        self._check("ping_ttl", ttl is not None and int(ttl.group(1)) == 63, int(ttl.group(1)) if ttl else None, 63,
                    f"ping {target} from {cache.pod}")
        out = self._exec(cache.pod, f"traceroute -I -n -q1 -w2 -m5 {target}")
        hops = re.findall(r"^\s*\d+\s+(\S+)", out.stdout or "", re.MULTILINE)
        gateway = next(r.via for r in cache.routes)
        self._check("traceroute_hops", hops == [gateway, target], len(hops), 2, " -> ".join(hops))

    def _check_isolation(self, plan: Plan, cache: Knf, router: Knf, content: Knf) -> None:
        """The two negative checks at once: each waits half a second for what must not happen, on its own path
        (the probe's frames stay on the cache network; the firewall's SYN crosses the router)."""
        for check in in_parallel([lambda: self._isolation(plan, cache, content),
                                  lambda: self._firewall(cache, router, content)]):
            self._check(*check)

    def _isolation(self, plan: Plan, cache: Knf, content: Knf) -> tuple:
        target = content.first_ip()
        # A pod on the cache network that uses an address of the content subnet: only a leak between the two
        # networks could let it reach the content server, since no router serves it. The controller refuses an
        # address outside the network's CIDR, so the probe joins at layer 2 and sets the address itself.
        content_net = ipaddress.ip_network(next(n.cidr for n in plan.networks if n.name == content.interfaces[0].network))
        probe_ip = f"{content_net[-2]}/{content_net.prefixlen}"
        self.sandbox.run_pod(PROBE_POD, self.sandbox.pod(cache.pod)["node"], [(cache.interfaces[0].network, None)])
        try:
            added = self._exec(PROBE_POD, f"ip addr add {probe_ip} dev net1")
            if added.returncode != 0:
                raise L2smError(f"probe pod: ip addr add {probe_ip}: {added.stderr.strip()}")
            # the target's ARP answer would come back within a millisecond on one layer-2 network: unanswered
            # after half a second (no MAC learnt) means the frames never reached it
            pinged = self._exec_ok(PROBE_POD, f"ping -c1 -W0.5 {target}")
            leaked = pinged or "lladdr" in self._exec(PROBE_POD, f"ip neigh show {target}").stdout
        finally:
            self.sandbox.delete_pod(PROBE_POD)
        return ("network_isolation", not leaked, "reachable" if leaked else "ARP unanswered", "ARP unanswered",
                f"{probe_ip} on {cache.interfaces[0].network} -> {target} without the router")

    def _firewall(self, cache: Knf, router: Knf, content: Knf) -> tuple:
        blocked_url = f"http://{content.first_ip()}:8080/"
        from_router = self._exec_ok(router.pod, f"curl -s -o /dev/null --max-time 3 {blocked_url}")
        # the cache's SYN reaches the router, whose FORWARD policy drops it: its counter says so at once
        dropped = self._forward_drops(router)
        from_cache = self._exec_ok(cache.pod, f"curl -s -o /dev/null --max-time 0.5 {blocked_url}")
        dropped = self._forward_drops(router) - dropped
        return ("firewall_blocks", from_router and not from_cache and dropped > 0,
                f"blocked ({dropped} dropped by the firewall)" if not from_cache and dropped else
                "open" if from_cache else "unanswered, not dropped by the firewall", "blocked",
                f"{blocked_url} answers the router ({'yes' if from_router else 'no'}) but not the cache")

    def _forward_drops(self, router: Knf) -> int:
        """Packets the router's FORWARD policy (DROP) has dropped so far."""
        out = self._exec(router.pod, "iptables -w -L FORWARD -n -v -x").stdout or ""
        found = re.search(r"^Chain FORWARD \(policy DROP (\d+) packets", out, re.MULTILINE)
        return int(found.group(1)) if found else 0


def format_report(report: Report) -> str:
    rows = [("check", "result", "value", "expected")]
    rows += [(c.name, "PASS" if c.ok else "FAIL", str(c.value), str(c.expected)) for c in report.checks]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("phase".ljust(20) + "seconds")
    lines += [f"{name:<20}{secs:7.2f}" for name, secs in report.phases]
    lines.append(f"{'total':<20}{sum(s for _, s in report.phases):7.2f}")
    lines.append("")
    lines.append("CDN service: all checks passed" if report.ok else "CDN service: some checks FAILED")
    return "\n".join(lines)
