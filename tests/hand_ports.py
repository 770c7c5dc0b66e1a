"""A port plugged by hand into a sandbox node's switch, for tests of what the CNI plugin never does: registering a
port with the controller before it exists, or giving a port the MAC of a pod in another network.

Its namespace carries the sandbox's prefix, so ``sandbox down`` removes it even when a test fails before
``close()``.
"""
from __future__ import annotations

import secrets
import subprocess

from pyroute2 import IPRoute, NetNS

from osm_l2sm.constants import BRIDGE, POD_MTU
from osm_l2sm.sandbox import netns
from osm_l2sm.switch import add_port, del_port


class HandPort:
    def __init__(self, sb, name: str, node: str, address: str, mac: str | None = None, plug: bool = True):
        """A namespace whose eth0 (``address``, optionally ``mac``; TX offload off like a CNI pod's) is a veth to
        ``node``'s bridge, plugged unless ``plug`` is False."""
        self.sb, self.name, self.node = sb, name, node
        self.ns = f"{sb.name}-hand-{name}"
        self.host_if = f"{sb.name}h{name}"[:15]
        self.ovs = sb.node_ovs(node)
        node_ns = sb.layout.node_netns(node)
        netns.create(self.ns)
        tmp = "x" + secrets.token_hex(5)
        with IPRoute() as ipr:
            ipr.link("add", ifname=self.host_if, kind="veth", peer={"ifname": tmp, "net_ns_fd": self.ns})
            ipr.link("set", index=ipr.link_lookup(ifname=self.host_if)[0], mtu=POD_MTU, net_ns_fd=node_ns)
        with NetNS(node_ns) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname=self.host_if)[0], state="up")
        ip, prefix = address.split("/")
        with NetNS(self.ns) as ipr:
            idx = ipr.link_lookup(ifname=tmp)[0]
            ipr.link("set", index=idx, ifname="eth0", mtu=POD_MTU, **({"address": mac} if mac else {}))
            ipr.addr("add", index=idx, address=ip, prefixlen=int(prefix))
            ipr.link("set", index=idx, state="up")
            self.mac = ipr.get_links(idx)[0].get_attr("IFLA_ADDRESS")
        self.run("ethtool", "-K", "eth0", "tx", "off")
        if plug:
            self.plug()

    def plug(self) -> None:
        add_port(self.ovs, BRIDGE, self.host_if)

    def unplug(self) -> None:
        del_port(self.ovs, BRIDGE, self.host_if)

    def run(self, *cmd: str) -> subprocess.CompletedProcess:
        return netns.run(self.ns, list(cmd), timeout=60)

    def ping(self, ip: str) -> bool:
        return self.run("ping", "-c", "1", "-W", "2", ip).returncode == 0

    def neigh_state(self, ip: str) -> str:
        return self.run("ip", "neigh", "show", ip, "dev", "eth0").stdout.strip()

    def close(self) -> None:
        try:
            self.unplug()
        finally:
            netns.remove(self.ns)  # the veth goes with it
