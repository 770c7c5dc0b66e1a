"""Fixtures of the real-pods tier: a Kubernetes cluster of NODES nodes (3; OSM_L2SM_REALPODS_NODES sets it), each
with a real kubelet, containerd, runc, kube-proxy and Multus (``scripts/k8s-node-cluster up --nodes``), the project's
image built from ``docker/Dockerfile`` (``scripts/build-k8s-node-images``) and the stock ``helm install l2sm
helm-charts/l2sm``.

Each node lives in its own network and mount namespaces, joined to the others by an underlay, so every command that
talks to the cluster (kubectl, helm) runs through ``nsenter``. Started once per session, stopped (by pid, with
everything it made) even when a test fails. A test pins a pod to a node with ``pod_manifest(..., node=...)``; pods
left unpinned go to node 1, where the single-node tests look.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml


ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
CACHE = Path(os.environ.get("OSM_L2SM_CACHE", Path.home() / ".cache" / "osm-l2sm"))
NODE_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
                 "kubectl", "multus", "coredns", "helm")
RELEASE, RELEASE_NS = "l2sm", "l2sm-system"
TEST_IMAGE = "localhost/l2sm-testpod:local"
COMPONENTS = ("controller", "operator", "switch", "cni")
NODES = int(os.environ.get("OSM_L2SM_REALPODS_NODES", "3"))
FIRST_NODE = os.environ.get("K8S_NODE_NAME", "k8s-node")  # scripts/k8s-node-cluster's node 1
NODE_NAMES = [FIRST_NODE] + [f"{FIRST_NODE}-{i}" for i in range(2, NODES + 1)]  # its names for nodes 2, 3, ...


def node(i: int) -> str:
    """Node ``i``'s name (1-based), or the last node's when the cluster has fewer: tests spread their pods with it
    and still run on a smaller cluster."""
    return NODE_NAMES[min(i, len(NODE_NAMES)) - 1]
PROGRESS_LINE = re.compile(r"^[\w-]+ \[\d+/\d+ \d+\.\ds\] ")  # scripts/progress.sh


def pytest_collection_modifyitems(items) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.realpods)


def missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces, containerd, kubelet)"
    for tool in ("containerd", "runc", "buildah", "debootstrap", "nsenter", "ctr"):
        if shutil.which(tool) is None:
            return f"needs {tool} (scripts/install-deps --k8s --node)"
    if not Path("/usr/lib/cni/bridge").exists():
        return "needs the stock CNI plugins (apt install containernetworking-plugins)"
    missing = [b for b in NODE_BINARIES if not os.access(CACHE / "bin" / b, os.X_OK)]
    if missing:
        return f"needs {', '.join(missing)} in {CACHE / 'bin'} (scripts/build-k8s-test-bins --node)"
    return None


def run(*args, timeout: float = 300, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, input=input)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done


def run_showing_progress(config, *args, timeout: float) -> None:
    """Like run(), and the script's progress lines ("[2/4 14.2s] ...", on its stderr) shown as they come, past
    pytest's capture: the image builds and the cluster bring-up take minutes."""
    capture = config.pluginmanager.getplugin("capturemanager")
    proc = subprocess.Popen([str(a) for a in args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    tail: list[str] = []
    try:
        for line in proc.stderr:
            tail = (tail + [line])[-20:]
            if PROGRESS_LINE.match(line):
                with capture.global_and_fixture_disabled():
                    sys.stderr.write(line)
                    sys.stderr.flush()
    finally:
        timer.cancel()
        proc.wait()
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {proc.returncode}: {''.join(tail).strip()}")


@dataclass
class Cluster:
    """The running cluster, reached from the host through its network namespace."""

    env: dict[str, str]
    started: float = 0.0  # time.monotonic() when `k8s-node-cluster up` began

    @property
    def netns(self) -> str:
        return self.env["K8S_NODE_NETNS"]

    @property
    def nodes(self) -> list[str]:
        """The nodes' names, node 1 first."""
        return self.env.get("K8S_NODES", self.env["K8S_NODE_NAME"]).split(",")

    def node_env(self, node: int | str, key: str) -> str:
        """Node ``node``'s setting ``key`` (NAME, NETNS, MNT, IP, CONTAINERD_ADDRESS); ``node``: 1-based or a name."""
        index = node if isinstance(node, int) else self.nodes.index(node) + 1
        return self.env[f"K8S_NODE_{index}_{key}"]

    def node_of(self, pod: str, namespace: str = "default") -> str:
        return self.get("pod", pod, namespace)["spec"]["nodeName"]

    def ctr(self, *args, node: int | str = 1, check: bool = True):
        """``ctr`` on a node's containerd (namespace k8s.io)."""
        return self.on_node("ctr", "--address", self.node_env(node, "CONTAINERD_ADDRESS"), "-n", "k8s.io", *args,
                            node=node, check=check)

    def _in_netns(self, *args) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}", *map(str, args)]

    def kubectl(self, *args, timeout: float = 120, check: bool = True, input: str | None = None):
        return run(*self._in_netns(CACHE / "bin" / "kubectl", "--kubeconfig", self.env["KUBECONFIG"], *args),
                   timeout=timeout, check=check, input=input)

    def helm(self, *args, timeout: float = 300, check: bool = True):
        helm_home = CACHE / "k8s-node" / "helm"
        return run(*self._in_netns("env", f"KUBECONFIG={self.env['KUBECONFIG']}",
                                   f"HELM_CACHE_HOME={helm_home}/cache", f"HELM_CONFIG_HOME={helm_home}/config",
                                   f"HELM_DATA_HOME={helm_home}/data", CACHE / "bin" / "helm", *args),
                   timeout=timeout, check=check)

    def on_node(self, *args, timeout: float = 60, check: bool = True, input: str | None = None, env=None,
                node: int | str = 1):
        """A command in a node's (node 1's unless told) network and mount namespaces with a node's plain
        environment, as the runtime runs CNI plugins."""
        base = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        return run("nsenter", f"--net=/run/netns/{self.node_env(node, 'NETNS')}",
                   f"--mount={self.node_env(node, 'MNT')}",
                   "env", "-i", *[f"{k}={v}" for k, v in {**base, **(env or {})}.items()], *args,
                   timeout=timeout, check=check, input=input)

    def apply(self, *objects: dict, namespace: str = "default"):
        return self.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump_all(objects))

    def get(self, kind: str, name: str, namespace: str = "default", check: bool = True) -> dict | None:
        done = self.kubectl("-n", namespace, "get", kind, name, "-o", "json", check=check)
        return json.loads(done.stdout) if done.returncode == 0 else None

    def exec(self, pod: str, *cmd, namespace: str = "default", check: bool = True, timeout: float = 60):
        return self.kubectl("-n", namespace, "exec", pod, "--", *cmd, check=check, timeout=timeout)

    def wait_ready(self, *pods: str, namespace: str = "default", timeout: int = 180) -> None:
        for pod in pods:
            done = self.kubectl("-n", namespace, "wait", "--for=condition=Ready", f"pod/{pod}",
                                f"--timeout={timeout}s", timeout=timeout + 30, check=False)
            if done.returncode != 0:
                described = self.kubectl("-n", namespace, "describe", "pod", pod, check=False).stdout
                raise AssertionError(f"pod {pod} not Ready in {timeout} s: {done.stderr.strip()}\n"
                                     f"{described[-3000:]}")

    def annotations(self, pod: str, namespace: str = "default") -> dict:
        return (self.get("pod", pod, namespace) or {}).get("metadata", {}).get("annotations") or {}

    def switch_pod(self, node: int | str = 1) -> str:
        """The name of the running switch pod of a node (not one being deleted)."""
        name = self.node_env(node, "NAME")
        items = json.loads(self.kubectl("-n", RELEASE_NS, "get", "pods", "-l", f"app.kubernetes.io/instance={RELEASE},"
                                        "app.kubernetes.io/component=switch", "--field-selector",
                                        f"spec.nodeName={name},status.phase=Running", "-o", "json").stdout)["items"]
        found = [p["metadata"]["name"] for p in items if not p["metadata"].get("deletionTimestamp")]
        assert len(found) == 1, f"running switch pods on {name}: {found}"
        return found[0]

    def ovs_ports(self, node: int | str | None = None) -> set[str]:
        """Ports of a node's L2S-M bridge (every node's when None), read in its switch pod."""
        ports: set[str] = set()
        for each in ([node] if node is not None else range(1, len(self.nodes) + 1)):
            ports |= set(self.kubectl("-n", RELEASE_NS, "exec", self.switch_pod(each), "-c", "switch", "--",
                                      "ovs-vsctl", "list-ports", "br-l2sm").stdout.split())
        return ports

    def host_ends(self, node: int | str | None = None) -> set[str]:
        """A node's veth ends of L2S-M interfaces (l2<hash>; every node's when None)."""
        ends: set[str] = set()
        for each in ([node] if node is not None else range(1, len(self.nodes) + 1)):
            out = self.on_node("ip", "-o", "link", "show", node=each).stdout
            ends |= {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()
                     if line.split(":")[1].strip().startswith("l2")}
        return ends

    def controller_get(self, path: str):
        """GET /api/v1/<path> of the controller, in the controller pod, with its token."""
        script = ("import os, urllib.request; r = urllib.request.Request('http://127.0.0.1:8181/api/v1/" + path +
                  "', headers={'Authorization': 'Bearer ' + os.environ.get('L2SM_CONTROLLER_TOKEN', '')});"
                  " print(urllib.request.urlopen(r, timeout=10).read().decode())")
        # with several replicas, the one that leads (a standby answers 503)
        leaders = self.kubectl("-n", RELEASE_NS, "get", "pods", "-l", "l2sm.k8s.local/controller-leader=true",
                               "-o", "name").stdout.split()
        target = leaders[0] if leaders else f"deployment/{RELEASE}-controller"
        out = self.kubectl("-n", RELEASE_NS, "exec", target, "--", "python3", "-c", script).stdout
        return json.loads(out)

    def controller_ports(self) -> list[dict]:
        """The controller's registered ports (GET /api/v1/ports)."""
        body = self.controller_get("ports")
        return body.get("ports", body) if isinstance(body, dict) else body

    def controller_networks(self) -> list[dict]:
        """The controller's networks (GET /api/v1/networks)."""
        body = self.controller_get("networks")
        return body.get("networks", body) if isinstance(body, dict) else body


