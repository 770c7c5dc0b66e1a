"""What a sandbox is made of, as typed records, and the one place they are read, written and locked.

A sandbox is K clusters (K = 1 unless ``up --clusters`` says more). Everything is recorded in ``<state>/sandbox.json``
(0600, in a 0700 folder) as soon as it exists, so ``down`` can remove it even after a half-finished ``up`` or from
another process. The controllers' bearer token sits beside it in ``controller.token`` (0600).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from dataclasses import asdict, dataclass, field

from osm_l2sm.errors import L2smError
from osm_l2sm.files import write_json_atomic

from . import domains
from .layout import OF_PORT, REST_PORT, Layout


@dataclass
class ControllerRecord:
    pid: int | None = None
    url: str | None = None


@dataclass
class PodRecord:
    node: str
    networks: dict[str, dict] = field(default_factory=dict)  # network -> {"interface", "address"}
    pid: int | None = None
    command: list[str] | None = None


@dataclass
class ClusterRecord:
    """One cluster: its nodes (the edge last, when it has one), its controller and where that controller listens.
    ``name`` is None for the only cluster of a sandbox: it then has no name of its own to show or to be given."""
    name: str | None
    of_port: int
    rest_port: int
    nodes: list[str] = field(default_factory=list)
    edge: str | None = None
    controller: ControllerRecord = field(default_factory=ControllerRecord)

    def qualified(self, node: str) -> str:
        """``node2`` of this cluster: ``c1-node2``, or ``node2`` in the only cluster."""
        return f"{self.name}-{node}" if self.name else node

    @property
    def label(self) -> str:
        """Names the controller's files: ``controller.json`` for the only cluster, ``controller-c1.json`` else."""
        return f"controller-{self.name}" if self.name else "controller"


@dataclass
class SandboxState:
    name: str
    underlay: str | None = None
    clusters: list[ClusterRecord] = field(default_factory=list)
    pods: dict[str, PodRecord] = field(default_factory=dict)
    provider: ControllerRecord | None = None  # allocates the inter-domain tags; only with several clusters
    interdomain: str | None = None  # the edges' own /24
    ready: bool = False
    # the networks made through the sandbox, which a controller started empty gets again: name -> {"cidr",
    # "tag" (inter-domain), "ids": {cluster label: the id its controller gave}}
    networks: dict[str, dict] = field(default_factory=dict)

    @property
    def nodes(self) -> list[str]:
        return [n for c in self.clusters for n in c.nodes]

    def cluster_of(self, node: str) -> ClusterRecord:
        for cluster in self.clusters:
            if node in cluster.nodes:
                return cluster
        raise L2smError(f"unknown node {node} (nodes: {', '.join(self.nodes)})")

    def cluster(self, name: str) -> ClusterRecord:
        return next(c for c in self.clusters if c.name == name)

    @property
    def named_clusters(self) -> list[str]:
        return sorted(c.name for c in self.clusters if c.name)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SandboxState":
        data = _from_earlier_format(data)
        clusters = [ClusterRecord(**dict(c, controller=ControllerRecord(**c.get("controller") or {})))
                    for c in data.get("clusters", [])]
        pods = {name: PodRecord(**rec) for name, rec in data.get("pods", {}).items()}
        provider = ControllerRecord(**data["provider"]) if data.get("provider") else None
        return cls(name=data["name"], underlay=data.get("underlay"), clusters=clusters, pods=pods,
                   provider=provider, interdomain=data.get("interdomain"), ready=bool(data.get("ready")),
                   networks=dict(data.get("networks") or {}))


def _from_earlier_format(data: dict) -> dict:
    """A ``sandbox.json`` written before the clusters were a list (a running sandbox must still come ``down``): one
    cluster was the top-level ``nodes`` and ``controller``, several a ``clusters`` mapping by name."""
    if isinstance(data.get("clusters"), list):
        return data
    if data.get("clusters"):
        clusters = [dict(rec, name=name, of_port=ports[0], rest_port=ports[1])
                    for name, rec in sorted(data["clusters"].items()) for ports in [domains.cluster_ports(name)]]
    else:
        clusters = [{"name": None, "of_port": OF_PORT, "rest_port": REST_PORT, "nodes": data.get("nodes", []),
                     "controller": data.get("controller") or {}}]
    return dict({k: v for k, v in data.items() if k not in ("nodes", "controller")}, clusters=clusters)


def _private_dir(path: str) -> None:
    """The state folder: made 0700; refused when another user owns it (they could change what root runs) or when
    others may enter it and it is no sandbox's folder yet (a shared folder such as /tmp is not ours to close)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.stat(path)
    if info.st_uid != os.geteuid():
        raise L2smError(f"sandbox state folder {path} belongs to uid {info.st_uid}, not to uid {os.geteuid()}: "
                        f"use a folder of your own (OSM_L2SM_STATE_DIR)")
    if info.st_mode & 0o077:
        if not any(os.path.exists(os.path.join(path, f)) for f in ("lock", "sandbox.json")):
            raise L2smError(f"sandbox state folder {path} is open to other users (mode {info.st_mode & 0o777:o}): "
                            f"use a folder of its own (OSM_L2SM_STATE_DIR)")
        os.chmod(path, 0o700)  # made by an earlier version


class StateStore:
    """``sandbox.json``, the token and the lock of one sandbox."""

    def __init__(self, layout: Layout):
        self.layout = layout

    def load(self) -> SandboxState | None:
        try:
            with open(self.layout.state_file, encoding="utf-8") as f:
                return SandboxState.from_json(json.load(f))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError) as err:
            raise L2smError(f"sandbox state {self.layout.state_file} is corrupt: {err}") from err

    def save(self, state: SandboxState) -> None:
        os.makedirs(self.layout.state_dir, mode=0o700, exist_ok=True)
        write_json_atomic(self.layout.state_file, state.to_json(), mode=0o600, indent=2)

    def running(self) -> SandboxState:
        state = self.load()
        if not state or not state.ready:
            raise L2smError(f"sandbox {self.layout.name} is not up (run: osm-l2sm sandbox up)")
        return state

    def token(self) -> str | None:
        """The controllers' bearer token (None only for a sandbox made before tokens)."""
        try:
            with open(self.layout.token_file, encoding="utf-8") as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def new_token(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.layout.token_file)
        fd = os.open(self.layout.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(32))

    @contextlib.contextmanager
    def locked(self, create: bool = False):
        """One changing command at a time per sandbox. Only ``up`` (``create``) makes the state folder: a command
        on a sandbox never made leaves nothing behind."""
        path = os.path.join(self.layout.state_dir, "lock")
        while True:
            if create:
                _private_dir(self.layout.state_dir)
            elif not os.path.isdir(self.layout.state_dir):
                raise L2smError(f"sandbox {self.layout.name} is not up (run: osm-l2sm sandbox up)")
            # root's alone (0600 in a 0700 folder): flock works on any descriptor, so a lock others can open is
            # one they can hold forever
            lock = open(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:  # `down` removes the lock file while holding it: a waiter that got the old one tries again
                if os.stat(path).st_ino == os.fstat(lock.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            lock.close()
        with lock:
            yield

    def remove_dir(self) -> None:
        """With everything else gone, the lock and the state folder go too (the folder only when empty)."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.layout.state_dir, "lock"))
        with contextlib.suppress(OSError):
            os.rmdir(self.layout.state_dir)
