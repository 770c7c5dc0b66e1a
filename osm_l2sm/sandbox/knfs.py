"""A plan's KNFs on the sandbox: each KDU runs as a pod from its sandbox profile (what its Helm chart does on
Kubernetes), on the plan's networks and addresses, with the plan's routes.

Used by ``ns-create --local`` (through :class:`osm_l2sm.sandbox.SandboxTarget`) and by the demo, which then checks
the running service.
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from osm_l2sm.errors import L2smError
from osm_l2sm.model import Attachment, Plan, Route
from osm_l2sm.processes import wait_until

from .pod import PodSpec
from .profiles import SandboxProfile, load_profile

if TYPE_CHECKING:  # only the Sandbox's public verbs are used here
    from .cluster import Sandbox

READY_TIMEOUT = 60.0  # seconds a KNF has to finish its setup and pass its profile's ready check
READY_MARK = ".ready"  # written into POD_DIR by the pod's script once the setup is done


@dataclass(frozen=True)
class Knf:
    """One KDU of the plan as it runs on the sandbox: its pod, interfaces, routes and profile."""

    kdu: str
    member: str
    interfaces: list[Attachment]
    routes: list[Route]
    profile: SandboxProfile
    cluster: str | None = None

    @property
    def pod(self) -> str:
        return self.kdu

    def first_ip(self) -> str:
        return self.interfaces[0].ip


def knfs_of(plan: Plan, packages: list) -> list[Knf]:
    """The plan's KDUs with their profiles; a missing or broken profile is an error naming its file."""
    roots = {p.id: p.root for p in packages if p.kind == "vnfd"}
    return [Knf(kdu=k.kdu, member=k.member_vnf_index, interfaces=k.interfaces, routes=k.routes, cluster=k.cluster,
                profile=load_profile(roots.get(k.vnfd_id), k.kdu)) for k in plan.kdus]


def peer_env(knfs: list[Knf]) -> dict:
    """<KDU>_<IF>_IP for every attachment of the NS, so profiles name peers without fixed addresses."""
    env = {}
    for knf in knfs:
        for itf in knf.interfaces:
            if itf.address:
                key = re.sub(r"[^A-Z0-9]", "_", f"{knf.kdu}_{itf.interface}".upper())
                env[f"{key}_IP"] = itf.ip
    return env


def script(knf: Knf) -> str:
    """Routes from the plan, then the profile's setup, then its command: one shell script per pod."""
    lines = ["set -e"]
    for r in knf.routes:
        lines.append(f"ip route replace {shlex.quote(r.to)} via {shlex.quote(r.via)} dev {shlex.quote(r.interface)}")
    lines.extend(knf.profile.setup)
    lines.append(f'touch "$POD_DIR/{READY_MARK}"')
    lines.append(f"exec {knf.profile.command}" if knf.profile.command else "exec sleep infinity")
    return "\n".join(lines)