def l2sm_ready(cluster: Cluster, component: str) -> bool:
    kind = "deployment" if component in ("controller", "operator") else "daemonset"
    obj = cluster.get(kind, f"{RELEASE}-{component}", RELEASE_NS, check=False) or {}
    status = obj.get("status", {})
    if kind == "deployment":
        return status.get("readyReplicas") == 1
    return status.get("desiredNumberScheduled", 0) >= 1 and status.get("numberReady") == status.get(
        "desiredNumberScheduled")


def pod_manifest(name: str, annotation: str | None, labelled: bool = True, command: str = "sleep infinity",
                 node: str = FIRST_NODE) -> dict:
    """A pod of the test image asking for L2S-M networks the way upstream's examples do, pinned to ``node`` with a
    nodeSelector."""
    metadata: dict = {"name": name}
    if labelled:
        metadata["labels"] = {"l2sm": "true"}
    if annotation is not None:
        metadata["annotations"] = {"l2sm/networks": annotation}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"terminationGracePeriodSeconds": 1, "nodeSelector": {"kubernetes.io/hostname": node},
                     "containers": [{"name": "main", "image": TEST_IMAGE, "imagePullPolicy": "Never",
                                     "command": ["sh", "-c", command],
                                     "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}}]}}


@contextlib.contextmanager
def workload(cluster: Cluster, *objects: dict):
    """A test's L2Networks and pods applied at once, as a user applies a manifest, with every pod Ready; then its
    pods and networks deleted, also when the test or the wait failed."""
    pods = [o["metadata"]["name"] for o in objects if o["kind"] == "Pod"]
    networks = [o["metadata"]["name"] for o in objects if o["kind"] == "L2Network"]
    cluster.apply(*objects)
    try:
        cluster.wait_ready(*pods)
        yield cluster
    finally:
        cluster.kubectl("delete", "pod", *pods, "--wait=true", "--timeout=120s", check=False, timeout=180)
        cluster.kubectl("delete", "l2network", *networks, "--wait=true", "--timeout=120s", check=False, timeout=180)


def l2network(name: str, cidr: str | None = None) -> dict:
    spec: dict = {"type": "vnet"}
    if cidr:
        spec["networkCIDR"] = cidr
    return {"apiVersion": "l2sm.l2sm.k8s.local/v1", "kind": "L2Network", "metadata": {"name": name}, "spec": spec}


def ipv4_of(cluster: Cluster, pod: str, ifname: str, namespace: str = "default") -> list[str]:
    out = cluster.exec(pod, "ip", "-o", "-4", "addr", "show", "dev", ifname, namespace=namespace, check=False)
    return [line.split()[3] for line in out.stdout.splitlines() if " inet " in line]
