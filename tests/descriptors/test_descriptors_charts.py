"""The CDN KNF charts: lint and render with a real helm, and their start scripts run for real in namespaces.

The behaviour test wires cache, router and content server namespaces as the CNI would from the plan (veths named
net1/net2 with the planned addresses), runs the router-firewall chart's rendered start script and the routes
scripts of the other charts, and checks what crosses the router: HTTP and ping pass, other TCP does not.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from cdn_package_copies import DESCRIPTORS, PACKAGES
from osm_l2sm.descriptors import load_package, plan_ns

from tests.conftest import unavailable

CHARTS = ("content-server", "router-firewall", "cdn-cache")
CHART_DIR = Path(__file__).resolve().parents[2] / "helm-charts"


@pytest.fixture(scope="module")
def helm() -> str:
    cached = Path(os.environ.get("OSM_L2SM_CACHE", Path.home() / ".cache" / "osm-l2sm")) / "bin" / "helm"
    path = str(cached) if os.access(cached, os.X_OK) else shutil.which("helm")
    if not path:
        unavailable("needs helm (build it once with scripts/build-k8s-test-bins)")
    return path


@pytest.fixture(scope="module")
def plan():
    return plan_ns([load_package(DESCRIPTORS / name) for name in PACKAGES], "vod")


def render(helm: str, chart: str, values: dict | None, tmp_path: Path, *sets: str) -> dict:
    """``helm template`` of the chart; the rendered objects by kind."""
    args = [helm, "template", "vod", str(CHART_DIR / chart)]
    if values is not None:
        values_file = tmp_path / f"{chart}-values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        args += ["-f", str(values_file)]
    for item in sets:
        args += ["--set", item]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return {doc["kind"]: doc for doc in yaml.safe_load_all(result.stdout) if doc}


def capabilities(deployment: dict) -> list[str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return ((container.get("securityContext") or {}).get("capabilities") or {}).get("add", [])


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_lints_and_renders_one_replica_with_default_values(helm, chart, tmp_path):
    lint = subprocess.run([helm, "lint", "--strict", str(CHART_DIR / chart)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    objects = render(helm, chart, None, tmp_path)
    assert objects["Deployment"]["spec"]["replicas"] == 1
    assert set(objects["ConfigMap"]["data"]) == {"routes.sh", "start.sh"}


@pytest.mark.parametrize("kdu", CHARTS)
def test_planned_values_become_the_pod_label_and_annotation(helm, plan, kdu, tmp_path):
    planned = next(k for k in plan.kdus if k.kdu == kdu)
    pod = render(helm, kdu, planned.values, tmp_path)["Deployment"]["spec"]["template"]
    assert pod["metadata"]["labels"]["l2sm"] == "true"
    assert pod["metadata"]["annotations"]["l2sm/networks"] == planned.values["podAnnotations"]["l2sm/networks"]


def test_net_admin_only_where_needed(helm, plan, tmp_path):
    for kdu in CHARTS:
        planned = next(k for k in plan.kdus if k.kdu == kdu)
        # cache and content server need it for their routes, the router for iptables
        assert capabilities(render(helm, kdu, planned.values, tmp_path)["Deployment"]) == ["NET_ADMIN"]
    assert capabilities(render(helm, "content-server", None, tmp_path)["Deployment"]) == []
    assert capabilities(render(helm, "cdn-cache", None, tmp_path)["Deployment"]) == []


def test_values_schema_rejects_a_bad_port(helm, tmp_path):
    result = subprocess.run([helm, "template", "vod", str(CHART_DIR / "router-firewall"),
                             "--set", "firewall.tcpPorts[0]=70000"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "tcpPorts" in result.stderr


class Namespaces:
    """Network namespaces wired by veths, removed on close whatever happened."""

    def __init__(self):
        self.prefix = f"dsc{uuid.uuid4().hex[:6]}"
        self.names: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def add(self, role: str) -> str:
        name = f"{self.prefix}-{role}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.names.append(name)
        self.run(name, "ip", "link", "set", "lo", "up")
        return name

    def run(self, ns: str, *cmd: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], check=check, capture_output=True, text=True, **kw)

    def start(self, ns: str, *cmd: str, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, **kw)
        self.procs.append(proc)
        return proc

    def link(self, a: str, a_if: str, b: str, b_if: str, a_ip: str, b_ip: str) -> None:
        """A veth between two namespaces, named and addressed as the CNI plugin would from the plan."""
        tmp_a, tmp_b = f"{self.prefix}a", f"{self.prefix}b"
        subprocess.run(["ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b], check=True)
        for tmp, ns, ifname, ip in ((tmp_a, a, a_if, a_ip), (tmp_b, b, b_if, b_ip)):
            subprocess.run(["ip", "link", "set", tmp, "netns", ns], check=True)
            self.run(ns, "ip", "link", "set", tmp, "name", ifname)
            self.run(ns, "ip", "addr", "add", ip, "dev", ifname)
            self.run(ns, "ip", "link", "set", ifname, "up")

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        for name in self.names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def namespaces(require_root_ovs):
    if shutil.which("iptables") is None:
        unavailable("needs iptables")
    ns = Namespaces()
    yield ns
    ns.close()


def write_scripts(helm: str, kdu: str, values: dict, folder: Path, *sets: str) -> Path:
    """The chart's ConfigMap scripts, as the pod would see them under /scripts."""
    folder.mkdir()
    for name, text in render(helm, kdu, values, folder, *sets)["ConfigMap"]["data"].items():
        (folder / name).write_text(text)
    return folder


