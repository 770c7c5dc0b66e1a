"""A node: a network namespace with its own Open vSwitch daemons, an underlay link, and what the switch DaemonSet
runs on a Kubernetes node: the switch agent (bridge, TLS, tunnels to its peers, domain links, registration) and the
CNI node daemon, which the sandbox's CNI runtime reaches through the same ``l2sm-cni`` binary as a kubelet."""
from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from osm_l2sm.errors import L2smError
from osm_l2sm.processes import stop_process, wait_until
from osm_l2sm.protocol import TOKEN_ENV, dpid_for
from osm_l2sm.switch import DomainLinks, OvsInstance, switch_up

from . import netns
from .layout import BRIDGE, UNDERLAY_IF, UNDERLAY_MTU, Layout, underlay_addresses


class Node:
    def __init__(self, layout: Layout, name: str, index: int, subnet: str):
        self.layout = layout
        self.name = name
        self.index = index
        self.netns = layout.node_netns(name)
        self.gateway, self.address = underlay_addresses(subnet, index)
        self.ovs = OvsInstance(layout.node_dir(name), netns=self.netns)

    @property
    def dpid(self) -> str:
        return dpid_for(self.name)

    @property
    def cni_socket(self) -> str:
        return self.layout.cni_socket(self.name)

    def up(self, of_port: int, rest_url: str, tls: tuple[str, str, str], token: str | None = None,
           peers: list["Node"] | None = None, domain: DomainLinks | None = None) -> None:
        """Namespace, underlay link and OVS daemons, then the switch through the agent (TLS with ``tls``: key,
        certificate, CA; tunnels to ``peers``; the domain links of an edge; registration with the controller at
        ``rest_url``) and the CNI daemon (``token``: the controller's); safe to repeat. ``peers`` None keeps the
        tunnels and domain links the switch had, and its registration (a node revived while its controller may be
        down too)."""
        self.prepare()
        switch_up(self.name, self.layout.node_dir(self.name), f"ssl:{self.gateway}:{of_port}", rest_url,
                  self.address, UNDERLAY_IF, None if peers is None else {p.name: p.address for p in peers},
                  BRIDGE, self.netns, token, tls=tls, domain=domain, register_switch=peers is not None)
        self.start_cni_daemon(rest_url, token)

    def prepare(self) -> None:
        """The part of :meth:`up` that needs no controller: namespace, underlay link and OVS daemons; safe to
        repeat (a sandbox prepares its nodes while its controller starts)."""
        netns.create(self.netns)
        self._underlay_link()
        os.makedirs(self.layout.node_dir(self.name), exist_ok=True)
        self.ovs.start()

    def problems(self) -> list[str]:
        """What keeps this node from serving its pods (empty when nothing does)."""
        if not netns.exists(self.netns):
            return [f"namespace {self.netns} missing"]
        found = [f"{d} not running" for d in self.ovs.dead_daemons()]
        return found + ([] if cni_daemon_pid(self.cni_socket) else ["CNI daemon not running"])

    def start_cni_daemon(self, rest_url: str, token: str | None = None, timeout: float = 20.0) -> None:
        if cni_daemon_pid(self.cni_socket):
            return
        log_path = os.path.join(self.layout.node_dir(self.name), "cni-daemon.log")
        cmd = [sys.executable, "-m", "osm_l2sm", "switch", "daemon", "--node", self.name, "--run-dir",
               self.layout.node_dir(self.name), "--rest", rest_url, "--bridge", BRIDGE, "--socket", self.cni_socket]
        # nsenter, not `ip netns exec`: that gives the process a mount namespace of its own, which need not see
        # pod namespaces mounted later (on a Kubernetes node the switch pod mounts /run/netns with propagation)
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        if token:
            env[TOKEN_ENV] = token  # not on the command line, where ps shows it
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(["nsenter", f"--net={netns.path(self.netns)}", "--", *cmd],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                    env=env, cwd=self.layout.node_dir(self.name))  # `-m` must find no package here
        with open(self.cni_socket + ".pid", "w", encoding="utf-8") as f:
            f.write(str(proc.pid))

        def listening() -> bool:
            if proc.poll() is not None:
                with open(log_path, encoding="utf-8", errors="replace") as log:
                    last = (log.read().strip().splitlines() or ["(no output)"])[-1]
                raise L2smError(f"the CNI daemon of {self.name} exited at start: {last}")
            with socket.socket(socket.AF_UNIX) as probe:
                return probe.connect_ex(self.cni_socket) == 0

        if wait_until(listening, timeout, interval=0.05):
            return
        stop_cni_daemon(self.cni_socket)
        raise L2smError(f"the CNI daemon of {self.name} did not listen on {self.cni_socket} within {timeout:.0f}s")

    def _underlay_link(self) -> None:
        bridge_link(self.netns, self.layout.underlay_bridge, self.layout.underlay_host_if(self.index),
                    f"{self.layout.name}-p{self.index}", UNDERLAY_IF, self.address)

    def down(self) -> None:
        """Stop the CNI daemon and OVS, then drop the namespace (its links go with it) and the root end of the
        underlay link."""
        try:
            try:
                stop_cni_daemon(self.cni_socket)
            finally:
                self.ovs.stop()
        finally:
            netns.remove(self.netns)
            with IPRoute() as ipr:
                delete_links(ipr, self.layout.underlay_host_if(self.index))


