"""A pod: a network namespace attached to networks through the CNI plugin, with an optional program inside."""
from __future__ import annotations

import os
import signal
import subprocess
import time

from . import cni_runtime, netns
from .layout import POD_MTU, Layout
from .state import PodRecord


def cni_config(network: str, address: str | None) -> dict:
    """The network configuration Multus passes for one attachment (the node's daemon knows the rest)."""
    config = {"cniVersion": "1.0.0", "name": network, "type": "l2sm-cni", "network": network, "mtu": POD_MTU}
    if address:
        config["runtimeConfig"] = {"ips": [address]}
    return config


class Pod:
    """One pod as recorded in the sandbox state: ``record``, updated in place."""

    def __init__(self, layout: Layout, name: str, record: PodRecord):
        self.layout = layout
        self.name = name
        self.record = record
        self.netns = layout.pod_netns(name)

    @property
    def node(self) -> str:
        return self.record.node

    def next_ifname(self) -> str:
        used = {att["interface"] for att in self.record.networks.values()}
        n = 1
        while f"net{n}" in used:
            n += 1
        return f"net{n}"

    def _cni(self, command: str, network: str, ifname: str, address: str | None) -> dict:
        return cni_runtime.invoke(command, self.layout.node_netns(self.node), self.layout.container_id(self.name),
                                  self.netns, ifname, cni_config(network, address), self.layout.cni_socket(self.node))

    def attach(self, network: str, address: str | None) -> str:
        ifname = self.next_ifname()
        self._cni("ADD", network, ifname, address)
        self.record.networks[network] = {"interface": ifname, "address": address}
        return ifname

    def detach(self, network: str) -> None:
        att = self.record.networks[network]
        self._cni("DEL", network, att["interface"], att["address"])
        del self.record.networks[network]

    def start(self, command: list[str], env: dict | None = None) -> int:
        log = self.layout.pod_log(self.name)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        full_env = dict(os.environ, **(env or {}))
        with open(log, "ab") as out:
            # Own session: the program outlives this command and is stopped as a group.
            proc = subprocess.Popen(netns.argv(self.netns, command), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=full_env, start_new_session=True)
        self.record.pid = proc.pid
        # `ip netns exec` starts in this namespace and enters the pod's a moment later. Until then the pid is not
        # in the pod, and running() and stop() tell "ours" by that: return only once it is inside (or has ended).
        while proc.poll() is None and not netns.holds(self.netns, proc.pid):
            time.sleep(0.01)
        self.record.command = command
        return proc.pid

    def running(self) -> bool:
        pid = self.record.pid
        return bool(pid) and netns.holds(self.netns, pid)

    def stop(self) -> None:
        """The recorded program's group first, then anything else left inside the pod's namespace."""
        pid = self.record.pid
        if pid and netns.holds(self.netns, pid):  # the pid is still ours: it lives in the pod's netns
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and netns.holds(self.netns, pid):
                time.sleep(0.05)
        netns.kill_all(self.netns)
        self.record.pid = None