def wait_for_line(proc: subprocess.Popen, text: str, failure: str = "failed") -> str:
    """Read the process's output up to a line with ``text``; stop at a line with ``failure`` or at its end."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return "".join(seen)
        if failure in line:
            break
    raise AssertionError(f"{text!r} never printed; output: {''.join(seen)}")


def test_router_firewall_passes_http_and_ping_and_blocks_other_tcp(helm, plan, namespaces, tmp_path):
    by_kdu = {k.kdu: k for k in plan.kdus}
    ips = {(a.kdu, a.interface): a.address for a in plan.attachments}
    cache, router, content = (namespaces.add(role) for role in ("cache", "router", "content"))
    namespaces.link(cache, "net1", router, "net1", ips[("cdn-cache", "net1")], ips[("router-firewall", "net1")])
    namespaces.link(router, "net2", content, "net1", ips[("router-firewall", "net2")],
                    ips[("content-server", "net1")])
    content_ip = ips[("content-server", "net1")].split("/")[0]

    for kdu, ns in (("cdn-cache", cache), ("content-server", content)):
        scripts = write_scripts(helm, kdu, by_kdu[kdu].values, tmp_path / kdu)
        namespaces.run(ns, "sh", "-eu", "-c", f'. "{scripts}/routes.sh"')
    router_scripts = write_scripts(helm, "router-firewall", by_kdu["router-firewall"].values, tmp_path / "router")
    router_proc = namespaces.start(router, "sh", str(router_scripts / "start.sh"))
    wait_for_line(router_proc, "router-firewall: forwarding net1 -> net2")

    www = tmp_path / "www"
    www.mkdir()
    (www / "video.mp4").write_bytes(os.urandom(200_000))
    for port in ("80", "8080"):
        server = namespaces.start(content, sys.executable, "-u", "-m", "http.server", port, "--bind", content_ip,
                                  "--directory", str(www))
        wait_for_line(server, "Serving HTTP")

    def curl(port: str) -> subprocess.CompletedProcess:
        return namespaces.run(cache, "curl", "-sS", "--max-time", "3", "-o", "/dev/null", "-w", "%{http_code}",
                              f"http://{content_ip}:{port}/video.mp4", check=False)

    assert curl("80").stdout == "200"
    assert curl("8080").returncode != 0  # the firewall drops it: curl times out
    ping = namespaces.run(cache, "ping", "-c", "1", "-W", "2", content_ip, check=False)
    assert ping.returncode == 0 and "ttl=63" in ping.stdout  # one router hop, as in the PoC

    # the cache chart's own loop fetches the file through the router
    cache_scripts = write_scripts(helm, "cdn-cache", by_kdu["cdn-cache"].values, tmp_path / "cache-run",
                                  f"origin.url=http://{content_ip}/video.mp4", "origin.intervalSeconds=60")
    cache_dir = tmp_path / "cache-dir"
    cache_proc = namespaces.start(cache, "sh", str(cache_scripts / "start.sh"),
                                  env={**os.environ, "CACHE_DIR": str(cache_dir)})
    wait_for_line(cache_proc, "cdn-cache: fetched")
    assert (cache_dir / "video.mp4").read_bytes() == (www / "video.mp4").read_bytes()