def cni_daemon_pid(socket_path: str) -> int | None:
    """The pid of the CNI daemon serving ``socket_path`` when it runs (its command line names the socket, so a
    reused pid is not taken for it)."""
    try:
        with open(socket_path + ".pid", encoding="utf-8") as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return pid if socket_path.encode() in f.read() else None
    except (OSError, ValueError):
        return None


def stop_cni_daemon(socket_path: str) -> None:
    pid = cni_daemon_pid(socket_path)
    if pid:
        stop_process(pid, lambda: cni_daemon_pid(socket_path) is not None)


def delete_links(ipr: IPRoute, *names: str) -> None:
    """Delete the root-side links named ``names``; one already gone is fine (the kernel drops a veth pair with its
    namespace, possibly between the lookup and the delete)."""
    for name in names:
        for index in ipr.link_lookup(ifname=name):
            try:
                ipr.link("del", index=index)
            except NetlinkError as err:
                if err.code != errno.ENODEV:
                    raise


def bridge_link(ns: str, bridge: str, host_if: str, tmp_if: str, inside_if: str, address: str) -> None:
    """A veth from the root-netns Linux ``bridge`` (end ``host_if``) into ``ns`` as ``inside_if`` with ``address``/24;
    left alone when ``inside_if`` already exists."""
    with IPRoute(netns=netns.path(ns), flags=0) as inside:
        if inside.link_lookup(ifname=inside_if):
            return
    with IPRoute() as ipr:
        delete_links(ipr, host_if, tmp_if)
        ipr.link("add", ifname=host_if, kind="veth", mtu=UNDERLAY_MTU, peer={"ifname": tmp_if, "mtu": UNDERLAY_MTU})
        fd = os.open(netns.path(ns), os.O_RDONLY)
        try:
            ipr.link("set", index=ipr.link_lookup(ifname=tmp_if)[0], net_ns_fd=fd)
        finally:
            os.close(fd)
        master = ipr.link_lookup(ifname=bridge)[0]
        ipr.link("set", index=ipr.link_lookup(ifname=host_if)[0], master=master, state="up")
    with IPRoute(netns=netns.path(ns), flags=0) as inside:
        index = inside.link_lookup(ifname=tmp_if)[0]
        inside.link("set", index=index, ifname=inside_if)
        inside.addr("add", index=index, address=address, prefixlen=24)
        inside.link("set", index=index, state="up")
