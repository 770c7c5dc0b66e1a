"""Network namespaces and the processes inside them, by name."""
from __future__ import annotations

import os
import signal
import subprocess

from pyroute2 import netns as pyroute2_netns

from osm_l2sm.errors import L2smError
from osm_l2sm.processes import wait_until

NETNS_DIR = "/var/run/netns"


def path(name: str) -> str:
    if not name or "/" in name or name in (".", ".."):
        # pyroute2 would take a name with a slash for a path and mount the namespace there, outside NETNS_DIR
        raise L2smError(f"network namespace name {name!r} must be a plain name, without '/'")
    return os.path.join(NETNS_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(path(name))


def names_with_prefix(prefix: str) -> list[str]:
    return sorted(n for n in pyroute2_netns.listnetns() if n.startswith(prefix))


def create(name: str) -> None:
    """The namespace with lo up and IPv6 off on every interface made in or moved into it later: the sandbox's
    nodes and pods speak IPv4 only, and a kernel's IPv6 chatter (router solicitations, MLD reports, sent for ever
    with back-off) on OVS ports, tunnels and pod links would be frames nobody asked for (docs/multidomain.md)."""
    if not exists(name):
        pyroute2_netns.create(name)  # a plain name (path() checked it): pyroute2 makes it under NETNS_DIR
    run(name, ["ip", "link", "set", "lo", "up"], check=True)
    run(name, ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])  # no IPv6 on this host: nothing to do


def _inode(p: str) -> int | None:
    try:
        return os.stat(p).st_ino
    except OSError:
        return None


def holds(name: str, pid: int) -> bool:
    """True when process ``pid`` lives in the namespace ``name`` (false once it is gone, or still a zombie)."""
    inode = _inode(path(name))
    return inode is not None and _inode(f"/proc/{pid}/ns/net") == inode


def pids(name: str) -> list[int]:
    """The processes whose network namespace is ``name``."""
    inode = _inode(path(name))
    if inode is None:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _inode(f"/proc/{entry}/ns/net") == inode:
            found.append(int(entry))
    return found


def kill_all(name: str, grace: float = 2.0) -> None:
    """SIGTERM then SIGKILL every process living in the namespace (daemons that left their group too)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        targets = pids(name)
        if not targets:
            return
        for pid in targets:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        wait_until(lambda: not pids(name), grace, interval=0.05)


def remove(name: str) -> None:
    if exists(name):
        kill_all(name)
        pyroute2_netns.remove(name)


def argv(name: str, command: list[str]) -> list[str]:
    return ["ip", "netns", "exec", name, *command]


def net_argv(name: str, command: list[str]) -> list[str]:
    """``command`` in the namespace's network only (no mount namespace and /sys of its own, as ``ip netns exec``
    makes): a few milliseconds less, for a program that needs no more, such as a CNI plugin run by a runtime."""
    return ["nsenter", f"--net={path(name)}", "--", *command]


def run(name: str, command: list[str], check: bool = False, timeout: float | None = None,
        env: dict | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv(name, command), check=check, timeout=timeout, env=env, text=True,
                          capture_output=capture)
