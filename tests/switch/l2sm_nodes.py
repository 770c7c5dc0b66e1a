"""A two-node overlay on this host for data-plane tests: node namespaces joined by a Linux bridge underlay, each
with its own OVS, a controller process in the root namespace, and pods as namespaces with hand-plugged veths.

Every name carries a random suffix so parallel runs never collide; ``close()`` removes everything it made.
"""
from __future__ import annotations

import ipaddress
import os
import random
import secrets
import shutil
import subprocess
import tempfile
import time

from pyroute2 import IPRoute, NetNS, netns

from osm_l2sm.controller.process import ControllerProcess
from osm_l2sm.switch.bridge import add_port, del_port, ensure_bridge, ensure_tunnel, remove_tunnel
from osm_l2sm.switch.ovs import OvsInstance, dpid_for
from tests.ports import free_port  # noqa: F401  (tests import it from here)

BRIDGE = "br-l2sm"
POD_MTU = 1450
UNDERLAY_MTU = 1600


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 no interface of the root namespace uses."""
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    while True:
        prefix = f"10.{random.randint(160, 250)}.{random.randint(0, 255)}."
        if f" {prefix}" not in used:
            return ipaddress.IPv4Network(f"{prefix}0/24")


def sh(*cmd: str, ns: str | None = None, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    return subprocess.run(full, capture_output=True, text=True, check=check, timeout=timeout)


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s")
        time.sleep(0.2)


class Pod:
    def __init__(self, name: str, ns: str, node: "Node", host_if: str, mac: str):
        self.name, self.ns, self.node, self.host_if, self.mac = name, ns, node, host_if, mac

    def run(self, *cmd: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh(*cmd, ns=self.ns, check=check, timeout=timeout)

    def ping(self, ip: str, count: int = 1) -> bool:
        return self.run("ping", "-c", str(count), "-W", "2", ip).returncode == 0

    def neigh_state(self, ip: str) -> str:
        return self.run("ip", "neigh", "show", ip, "dev", "eth0").stdout.strip()


class Node:
    def __init__(self, name: str, ns: str, ip: str, ovs: OvsInstance):
        self.name, self.ns, self.ip, self.ovs = name, ns, ip, ovs

    def flows(self) -> str:
        return self.ovs.ofctl("dump-flows", BRIDGE)


class TwoNodes:
    """node1 and node2 (switch names ``<tag>-node1``...), controller, and whatever pods the test adds."""

    def __init__(self, tmp_dir: str):
        self.tag = "t" + secrets.token_hex(3)
        self.tmp_dir = tmp_dir
        self.run_dir = tempfile.mkdtemp(prefix=f"{self.tag}-")  # short: OVS socket paths have a length limit
        self.subnet = free_subnet()
        self.gateway = str(self.subnet.network_address + 1)
        self.underlay = f"{self.tag}ul"
        self.namespaces: list[str] = []
        self.nodes: dict[str, Node] = {}
        self.pods: dict[str, Pod] = {}
        self.of_port = free_port()
        self.controller = ControllerProcess(os.path.join(tmp_dir, "controller.json"),
                                            f"{self.gateway}:{self.of_port}", f"127.0.0.1:{free_port()}",
                                            log_file=os.path.join(tmp_dir, "controller.log"))
        self.client = self.controller.client(timeout=10)

    # -- set-up --------------------------------------------------------------------------------------------------
    def _netns(self, name: str) -> str:
        netns.create(name)
        self.namespaces.append(name)
        with NetNS(name) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        return name

    def start(self) -> "TwoNodes":
        with IPRoute() as ipr:
            ipr.link("add", ifname=self.underlay, kind="bridge", mtu=UNDERLAY_MTU)
            idx = ipr.link_lookup(ifname=self.underlay)[0]
            ipr.addr("add", index=idx, address=self.gateway, prefixlen=24)
            ipr.link("set", index=idx, state="up")
        self.controller.start()
        for i in (1, 2):
            name = f"{self.tag}-node{i}"
            ns = self._netns(f"{self.tag}n{i}")
            ip = str(self.subnet.network_address + 10 + i)
            self._veth(f"{self.tag}u{i}", "ul0", ns, master=self.underlay, mtu=UNDERLAY_MTU, address=(ip, 24))
            ovs = OvsInstance(os.path.join(self.run_dir, f"n{i}"), netns=ns).start()
            ensure_bridge(ovs, BRIDGE, dpid_for(name), f"tcp:{self.gateway}:{self.of_port}")
            self.nodes[name] = Node(name, ns, ip, ovs)
        names = sorted(self.nodes)
        for name in names:
            node = self.nodes[name]
            tunnels = {}
            for peer in names:
                if peer != name:
                    tunnels[peer] = ensure_tunnel(node.ovs, BRIDGE, peer, node.ip, self.nodes[peer].ip, "ul0",
                                                  netns=node.ns)
            self.client.register_switch(name, dpid_for(name), tunnels)
        for name in names:
            wait_until(lambda: self.switch(name)["connected"], what=f"{name} connected")
        return self

    def _veth(self, host_name: str, inner_name: str, ns: str, master: str | None = None, host_ns: str | None = None,
              mtu: int = 1500, address: tuple[str, int] | None = None, mac: str | None = None) -> None:
        """A veth pair: ``host_name`` in ``host_ns`` (root by default, optionally enslaved to ``master``),
        ``inner_name`` in ``ns``."""
        tmp = "x" + secrets.token_hex(5)
        with IPRoute() as ipr:
            ipr.link("add", ifname=host_name, kind="veth", peer={"ifname": tmp, "net_ns_fd": ns})
            idx = ipr.link_lookup(ifname=host_name)[0]
            ipr.link("set", index=idx, mtu=mtu)
            if master:
                ipr.link("set", index=idx, master=ipr.link_lookup(ifname=master)[0])
            if host_ns:
                ipr.link("set", index=idx, net_ns_fd=host_ns)
        if host_ns:
            with NetNS(host_ns) as ipr:
                ipr.link("set", index=ipr.link_lookup(ifname=host_name)[0], state="up")
        else:
            with IPRoute() as ipr:
                ipr.link("set", index=ipr.link_lookup(ifname=host_name)[0], state="up")
        with NetNS(ns) as ipr:
            idx = ipr.link_lookup(ifname=tmp)[0]
            ipr.link("set", index=idx, ifname=inner_name, mtu=mtu, **({"address": mac} if mac else {}))
            if address:
                ipr.addr("add", index=idx, address=address[0], prefixlen=address[1])
            ipr.link("set", index=idx, state="up")

    def add_pod(self, name: str, node: str, network: str | None, address: str, mac: str | None = None,
                register_first: bool = False) -> Pod:
        """A pod namespace with eth0 (MTU 1450, TX offload off) plugged into ``node``'s bridge, registered in
        ``network`` unless None (before the port exists on the bridge with ``register_first``)."""
        node_obj = self.nodes[node]
        ns = self._netns(f"{self.tag}p{name}")
        host_if = f"{self.tag}{name}"[:15]
        ip, prefix = address.split("/")
        self._veth(host_if, "eth0", ns, host_ns=node_obj.ns, mtu=POD_MTU, address=(ip, int(prefix)), mac=mac)
        sh("ethtool", "-K", "eth0", "tx", "off", ns=ns)
        with NetNS(ns) as ipr:
            mac = ipr.get_links(ipr.link_lookup(ifname="eth0")[0])[0].get_attr("IFLA_ADDRESS")
        pod = Pod(name, ns, node_obj, host_if, mac)
        self.pods[name] = pod
        if network and register_first:  # the controller learns the ofport when the port appears
            self.client.attach_port(network, node, host_if, mac)
        add_port(node_obj.ovs, BRIDGE, host_if)
        if network:
            self.attach(pod, network)
        return pod

    def attach(self, pod: Pod, network: str) -> None:
        self.client.attach_port(network, pod.node.name, pod.host_if, pod.mac)
        wait_until(lambda: self.port_ofport(pod) and f"dl_dst={pod.mac}" in pod.node.flows(),
                   what=f"flows for pod {pod.name}")

    def port_ofport(self, pod: Pod):
        return next((p["ofport"] for p in self.client.list_ports() if p["interface"] == pod.host_if), None)

    def switch(self, name: str) -> dict:
        return next(s for s in self.client.list_switches() if s["name"] == name)

    # -- tear-down -----------------------------------------------------------------------------------------------
    def close(self) -> None:
        errors = []
        for step in self._teardown_steps():
            try:
                step()
            except Exception as err:  # keep tearing down; report at the end
                errors.append(repr(err))
        if errors:
            raise RuntimeError("teardown: " + "; ".join(errors))

    def _teardown_steps(self):
        yield self.controller.stop
        for pod in self.pods.values():
            yield lambda pod=pod: del_port(pod.node.ovs, BRIDGE, pod.host_if)
        for node in self.nodes.values():
            for peer in self.nodes:
                if peer != node.name:
                    yield lambda node=node, peer=peer: remove_tunnel(node.ovs, BRIDGE, peer, node.ns)
            yield node.ovs.stop
        for ns in reversed(self.namespaces):
            yield lambda ns=ns: netns.remove(ns)  # takes the veths inside with it
        yield self._remove_underlay
        yield lambda: shutil.copytree(self.run_dir, os.path.join(self.tmp_dir, "ovs"), dirs_exist_ok=True,
                                      ignore=shutil.ignore_patterns("*.sock", "*.ctl", "*.mgmt", "*.snoop"))
        yield lambda: shutil.rmtree(self.run_dir)

    def _remove_underlay(self) -> None:
        with IPRoute() as ipr:
            for idx in ipr.link_lookup(ifname=self.underlay):
                ipr.link("del", index=idx)


class WebServer:
    """nginx inside a pod serving one random file; stopped by its own pidfile."""

    CONF = """user root; daemon on; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};
  uwsgi_temp_path {d}; scgi_temp_path {d};
  server {{ listen {ip}:8080; root {d}/www; }} }}
