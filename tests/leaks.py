"""What the test suite must leave as it found it: network namespaces (and their mounts, wherever they are), links
in the host's namespace, the processes the tests start (OVS daemons, controllers, node daemons, the Kubernetes
and OSM tiers' servers), and the checkout (no file added or changed in it, when the tests run from a git checkout).

The root conftest takes a snapshot when the session starts and compares at its end: anything new that is still there
is a leak. Per-test checks (the sandbox's and the CNI tests' before/after counts) say which test; this one says that
nothing slipped through between them.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from osm_l2sm.processes import wait_until

# processes a test may start; a leftover one is a leak (matched on the program name or, for Python, the module)
PROGRAMS = ("ovs-vswitchd", "ovsdb-server", "kube-apiserver", "etcd", "kubelet", "containerd", "kube-proxy",
            "kube-controller-manager", "kube-scheduler", "coredns", "nginx")
MODULES = ("osm_l2sm", "osm_nbi")


@dataclass(frozen=True)
class Snapshot:
    namespaces: frozenset
    mounts: frozenset  # every namespace mount point (nsfs), wherever it is: a bad name can put one outside /run
    links: frozenset
    processes: frozenset  # (pid, description)
    checkout: frozenset = frozenset()  # `git status --porcelain` lines: files not committed, untracked ones too

    def new_since(self, before: "Snapshot") -> list[str]:
        found = [f"network namespace {n}" for n in sorted(self.namespaces - before.namespaces)]
        found += [f"namespace mount {m}" for m in sorted(self.mounts - before.mounts)
                  if not m.startswith("/run/netns/") or m[len("/run/netns/"):] not in self.namespaces]
        found += [f"link {n}" for n in sorted(self.links - before.links)]
        found += [f"process {pid} ({what})" for pid, what in sorted(self.processes - before.processes)]
        found += [f"in the checkout: {line}" for line in sorted(self.checkout - before.checkout)]
        return found


def _process(pid: str) -> str | None:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [w.decode(errors="replace") for w in argv if w]
    if not words:
        return None
    program = os.path.basename(words[0])
    if program in PROGRAMS:
        return program
    if program.startswith("python") or program == "osm-l2sm":
        hit = next((w for w in words[1:4] if w.split(".")[0] in MODULES or w.endswith("/osm-l2sm")), None)
        if hit is not None or program == "osm-l2sm":
            return " ".join(words[:6])
    return None


def checkout_status(checkout: Path | None) -> frozenset:
    """What `git status` reports in ``checkout`` (untracked files one by one); nothing when it is not the top of a
    git checkout (an unpacked source tree, or no git)."""
    if checkout is None:
        return frozenset()
    try:
        top = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=60)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != checkout.resolve():
            return frozenset()
        status = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=all"],
                                capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(status.stdout.splitlines())


def snapshot(checkout: Path | None = None) -> Snapshot:
    """The system's state (root only: others' tests make no namespaces, links or daemons) and ``checkout``'s."""
    if os.geteuid() != 0:
        return Snapshot(frozenset(), frozenset(), frozenset(), frozenset(), checkout_status(checkout))
    netns = Path("/run/netns")
    namespaces = frozenset(p.name for p in netns.iterdir()) if netns.is_dir() else frozenset()
    links = frozenset(p.name for p in Path("/sys/class/net").iterdir())
    mounts = frozenset(line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                       if line.split()[2] == "nsfs")
    processes = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            what = _process(entry.name)
            if what:
                processes.add((int(entry.name), what))
    return Snapshot(namespaces, mounts, links, frozenset(processes), checkout_status(checkout))


def leaks_since(before: Snapshot, checkout: Path | None = None, settle: float = 10.0) -> list[str]:
    """What is new since ``before``, after giving processes that are being stopped ``settle`` seconds to go."""
    found: list[str] = []

    def settled() -> bool:
        found[:] = snapshot(checkout).new_since(before)
        return not found

    wait_until(settled, settle, 0.5)
    return found
