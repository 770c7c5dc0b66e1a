"""A pod: a network namespace attached to networks through the CNI plugin, with an optional program inside."""
from __future__ import annotations

import copy
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Callable

from osm_l2sm.cni.runtime import run_plugin
from osm_l2sm.errors import L2smError
from osm_l2sm.processes import wait_until

from . import netns
from .layout import POD_MTU, Layout
from .state import PodRecord, SandboxState, StateStore

ENTER_TIMEOUT = 30.0  # seconds for `ip netns exec` to enter the pod's namespace (a moment, even on a busy host)


def cni_config(network: str, address: str | None) -> dict:
    """The network configuration Multus passes for one attachment (the node's daemon knows the rest)."""
    config = {"cniVersion": "1.0.0", "name": network, "type": "l2sm-cni", "network": network, "mtu": POD_MTU}
    if address:
        config["runtimeConfig"] = {"ips": [address]}
    return config


@dataclass(frozen=True)
class PodSpec:
    """A pod to make: its node, its networks (network, address or None) in interface order, an optional program."""
    name: str
    node: str
    networks: list[tuple[str, str | None]] = field(default_factory=list)
    command: list[str] | None = None
    env: dict | None = None


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
        return run_plugin(command, self.layout.container_id(self.name), netns.path(self.netns), ifname,
                          cni_config(network, address), socket_path=self.layout.cni_socket(self.node),
                          argv=netns.net_argv(self.layout.node_netns(self.node), []))

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
        # `ip netns exec` starts in this namespace and enters the pod's a moment later. Until then the pid is not
        # in the pod, and running() and stop() tell "ours" by that: return only once it is inside (or has ended).
        if not wait_until(lambda: proc.poll() is not None or netns.holds(self.netns, proc.pid), ENTER_TIMEOUT,
                          interval=0.01):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise L2smError(f"pod {self.name}: {command[0]} did not enter the namespace {self.netns} within "
                            f"{ENTER_TIMEOUT:.0f} s (see {log})")
        self.record.pid = proc.pid
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
            wait_until(lambda: not netns.holds(self.netns, pid), 3, interval=0.05)
        netns.kill_all(self.netns)
        self.record.pid = None


def make_pod(pod: "Pod", spec: PodSpec, save: Callable[[], None]) -> None:
    """The pod's namespace, its attachments and its program; ``save`` records each step (the caller undoes them)."""
    netns.create(pod.netns)
    for network, address in spec.networks:
        pod.attach(network, address)
        save()
    if spec.command:
        pod.start(spec.command, spec.env)
        save()


def recorder(store: StateStore, state: SandboxState) -> Callable[..., None]:
    """``record(pod, gone=False)``: the pod's record (a copy: each thread changes its own) into ``state``, or out of
    it, and the state saved; one at a time, from any thread."""
    lock = threading.Lock()

    def record(pod: Pod, gone: bool = False) -> None:
        with lock:
            if gone:
                state.pods.pop(pod.name, None)
            else:
                state.pods[pod.name] = copy.deepcopy(pod.record)
            store.save(state)
    return record