"""

    def __init__(self, pod: Pod, ip: str, directory: str, size: int = 8 * 1024 * 1024):
        self.pod, self.ip, self.dir = pod, ip, directory
        os.makedirs(os.path.join(directory, "www"), exist_ok=True)
        self.content = os.urandom(size)
        with open(os.path.join(directory, "www", "blob"), "wb") as f:
            f.write(self.content)
        with open(os.path.join(directory, "nginx.conf"), "w") as f:
            f.write(self.CONF.format(d=directory, ip=ip))

    def __enter__(self) -> "WebServer":
        sh("nginx", "-c", os.path.join(self.dir, "nginx.conf"), "-p", self.dir, ns=self.pod.ns)
        return self

    def __exit__(self, *exc) -> None:
        try:
            with open(os.path.join(self.dir, "nginx.pid")) as f:
                os.kill(int(f.read()), 15)
        except (OSError, ValueError):
            pass

    def fetch_from(self, client: Pod) -> bytes | None:
        """The file as ``client`` downloads it over HTTP, or None when the transfer fails."""
        out = subprocess.run(["ip", "netns", "exec", client.ns, "curl", "-sf", "--max-time", "60",
                              f"http://{self.ip}:8080/blob"], capture_output=True, timeout=90)
        return out.stdout if out.returncode == 0 else None
