"""The sandbox: an emulated cluster of nodes (namespaces with OVS), a controller and pods, on this host.

Everything it makes is recorded in ``<state>/sandbox.json`` as soon as it exists, so ``down`` can remove it even
after a half-finished ``up`` or from another process.
"""
from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
import zlib

from pyroute2 import IPRoute

from osm_l2sm.controller.client import ControllerClient
from osm_l2sm.controller.process import ControllerProcess
from osm_l2sm.errors import L2smError
from osm_l2sm.switch.ovs import OvsInstance

from . import netns
from .layout import (OF_PORT, REST_PORT, UNDERLAY_MTU, UNDERLAY_POOL, Layout, check_item_name, node_name,
                     underlay_addresses)
from .node import Node
from .pod import Pod

REQUIRED_TOOLS = ("ip", "ethtool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl")


def preflight() -> None:
    """Root and the tools; one clear line when something is missing."""
    if os.geteuid() != 0:
        raise L2smError("the sandbox needs root (network namespaces, veth and Open vSwitch); run it with sudo")
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            raise L2smError(f"{tool} is missing: install openvswitch-switch, iproute2 and ethtool")


def _free_underlay(name: str) -> str:
    """A /24 of the pool that no address of this host uses, starting at one derived from the name."""
    used = []
    with IPRoute() as ipr:
        for addr in ipr.get_addr(family=2):
            used.append(ipaddress.ip_network(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}", strict=False))
    subnets = list(UNDERLAY_POOL.subnets(new_prefix=24))
    start = zlib.crc32(name.encode()) % len(subnets)
    for subnet in subnets[start:] + subnets[:start]:
        if not any(subnet.overlaps(u) for u in used):
            return str(subnet)
    raise L2smError(f"no free /24 left in {UNDERLAY_POOL} for the sandbox underlay")


def _process_alive(pid: int | None, marker: str) -> bool:
    """True when ``pid`` runs and its command line contains ``marker`` (so a reused pid is not ours)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker.encode() in f.read()
    except OSError:
        return False


class Sandbox:
    def __init__(self, name: str | None = None, state_dir: str | None = None):
        self.layout = Layout.for_name(name, state_dir)
        self.name = self.layout.name

    # state -----------------------------------------------------------------------------------------------------
    def _load(self) -> dict | None:
        try:
            with open(self.layout.state_file, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except ValueError as err:
            raise L2smError(f"sandbox state {self.layout.state_file} is corrupt: {err}") from err

    def _save(self, state: dict) -> None:
        os.makedirs(self.layout.state_dir, exist_ok=True)
        tmp = self.layout.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, self.layout.state_file)

    @contextlib.contextmanager
    def _locked(self):
        """One changing command at a time per sandbox."""
        os.makedirs(self.layout.state_dir, exist_ok=True)
        with open(os.path.join(self.layout.state_dir, "lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _running_state(self) -> dict:
        state = self._load()
        if not state or not state.get("ready"):
            raise L2smError(f"sandbox {self.name} is not up (run: osm-l2sm sandbox up)")
        return state

    def _nodes(self, state: dict) -> list[Node]:
        return [Node(self.layout, n, i, state["underlay"]) for i, n in enumerate(state["nodes"], start=1)]

    def _pod(self, state: dict, name: str) -> Pod:
        if name not in state["pods"]:
            raise L2smError(f"unknown pod {name} in sandbox {self.name}")
        return Pod(self.layout, name, state["pods"][name])

    # cluster ---------------------------------------------------------------------------------------------------
    def is_up(self) -> bool:
        state = self._load()
        return bool(state and state.get("ready")) and _process_alive(
            state.get("controller", {}).get("pid"), self.layout.controller_state)

    def up(self, nodes: int = 2) -> bool:
        """Bring the cluster up; False when it already runs (a dead controller is restarted then, keeping its
        state). Any other broken leftover is removed first."""
        preflight()
        if not 1 <= nodes <= 20:
            raise L2smError("--nodes must be from 1 to 20")
        with self._locked():
            if self.is_up():
                return False
            state = self._load()
            if state and state.get("ready") and all(netns.exists(n.netns) for n in self._nodes(state)):
                self._start_controller(state)
                return False
            if self._load() is not None or netns.names_with_prefix(self.layout.prefix):
                self._down_locked()
            subnet = _free_underlay(self.name)
            gateway, _ = underlay_addresses(subnet, 0)
            state = {"name": self.name, "underlay": subnet, "nodes": [], "pods": {}, "controller": {},
                     "ready": False}
            self._save(state)
            try:
                self._underlay_bridge(gateway)
                controller = self._start_controller(state)
                members = []
                for index in range(1, nodes + 1):
                    state["nodes"].append(node_name(index))
                    self._save(state)
                    node = Node(self.layout, node_name(index), index, subnet)
                    node.up(OF_PORT)
                    members.append(node)
                client = ControllerClient(controller.url)
                for node in members:
                    tunnels = {peer.name: node.connect(peer) for peer in members if peer is not node}
                    client.register_switch(node.name, node.dpid, tunnels)
                self._wait_switches(client, [n.name for n in members])
                state["ready"] = True
                self._save(state)
            except BaseException:
                self._down_locked()
                raise
        return True

    def _start_controller(self, state: dict) -> ControllerProcess:
        gateway, _ = underlay_addresses(state["underlay"], 0)
        controller = ControllerProcess(self.layout.controller_state, f"{gateway}:{OF_PORT}",
                                       f"{gateway}:{REST_PORT}", log_file=self.layout.controller_log)
        controller.start()
        state["controller"] = {"pid": controller.pid, "url": controller.url}
        self._save(state)
        if state.get("ready"):
            self._wait_switches(controller.client(), state["nodes"])
        return controller

    @staticmethod
    def _wait_switches(client: ControllerClient, names: list[str], timeout: float = 30.0) -> None:
        """Until every node's switch is connected (and so synced): attachments made before would not forward yet."""
        deadline = time.monotonic() + timeout
        while True:
            connected = {s["name"] for s in client.list_switches() if s.get("connected")}
            missing = sorted(set(names) - connected)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise L2smError(f"switches {', '.join(missing)} did not connect to the controller "
                                f"within {timeout:.0f} s")
            time.sleep(0.1)

    def restart_controller(self) -> int:
        """Start the controller again from its state file (after a crash or a kill); returns the new pid.
        The switches keep forwarding meanwhile (fail_mode=secure) and are re-synced when they reconnect."""
        with self._locked():
            state = self._running_state()
            self._stop_controller(state["controller"].get("pid"))
            return self._start_controller(state).pid

    def _underlay_bridge(self, gateway: str) -> None:
        with IPRoute() as ipr:
            if ipr.link_lookup(ifname=self.layout.underlay_bridge):
                return
            ipr.link("add", ifname=self.layout.underlay_bridge, kind="bridge", mtu=UNDERLAY_MTU)
            index = ipr.link_lookup(ifname=self.layout.underlay_bridge)[0]
            ipr.addr("add", index=index, address=gateway, prefixlen=24)
            ipr.link("set", index=index, state="up")

    def down(self) -> None:
        """Remove everything this sandbox made, also when it is half broken; keeps going past errors."""
        preflight()
        if not os.path.isdir(self.layout.state_dir):  # never made here: only look for leftovers, create nothing
            self._down_locked()
            return
        with self._locked():
            self._down_locked()

    def _down_locked(self) -> None:
        state = self._load() or {"nodes": [], "pods": {}, "controller": {}, "underlay": None}
        errors = []

        def attempt(what, fn, *args):
            try:
                fn(*args)
            except Exception as err:  # keep removing the rest
                errors.append(f"{what}: {err}")

        for name, record in state.get("pods", {}).items():
            pod = Pod(self.layout, name, record)
            attempt(f"pod {name}", pod.stop)
            attempt(f"pod {name}", netns.remove, pod.netns)  # its veth ends go with it; OVS goes below
        for node in self._nodes(state) if state.get("underlay") else []:
            attempt(f"node {node.name}", node.down)
        for leftover in netns.names_with_prefix(self.layout.prefix):  # from a run whose state was lost
            run_dir = self.layout.node_dir(leftover[len(self.layout.prefix):])
            if os.path.isdir(run_dir):
                attempt(leftover, OvsInstance(run_dir, netns=leftover).stop)
            attempt(leftover, netns.remove, leftover)
        attempt("controller", self._stop_controller, state.get("controller", {}).get("pid"))
        attempt("underlay", self._remove_links)
        for path in (self.layout.state_file, self.layout.controller_state, self.layout.controller_log):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        for sub in ("nodes", "pods"):  # OVS databases and logs: a new `up` starts from scratch
            shutil.rmtree(os.path.join(self.layout.state_dir, sub), ignore_errors=True)
        if errors:
            raise L2smError(f"sandbox {self.name} removed with errors: {'; '.join(errors)}")

    def _stop_controller(self, pid: int | None) -> None:
        if not _process_alive(pid, self.layout.controller_state):
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
                if not _process_alive(pid, self.layout.controller_state):
                    return
                time.sleep(0.05)

    def _remove_links(self) -> None:
        prefix = self.layout.prefix
        with IPRoute() as ipr:
            for link in ipr.get_links():
                ifname = link.get_attr("IFLA_IFNAME")
                if ifname == self.layout.underlay_bridge or ifname.startswith(prefix):
                    with contextlib.suppress(Exception):
                        ipr.link("del", index=link["index"])

    def status(self) -> dict:
        state = self._load()
        if not state:
            return {"name": self.name, "up": False, "state_dir": self.layout.state_dir}
        controller = state.get("controller", {})
        alive = _process_alive(controller.get("pid"), self.layout.controller_state)
        nodes = []
        for node in self._nodes(state):
            nodes.append({"name": node.name, "netns": node.netns, "underlay_ip": node.address,
                          "netns_present": netns.exists(node.netns), "ovs_running": node.ovs.running})
        networks = None
        if alive:
            with contextlib.suppress(L2smError):
                networks = [n["name"] for n in ControllerClient(controller["url"]).list_networks()]
        return {"name": self.name, "up": bool(state.get("ready")) and alive, "state_dir": self.layout.state_dir,
                "underlay": state.get("underlay"),
                "controller": {"url": controller.get("url"), "pid": controller.get("pid"), "alive": alive},
                "nodes": nodes, "networks": networks, "pods": sorted(state.get("pods", {}))}

    def controller_client(self) -> ControllerClient:
        return ControllerClient(self._running_state()["controller"]["url"])

    def node_ovs(self, node: str) -> OvsInstance:
        state = self._running_state()
        if node not in state["nodes"]:
            raise L2smError(f"unknown node {node} (nodes: {', '.join(state['nodes'])})")
        return OvsInstance(self.layout.node_dir(node), netns=self.layout.node_netns(node))

    # networks --------------------------------------------------------------------------------------------------
    def create_network(self, name: str, cidr: str | None = None) -> dict:
        return self.controller_client().create_network(name, cidr=cidr)

    def delete_network(self, name: str) -> None:
        """Delete a network; the sandbox's pods on it are detached first so no stale interface stays."""
        with self._locked():
            state = self._running_state()
            client = ControllerClient(state["controller"]["url"])
            client.get_network(name)
            for pod_name, record in state["pods"].items():
                if name in record["networks"]:
                    Pod(self.layout, pod_name, record).detach(name, state["controller"]["url"])
                    self._save(state)
            client.delete_network(name)

    def networks(self) -> list[dict]:
        return self.controller_client().list_networks()

    # pods ------------------------------------------------------------------------------------------------------
    def run_pod(self, name: str, node: str, networks: list[tuple[str, str | None]],
                command: list[str] | None = None, env: dict | None = None) -> dict:
        preflight()
        check_item_name("pod", name)
        with self._locked():
            state = self._running_state()
            if node not in state["nodes"]:
                raise L2smError(f"unknown node {node} (nodes: {', '.join(state['nodes'])})")
            if name in state["pods"]:
                raise L2smError(f"pod {name} exists already in sandbox {self.name}")
            url = state["controller"]["url"]
            client = ControllerClient(url)
            for network, _ in networks:
                client.get_network(network)  # unknown network: fail before making anything
            record = {"node": node, "networks": {}, "pid": None, "command": None}
            pod = Pod(self.layout, name, record)
            state["pods"][name] = record
            self._save(state)
            try:
                netns.create(pod.netns)
                for network, address in networks:
                    pod.attach(network, address, url)
                    self._save(state)
                if command:
                    pod.start(command, env)
                self._save(state)
            except BaseException:
                self._delete_pod(state, pod)
                raise
            return self._pod_info(pod)

    def exec_pod(self, name: str, argv: list[str], timeout: float | None = None,
                 capture: bool = True) -> subprocess.CompletedProcess:
        state = self._running_state()
        pod = self._pod(state, name)
        if not argv:
            raise L2smError("pod exec needs a command")
        try:
            return netns.run(pod.netns, argv, timeout=timeout, capture=capture)
        except subprocess.TimeoutExpired as err:
            raise L2smError(f"command in pod {name} did not finish within {timeout} s") from err

    def delete_pod(self, name: str) -> None:
        preflight()
        with self._locked():
            state = self._running_state()
            self._delete_pod(state, self._pod(state, name))

    def _delete_pod(self, state: dict, pod: Pod) -> None:
        pod.stop()
        url = state["controller"]["url"]
        for network in list(pod.record["networks"]):
            with contextlib.suppress(L2smError):
                pod.detach(network, url)
        netns.remove(pod.netns)
        state["pods"].pop(pod.name, None)
        self._save(state)

    def attach(self, pod: str, network: str, address: str | None = None) -> str:
        """Attach a running pod to one more network; returns the new interface name."""
        preflight()
        with self._locked():
            state = self._running_state()
            p = self._pod(state, pod)
            if network in p.record["networks"]:
                raise L2smError(f"pod {pod} is attached to {network} already")
            ifname = p.attach(network, address, state["controller"]["url"])
            self._save(state)
            return ifname

    def detach(self, pod: str, network: str) -> None:
        preflight()
        with self._locked():
            state = self._running_state()
            p = self._pod(state, pod)
            if network not in p.record["networks"]:
                raise L2smError(f"pod {pod} is not attached to {network}")
            p.detach(network, state["controller"]["url"])
            self._save(state)

    def _pod_info(self, pod: Pod) -> dict:
        return {"name": pod.name, "node": pod.node, "netns": pod.netns, "pid": pod.record.get("pid"),
                "running": pod.running(), "command": pod.record.get("command"),
                "networks": [{"network": n, **att} for n, att in pod.record["networks"].items()],
                "log": self.layout.pod_log(pod.name)}

    def pods(self) -> list[dict]:
        state = self._running_state()
        return [self._pod_info(Pod(self.layout, n, r)) for n, r in sorted(state["pods"].items())]

    def pod_log(self, name: str) -> str:
        self._pod(self._running_state(), name)
        try:
            with open(self.layout.pod_log(name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


@contextlib.contextmanager
def temporary_sandbox(prefix: str = "t", nodes: int = 2):
    """A sandbox with a fresh unique name and a private state dir, removed on exit (for tests and benchmarks)."""
    import secrets
    import tempfile

    name = (prefix + secrets.token_hex(3))[:6]
    state_dir = tempfile.mkdtemp(prefix=f"l2sm-{name}-")
    sandbox = Sandbox(name, state_dir)
    try:
        sandbox.up(nodes)
        yield sandbox
    finally:
        try:
            sandbox.down()
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