class KnfRunner:
    """Runs, checks and removes the KNFs of one plan on one sandbox.

    ``env`` overrides the profiles' own ``env`` defaults (the demo sets its download rate and file size there).
    """

    def __init__(self, sandbox: Sandbox, knfs: list[Knf], env: dict | None = None,
                 progress: Callable[[str], None] = lambda _msg: None):
        self.sandbox = sandbox
        self.knfs = knfs
        self.env = {k: str(v) for k, v in (env or {}).items()}
        self.progress = progress
        self._peers = peer_env(knfs)

    def knf(self, kdu: str) -> Knf:
        found = next((k for k in self.knfs if k.kdu == kdu), None)
        if found is None:
            raise L2smError(f"the NS has no KDU {kdu!r}")
        return found

    def files(self, knf: Knf) -> Path:
        """The KNF's private folder (``POD_DIR``), for reading what the workload wrote."""
        return Path(self.sandbox.layout.pod_files(knf.pod))

    def pod_env(self, knf: Knf) -> dict:
        env = dict(knf.profile.env)
        env.update(self._peers, **self.env)
        env.update(POD_NAME=knf.pod, POD_DIR=str(self.files(knf)))
        for itf in knf.interfaces:
            prefix = itf.interface.upper()
            env[f"{prefix}_IF"] = itf.interface
            env[f"{prefix}_NETWORK"] = itf.network
            if itf.address:
                iface = ipaddress.ip_interface(itf.address)
                env.update({f"{prefix}_ADDR": str(iface), f"{prefix}_IP": str(iface.ip),
                            f"{prefix}_CIDR": str(iface.network)})
        return env

    def node(self, knf: Knf) -> str:
        """The profile's node (default node1) in the KDU's cluster (see :meth:`Sandbox.place`)."""
        return self.sandbox.place(knf.cluster, knf.profile.node or "node1")

    def exec_ok(self, knf: Knf, command: str, timeout: float = 30.0) -> bool:
        """Run a shell command in the KNF's pod with its profile's variables; True when it succeeds."""
        argv = ["env", *[f"{k}={v}" for k, v in self.pod_env(knf).items()], "sh", "-c", command]
        return self.sandbox.exec_pod(knf.pod, argv, timeout=timeout).returncode == 0

    def running(self, knf: Knf) -> bool:
        info = self.sandbox.pod(knf.pod)
        return bool(info and info["running"])

    def start(self, knfs: list[Knf] | None = None) -> list[dict]:
        """Start ``knfs`` (default: all), then wait until each is ready; on failure remove the ones started here."""
        knfs = self.knfs if knfs is None else knfs
        for knf in knfs:
            files = self.files(knf)
            files.mkdir(parents=True, exist_ok=True)
            (files / READY_MARK).unlink(missing_ok=True)
        try:  # all at once: a failure leaves none of them, and no folder of theirs (a pod there before stays)
            self.sandbox.run_pods([PodSpec(knf.pod, self.node(knf), [(i.network, i.address) for i in knf.interfaces],
                                           ["sh", "-c", script(knf)], self.pod_env(knf)) for knf in knfs])
        except BaseException:
            existing = {p["name"] for p in self.sandbox.pods()}
            self.remove([knf for knf in knfs if knf.pod not in existing])
            raise
        try:
            for knf in knfs:
                self.progress(f"  waiting for {knf.pod}")
                self._wait_ready(knf)
        except BaseException:
            self.remove(knfs)
            raise
        return [self.sandbox.pod(k.pod) for k in knfs]

    def _wait_ready(self, knf: Knf, timeout: float = READY_TIMEOUT) -> None:
        ready = self.files(knf) / READY_MARK

        def done() -> bool:
            if ready.exists() and (not knf.profile.ready or self.exec_ok(knf, knf.profile.ready)):
                return True
            if not self.running(knf) and not ready.exists():
                raise L2smError(f"pod {knf.pod} ({knf.profile.source}) failed during setup: {self._last_line(knf)}")
            return False

        if wait_until(done, timeout, interval=0.05):
            return
        raise L2smError(f"pod {knf.pod} ({knf.profile.source}) was not ready within {timeout:.0f} s; its last "
                        f"output: {self._last_line(knf)}")

    def _last_line(self, knf: Knf) -> str:
        """The pod's last line of output: the reason, told before a failed start removes the pod and its log."""
        return (self.sandbox.pod_log(knf.pod).strip().splitlines()[-1:] or ["(no output)"])[0]

    def remove(self, knfs: list[Knf] | None = None) -> list[str]:
        return remove_knfs(self.sandbox, [k.pod for k in (self.knfs if knfs is None else knfs)])


def remove_knfs(sandbox: Sandbox, pods: list[str]) -> list[str]:
    """Delete the KNF pods among ``pods`` and their folders; returns the pods that were there."""
    existing = {p["name"] for p in sandbox.pods()}
    removed = [pod for pod in pods if pod in existing]
    sandbox.delete_pods(removed)
    for pod in pods:
        shutil.rmtree(sandbox.layout.pod_files(pod), ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(sandbox.layout.pod_log(pod))
    return removed
