"""The sandbox: K emulated clusters (K = 1 by default) of nodes (namespaces with OVS), their controllers and pods,
on this host. :class:`Sandbox` is the public face; :mod:`.state` records what exists, :mod:`.build` makes and
removes it, and the network and pod verbs are here."""
from __future__ import annotations

import contextlib
import copy
import functools
import os
import shutil
import subprocess
from typing import Callable

from osm_l2sm.controller import ControllerClient, ProviderClient
from osm_l2sm.errors import L2smError
from osm_l2sm.processes import in_parallel
from osm_l2sm.switch import OvsInstance

from . import netns
from .build import PROVIDER_LABEL, Builder, plan, preflight, wait_switches
from .layout import Layout, check_item_name, node_name
from .pod import Pod, PodSpec, make_pod, recorder
from .state import ClusterRecord, PodRecord, SandboxState, StateStore

__all__ = ["Sandbox", "preflight", "temporary_sandbox"]


class Sandbox:
    def __init__(self, name: str | None = None, state_dir: str | None = None):
        self.layout = Layout.for_name(name, state_dir)
        self.name = self.layout.name
        self.store = StateStore(self.layout)
        self.builder = Builder(self.layout, self.store)

    def _client(self, url: str) -> ControllerClient:
        return self.builder.client(url)

    def _provider(self, state: SandboxState, member: str) -> ProviderClient:
        return ProviderClient(state.provider.url, member, self.store.token())

    def _pod(self, state: SandboxState, name: str) -> Pod:
        if name not in state.pods:
            raise L2smError(f"unknown pod {name} in sandbox {self.name}")
        return Pod(self.layout, name, state.pods[name])

    # lifecycle --------------------------------------------------------------------------------------------------
    def is_up(self) -> bool:
        state = self.store.load()
        return bool(state and state.ready) and self.builder.controller_alive(state.clusters[0].controller,
                                                                             state.clusters[0].label)

    def up(self, nodes: int = 2, clusters: int = 1, delay_ms: float | None = None,
           loss_pct: float | None = None) -> bool:
        """Bring the cluster (or ``clusters`` clusters joined by their edges) up; False when it already runs (what
        died in it is started again, keeping its state). Any other broken leftover is removed first."""
        preflight()
        if not 1 <= nodes <= 20:
            raise L2smError("--nodes must be from 1 to 20")
        if not 1 <= clusters <= 4:
            raise L2smError("--clusters must be from 1 to 4")
        with self.store.locked(create=True):
            state = self.store.load()
            if state and state.ready and all(netns.exists(n.netns) for n in self.builder.nodes(state)):
                self.builder.revive(state)
                return False
            if self.is_up():
                return False
            if state is not None or netns.names_with_prefix(self.layout.prefix):
                self.builder.teardown()
            state = plan(self.name, clusters)
            self.store.save(state)
            self.store.new_token()
            try:
                self.builder.build(state, nodes, delay_ms, loss_pct)
            except BaseException:
                self.builder.teardown()
                raise
        return True

    def down(self) -> None:
        """Remove everything this sandbox made, also when it is half broken; keeps going past errors."""
        preflight()
        if not os.path.isdir(self.layout.state_dir):  # never made here: only look for leftovers, create nothing
            self.builder.teardown()
            return
        with self.store.locked():
            self.builder.teardown()
            self.store.remove_dir()

    def restart_controller(self) -> int:
        """Start the (first cluster's) controller again from its state file (after a crash or a kill; without it,
        it rebuilds: the networks from the sandbox's records, switches and ports from the nodes); returns the new
        pid. The switches keep forwarding meanwhile (fail_mode=secure) and are re-synced when they reconnect."""
        with self.store.locked():
            state = self.store.running()
            cluster = state.clusters[0]
            self.builder.stop_controller(cluster.controller, cluster.label)
            self.builder.start_controller(state, cluster)
            self.builder.restore_networks(state, cluster)
            wait_switches(self._client(cluster.controller.url), cluster.nodes)
            return cluster.controller.pid

    def provider(self, running: bool) -> None:
        """Stop or start again the provider controller (its state is kept)."""
        with self.store.locked():
            state = self.store.running()
            if not state.provider:
                raise L2smError(f"sandbox {self.name} has no provider (it has a single cluster)")
            self.builder.stop_controller(state.provider, PROVIDER_LABEL)
            if running:
                self.builder.start_provider(state)

    def status(self) -> dict:
        """``up``: brought up and not taken down (whatever died in it since); ``ok``: up and every part works;
        ``problems``: one line for each part that does not (``sandbox up`` starts those again)."""
        state = self.store.load()
        if not state:
            return {"name": self.name, "up": False, "ok": False, "problems": [], "state_dir": self.layout.state_dir}
        main = state.clusters[0] if state.clusters else None
        alive = bool(main) and self.builder.controller_alive(main.controller, main.label)
        nodes = []
        for node in self.builder.nodes(state):
            problems = node.problems()
            nodes.append({"name": node.name, "netns": node.netns, "underlay_ip": node.address,
                          "netns_present": netns.exists(node.netns), "ovs_running": node.ovs.running,
                          "state": "degraded" if problems else "up", "problems": problems})
        networks = None
        if alive:
            with contextlib.suppress(L2smError):
                networks = [n["name"] for n in self._client(main.controller.url).list_networks()]
        named = {c.name: {"nodes": c.nodes, "edge": c.edge, "controller": dict(
            vars(c.controller), alive=self.builder.controller_alive(c.controller, c.label))}
            for c in state.clusters if c.name}
        extra = {"provider": dict(vars(state.provider), alive=self.builder.controller_alive(
            state.provider, PROVIDER_LABEL)), "interdomain": state.interdomain} if state.provider else {}
        controller = main.controller if main else None
        problems = status_problems(state.ready, controller, alive, named, extra.get("provider"), nodes)
        return {"name": self.name, "up": state.ready, "ok": state.ready and not problems, "problems": problems,
                "state_dir": self.layout.state_dir,
                **({"clusters": named} if named else {}), **extra,
                "underlay": state.underlay,
                "controller": {"url": controller and controller.url, "pid": controller and controller.pid,
                               "alive": alive},
                "nodes": nodes, "degraded": [n["name"] for n in nodes if n["problems"]],
                "networks": networks, "pods": sorted(state.pods)}

    def controller_client(self, url: str | None = None) -> ControllerClient:
        """A client of the controller at ``url`` (one of this sandbox's), by default the first cluster's."""
        return self._client(url or self.store.running().clusters[0].controller.url)

    def cluster_names(self) -> list[str]:
        """The names of the clusters (``c1``..``cK``); none for a sandbox of one cluster, which has no name."""
        return self.store.running().named_clusters

    def place(self, cluster: str | None, node: str) -> str:
        """Node ``node`` (``node2``) of ``cluster``, or of the first cluster when the sandbox has no such cluster;
        that cluster's node1 when it has no such node (a profile written for two nodes still runs on one)."""
        state = self.store.running()
        record = next((c for c in state.clusters if c.name == cluster), state.clusters[0])
        wanted = record.qualified(node)
        return wanted if wanted in record.nodes else record.qualified(node_name(1))

    def node_ovs(self, node: str) -> OvsInstance:
        self.store.running().cluster_of(node)  # unknown node: a clear error
        return OvsInstance(self.layout.node_dir(node), netns=self.layout.node_netns(node))

    # networks --------------------------------------------------------------------------------------------------
    def create_network(self, name: str, cidr: str | None = None, clusters: list[str] | None = None) -> dict:
        """One network; with several clusters, ``clusters`` names where it lives (two or more: an inter-domain
        network whose global tag the provider allocates)."""
        state = self.store.running()
        known = state.named_clusters
        if clusters and not known:
            raise L2smError(f"sandbox {self.name} has a single cluster: create the network without --clusters")
        if not clusters and len(state.clusters) > 1:
            raise L2smError(f"sandbox {self.name} has clusters {', '.join(known)}: say where the network lives "
                            f"with --clusters (one cluster, or several for an inter-domain network)")
        unknown = sorted(set(clusters or []) - set(known))
        if unknown:
            raise L2smError(f"unknown cluster {', '.join(unknown)} (clusters: {', '.join(known)})")
        targets = [state.cluster(c) for c in dict.fromkeys(clusters)] if clusters else state.clusters
        tag, members = None, []
        try:  # every cluster a member of the provider's network: the tag is freed when the last one leaves
            for cluster in targets if len(targets) > 1 else []:
                tag = self._provider(state, cluster.name).acquire(name, cidr)
                members.append(cluster)
        except L2smError as err:
            self._forget(state, name, [], members)
            raise L2smError(f"cannot create inter-domain network {name}: provider controller: {err}") from err
        views, made = [], []
        try:
            for cluster in targets:
                views.append(self._client(cluster.controller.url).create_network(name, cidr=cidr, interdomain_tag=tag))
                made.append(cluster)
        except BaseException:  # leave nothing behind: the clusters' networks made here, then the tag
            self._forget(state, name, made, members)
            raise
        with self.store.locked():  # recorded: a controller started empty gets it again (Builder.restore_networks)
            latest = self.store.running()
            latest.networks[name] = {"cidr": cidr, "tag": tag,
                                     "ids": {c.label: v["id"] for c, v in zip(targets, views)}}
            self.store.save(latest)
        named = {"clusters": list(clusters)} if clusters else {}
        return dict(views[0], **named, interdomain={"tag": tag} if tag else None)

    def delete_network(self, name: str) -> None:
        """Delete a network; the sandbox's pods on it are detached first so no stale interface stays."""
        with self.store.locked():
            state = self.store.running()
            found = [c for c in state.clusters
                     if any(n["name"] == name for n in self._client(c.controller.url).list_networks())]
            if not found:
                raise L2smError(f"no network named {name}", 404)
            for pod_name, record in state.pods.items():
                if name in record.networks:
                    Pod(self.layout, pod_name, record).detach(name)
                    self.store.save(state)
            for cluster in found:
                self._client(cluster.controller.url).delete_network(name)
            state.networks.pop(name, None)
            self.store.save(state)
            self._forget(state, name, [], found if len(found) > 1 else [])

    def _forget(self, state: SandboxState, name: str, networks: list[ClusterRecord],
                members: list[ClusterRecord]) -> None:
        """Delete ``name`` from the controllers of ``networks`` and release its tag for ``members``."""
        for cluster in networks:
            with contextlib.suppress(L2smError):
                self._client(cluster.controller.url).delete_network(name)
        for cluster in members:  # the last member frees the tag
            with contextlib.suppress(L2smError):  # a stopped provider keeps a stale tag, harmless
                self._provider(state, cluster.name).release(name)

    def networks(self) -> list[dict]:
        """Every network; with several clusters, each once with the ``clusters`` it lives in."""
        state = self.store.running()
        merged: dict[str, dict] = {}
        for cluster in state.clusters:
            for net in self._client(cluster.controller.url).list_networks():
                entry = merged.setdefault(net["name"], dict(net, ports=[]))
                entry["ports"] += net.get("ports", [])
                if cluster.name:
                    entry.setdefault("clusters", []).append(cluster.name)
        return [merged[n] for n in sorted(merged)]

    # pods ------------------------------------------------------------------------------------------------------
    def run_pod(self, name: str, node: str, networks: list[tuple[str, str | None]],
                command: list[str] | None = None, env: dict | None = None) -> dict:
        return self.run_pods([PodSpec(name, node, networks, command, env)])[0]

    def run_pods(self, specs: list[PodSpec]) -> list[dict]:
        """Several pods, each as :meth:`run_pod` makes one; their namespaces, attachments and programs are made side
        by side (each node's CNI daemon takes its requests one at a time). When one fails, none of them is left."""
        preflight()
        with self.store.locked():
            state = self.store.running()
            names = [spec.name for spec in specs]
            pods = []
            for spec in specs:
                check_item_name("pod", spec.name)
                if spec.name in state.pods or names.count(spec.name) > 1:
                    raise L2smError(f"pod {spec.name} exists already in sandbox {self.name}")
                pods.append(Pod(self.layout, spec.name, PodRecord(node=spec.node)))
                self._check_networks(state, spec)
            record = recorder(self.store, state)
            for pod in pods:
                record(pod)
            try:
                in_parallel([functools.partial(make_pod, pod, spec, functools.partial(record, pod))
                             for pod, spec in zip(pods, specs)])
            except BaseException:
                in_parallel([functools.partial(self._delete_pod, pod, record) for pod in pods])
                raise
            return [self._pod_info(pod) for pod in pods]

    def _check_networks(self, state: SandboxState, spec: PodSpec) -> None:
        """Fail before anything is made: an unknown node or network, or one network twice."""
        cluster = state.cluster_of(spec.node)
        wanted = [n for n, _ in spec.networks]
        twice = sorted({n for n in wanted if wanted.count(n) > 1})
        if twice:
            raise L2smError(f"pod {spec.name} names network {', '.join(twice)} twice: one interface per network")
        client = self._client(cluster.controller.url)
        for network in wanted:
            client.get_network(network)

    def exec_pod(self, name: str, argv: list[str], timeout: float | None = None,
                 capture: bool = True) -> subprocess.CompletedProcess:
        pod = self._pod(self.store.running(), name)
        if not argv:
            raise L2smError("pod exec needs a command")
        try:
            return netns.run(pod.netns, argv, timeout=timeout, capture=capture)
        except subprocess.TimeoutExpired as err:
            raise L2smError(f"command in pod {name} did not finish within {timeout} s") from err

    def delete_pod(self, name: str) -> None:
        self.delete_pods([name])

    def delete_pods(self, names: list[str]) -> None:
        """Delete pods side by side: their programs stopped, their attachments removed, their namespaces gone."""
        preflight()
        with self.store.locked():
            state = self.store.running()
            pods = [Pod(self.layout, name, copy.deepcopy(self._pod(state, name).record)) for name in names]
            record = recorder(self.store, state)
            in_parallel([functools.partial(self._delete_pod, pod, record) for pod in pods])

    @staticmethod
    def _delete_pod(pod: Pod, record: Callable[..., None]) -> None:
        pod.stop()
        for network in list(pod.record.networks):
            with contextlib.suppress(L2smError):
                pod.detach(network)
        netns.remove(pod.netns)
        record(pod, gone=True)

    def attach(self, pod: str, network: str, address: str | None = None) -> str:
        """Attach a running pod to one more network; returns the new interface name."""
        preflight()
        with self.store.locked():
            state = self.store.running()
            p = self._pod(state, pod)
            if network in p.record.networks:
                raise L2smError(f"pod {pod} is attached to {network} already")
            ifname = p.attach(network, address)
            self.store.save(state)
            return ifname

    def detach(self, pod: str, network: str) -> None:
        preflight()
        with self.store.locked():
            state = self.store.running()
            p = self._pod(state, pod)
            if network not in p.record.networks:
                raise L2smError(f"pod {pod} is not attached to {network}")
            p.detach(network)
            self.store.save(state)

    def _pod_info(self, pod: Pod) -> dict:
        return {"name": pod.name, "node": pod.node, "netns": pod.netns, "pid": pod.record.pid,
                "running": pod.running(), "command": pod.record.command,
                "networks": [{"network": n, **att} for n, att in pod.record.networks.items()],
                "log": self.layout.pod_log(pod.name)}

    def pods(self) -> list[dict]:
        state = self.store.running()
        return [self._pod_info(Pod(self.layout, n, r)) for n, r in sorted(state.pods.items())]

    def pod(self, name: str) -> dict | None:
        """One pod as :meth:`pods` shows it, or None when there is no such pod (cheap enough to poll)."""
        record = self.store.running().pods.get(name)
        return None if record is None else self._pod_info(Pod(self.layout, name, record))

    def pod_log(self, name: str) -> str:
        self._pod(self.store.running(), name)
        try:
            with open(self.layout.pod_log(name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def status_problems(ready: bool, controller, alive: bool, clusters: dict, provider: dict | None,
                    nodes: list[dict]) -> list[str]:
    """What does not work in a sandbox, one readable line per part (empty: everything works)."""
    problems = [] if ready else ["the sandbox was not fully brought up"]
    if controller is not None and not alive:
        problems.append(f"controller {controller.url} is not running")
    problems += [f"cluster {name}: controller {rec['controller']['url']} is not running"
                 for name, rec in clusters.items() if not rec["controller"]["alive"]
                 and rec["controller"]["url"] != (controller and controller.url)]
    if provider and not provider["alive"]:
        problems.append(f"provider {provider['url']} is not running")
    return problems + [f"{node['name']}: {problem}" for node in nodes for problem in node["problems"]]


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
