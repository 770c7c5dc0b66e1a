"""The sandbox: an emulated cluster of nodes (namespaces with OVS), a controller and pods, on this host.

Everything it makes is recorded in ``<state>/sandbox.json`` as soon as it exists, so ``down`` can remove it even
after a half-finished ``up`` or from another process.
"""
from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import time
import zlib

from pyroute2 import IPRoute

from osm_l2sm.controller import ControllerClient, ControllerProcess
from osm_l2sm.controller.tls import CONTROLLER_NAME, ensure_ca, issue
from osm_l2sm.errors import L2smError
from osm_l2sm.processes import pid_alive, stop_process
from osm_l2sm.switch import OvsInstance

from . import domains, netns
from .layout import (OF_PORT, REST_PORT, UNDERLAY_MTU, UNDERLAY_POOL, Layout, check_item_name, node_name,
                     underlay_addresses)
from .node import Node
from .pod import Pod

REQUIRED_TOOLS = ("ip", "ethtool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl")


def preflight() -> None:
    """Root and the tools; one clear line when something is missing."""
    if os.geteuid() != 0:
        raise L2smError("the sandbox needs root (network namespaces, veth and Open vSwitch); run it with sudo")
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            raise L2smError(f"{tool} is missing: install openvswitch-switch, iproute2 and ethtool")


def _free_underlay(name: str, pool=UNDERLAY_POOL) -> str:
    """A /24 of the pool that no address of this host uses, starting at one derived from the name."""
    used = []
    with IPRoute() as ipr:
        for addr in ipr.get_addr(family=2):
            used.append(ipaddress.ip_network(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}", strict=False))
    subnets = list(pool.subnets(new_prefix=24))
    start = zlib.crc32(name.encode()) % len(subnets)
    for subnet in subnets[start:] + subnets[:start]:
        if not any(subnet.overlaps(u) for u in used):
            return str(subnet)
    raise L2smError(f"no free /24 left in {pool} for the sandbox underlay")


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


def _process_alive(pid: int | None, marker: str) -> bool:
    """True when ``pid`` runs and its command line contains ``marker`` (so a reused pid is not ours)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker.encode() in f.read()
    except OSError:
        return False


class Sandbox:
    def __init__(self, name: str | None = None, state_dir: str | None = None):
        self.layout = Layout.for_name(name, state_dir)
        self.name = self.layout.name

    # state -----------------------------------------------------------------------------------------------------
    def _load(self) -> dict | None:
        try:
            with open(self.layout.state_file, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except ValueError as err:
            raise L2smError(f"sandbox state {self.layout.state_file} is corrupt: {err}") from err

    def _save(self, state: dict) -> None:
        os.makedirs(self.layout.state_dir, mode=0o700, exist_ok=True)
        tmp = self.layout.state_file + ".tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, self.layout.state_file)

    def _token(self) -> str | None:
        """The controllers' bearer token (None only for a sandbox made before tokens)."""
        try:
            with open(self.layout.token_file, encoding="utf-8") as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def _new_token(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.layout.token_file)
        fd = os.open(self.layout.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(32))

    def _client(self, url: str) -> ControllerClient:
        return ControllerClient(url, self._token())

    @contextlib.contextmanager
    def _locked(self, create: bool = False):
        """One changing command at a time per sandbox. Only ``up`` (``create``) makes the state folder: a command
        on a sandbox never made leaves nothing behind."""
        path = os.path.join(self.layout.state_dir, "lock")
        while True:
            if create:
                _private_dir(self.layout.state_dir)
            elif not os.path.isdir(self.layout.state_dir):
                raise L2smError(f"sandbox {self.name} is not up (run: osm-l2sm sandbox up)")
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

    def _remove_state_dir(self) -> None:
        """With everything else gone, the lock and the state folder go too (the folder only when empty)."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.layout.state_dir, "lock"))
        with contextlib.suppress(OSError):
            os.rmdir(self.layout.state_dir)

    def _running_state(self) -> dict:
        state = self._load()
        if not state or not state.get("ready"):
            raise L2smError(f"sandbox {self.name} is not up (run: osm-l2sm sandbox up)")
        return state

    def _nodes(self, state: dict) -> list[Node]:
        return [Node(self.layout, n, i, state["underlay"]) for i, n in enumerate(state["nodes"], start=1)]

    def _pod(self, state: dict, name: str) -> Pod:
        if name not in state["pods"]:
            raise L2smError(f"unknown pod {name} in sandbox {self.name}")
        return Pod(self.layout, name, state["pods"][name])

    # cluster ---------------------------------------------------------------------------------------------------
    def is_up(self) -> bool:
        state = self._load()
        return bool(state and state.get("ready")) and _process_alive(
            state.get("controller", {}).get("pid"), self._main_marker(state))

    def _main_marker(self, state: dict) -> str:
        return self._controller_state("c1" if state.get("clusters") else None)

    def up(self, nodes: int = 2, clusters: int = 1, delay_ms: float | None = None,
           loss_pct: float | None = None) -> bool:
        """Bring the cluster (or ``clusters`` clusters joined by their edges) up; False when it already runs (a dead
        controller is restarted then, keeping its state). Any other broken leftover is removed first."""
        preflight()
        if not 1 <= nodes <= 20:
            raise L2smError("--nodes must be from 1 to 20")
        if not 1 <= clusters <= 4:
            raise L2smError("--clusters must be from 1 to 4")
        with self._locked(create=True):
            state = self._load()
            if (state and state.get("ready") and state.get("clusters")
                    and all(netns.exists(n.netns) for n in self._nodes(state))):
                self._revive_nodes(state)
                self._revive_clusters(state)
                return False
            if (state and state.get("ready") and not state.get("clusters")
                    and all(netns.exists(n.netns) for n in self._nodes(state))):
                revived = self._revive_nodes(state)  # first: a controller started waits for every switch
                if not self.is_up():
                    self._start_controller(state)
                elif revived:
                    self._wait_switches(self._client(state["controller"]["url"]), revived)
                return False
            if self.is_up():
                return False
            if self._load() is not None or netns.names_with_prefix(self.layout.prefix):
                self._down_locked()
            subnet = _free_underlay(self.name)
            gateway, _ = underlay_addresses(subnet, 0)
            state = {"name": self.name, "underlay": subnet, "nodes": [], "pods": {}, "controller": {},
                     "ready": False}
            self._save(state)
            self._new_token()
            try:
                self._underlay_bridge(gateway)
                if clusters > 1:
                    self._up_clusters(state, clusters, nodes, delay_ms, loss_pct)
                    return True
                controller = self._start_controller(state)
                members = []
                for index in range(1, nodes + 1):
                    state["nodes"].append(node_name(index))
                    self._save(state)
                    node = Node(self.layout, node_name(index), index, subnet)
                    node.up(OF_PORT, controller.url, self._tls(node.name), self._token())
                    members.append(node)
                client = self._client(controller.url)
                for node in members:  # again with its peers: the switch agent makes the tunnels and registers
                    node.up(OF_PORT, controller.url, self._tls(node.name), self._token(),
                            [peer for peer in members if peer is not node])
                self._wait_switches(client, [n.name for n in members])
                state["ready"] = True
                self._save(state)
            except BaseException:
                self._down_locked()
                raise
        return True

    def _up_clusters(self, state: dict, count: int, nodes: int, delay_ms, loss_pct) -> None:
        """Clusters c1..cK, each with nodes, an edge and a controller; the provider; the domain links."""
        subnet = state["underlay"]
        gateway, _ = underlay_addresses(subnet, 0)
        state["clusters"] = {}
        state["interdomain"] = _free_underlay(self.name + "-id", domains.INTERDOMAIN_POOL)
        edges = {}
        members = {}
        for cluster in domains.cluster_names(count):
            of_port, _ = domains.cluster_ports(cluster)
            controller = self._spawn_cluster_controller(state, cluster)
            state["clusters"][cluster] = {"controller": {"pid": controller.pid, "url": controller.url},
                                          "nodes": [], "edge": domains.edge_name(cluster)}
            members[cluster] = []
            for name in [f"{cluster}-{node_name(i)}" for i in range(1, nodes + 1)] + [domains.edge_name(cluster)]:
                state["nodes"].append(name)
                state["clusters"][cluster]["nodes"].append(name)
                self._save(state)
                node = Node(self.layout, name, len(state["nodes"]), subnet)
                node.up(of_port, controller.url, self._tls(name), self._token())
                members[cluster].append(node)
            edges[cluster] = members[cluster][-1]
        state["controller"] = state["clusters"]["c1"]["controller"]  # the default one, for single-cluster callers
        self._spawn_provider(state)
        self._save(state)
        links = domains.connect_edges(self.layout, state["interdomain"], edges, delay_ms, loss_pct)
        for cluster, group in members.items():
            client = self._client(state["clusters"][cluster]["controller"]["url"])
            for node in group:  # again with its peers and an edge's domain links, which the switch agent makes
                node.up(domains.cluster_ports(cluster)[0], client.url, self._tls(node.name), self._token(),
                        [peer for peer in group if peer is not node],
                        links[cluster] if node is edges[cluster] else None)
            self._wait_switches(client, [n.name for n in group])
        state["ready"] = True
        self._save(state)

    def _revive_clusters(self, state: dict) -> None:
        """Start again every dead controller of a running multi-cluster sandbox, and the provider, from their state
        files; the switches reconnect and are re-synced, so nothing else has to be done by hand."""
        for cluster, rec in sorted(state["clusters"].items()):
            if _process_alive(rec["controller"].get("pid"), self._controller_state(cluster)):
                continue
            proc = self._spawn_cluster_controller(state, cluster)
            rec["controller"] = {"pid": proc.pid, "url": proc.url}
            self._save(state)
            self._wait_switches(proc.client(), rec["nodes"])
        state["controller"] = state["clusters"]["c1"]["controller"]
        if not _process_alive(state["provider"].get("pid"), self._controller_state("provider")):
            self._spawn_provider(state)
        self._save(state)

    def _revive_nodes(self, state: dict) -> list[str]:
        """Start again the OVS daemons and CNI daemon of every node where one died; returns those nodes. The OVS
        database keeps the bridge, its tunnels and the pods' ports, and the controller resyncs the flows when the
        switch reconnects."""
        revived = []
        for node in self._nodes(state):
            if node.problems():
                cluster = self._cluster_of(state, node.name)
                node.up(domains.cluster_ports(cluster)[0] if cluster else OF_PORT,
                        self._controller_url(state, node.name), self._tls(node.name), self._token())
                revived.append(node.name)
        return revived

    def _spawn_cluster_controller(self, state: dict, cluster: str) -> ControllerProcess:
        gateway, _ = underlay_addresses(state["underlay"], 0)
        of_port, rest_port = domains.cluster_ports(cluster)
        return self._spawn_controller(f"{gateway}:{of_port}", f"{gateway}:{rest_port}", cluster)

    def _spawn_provider(self, state: dict) -> None:
        gateway, _ = underlay_addresses(state["underlay"], 0)
        provider = self._spawn_controller(f"{gateway}:{domains.PROVIDER_OF_PORT}",
                                          f"{gateway}:{domains.PROVIDER_REST_PORT}", "provider")
        state["provider"] = {"pid": provider.pid, "url": provider.url}

    def _spawn_controller(self, of_listen: str, rest_listen: str, label: str) -> ControllerProcess:
        controller = ControllerProcess(self._controller_state(label), of_listen, rest_listen, token=self._token(),
                                       log_file=self._controller_state(label)[:-len(".json")] + ".log",
                                       role="provider" if label == "provider" else "cluster",
                                       tls=self._tls("controller"))
        return controller.start()

    def _tls(self, owner: str) -> tuple[str, str, str]:
        """(key, certificate, CA) of the controllers (``controller``, one for all: the switches check only the CA)
        or of a node, whose certificate names it; the sandbox's CA is made on first use."""
        os.makedirs(self.layout.pki_dir, mode=0o700, exist_ok=True)
        os.chmod(self.layout.pki_dir, 0o700)
        key, cert, ca = self.layout.tls_files(owner)
        ca_key = os.path.join(self.layout.pki_dir, "ca.key")
        ensure_ca(ca, ca_key)
        if not (os.path.exists(key) and os.path.exists(cert)):
            issue(ca, ca_key, CONTROLLER_NAME if owner == "controller" else owner, cert, key)
        return key, cert, ca

    def _controller_state(self, label: str | None) -> str:
        """The state file of the single controller, of a cluster's controller or of the provider."""
        if not label:
            return self.layout.controller_state
        return os.path.join(self.layout.state_dir, f"controller-{label}.json")

    def _cluster_of(self, state: dict, node: str) -> str | None:
        return next((c for c, rec in state.get("clusters", {}).items() if node in rec["nodes"]), None)

    def _controller_url(self, state: dict, node: str) -> str:
        cluster = self._cluster_of(state, node)
        return state["clusters"][cluster]["controller"]["url"] if cluster else state["controller"]["url"]

    def _start_controller(self, state: dict) -> ControllerProcess:
        gateway, _ = underlay_addresses(state["underlay"], 0)
        controller = ControllerProcess(self.layout.controller_state, f"{gateway}:{OF_PORT}",
                                       f"{gateway}:{REST_PORT}", token=self._token(),
                                       log_file=self.layout.controller_log, tls=self._tls("controller"))
        controller.start()
        state["controller"] = {"pid": controller.pid, "url": controller.url}
        self._save(state)
        if state.get("ready"):
            self._wait_switches(controller.client(), state["nodes"])
        return controller

    @staticmethod
    def _wait_switches(client: ControllerClient, names: list[str], timeout: float = 30.0) -> None:
        """Until every node's switch is connected (and so synced): attachments made before would not forward yet."""
        deadline = time.monotonic() + timeout
        while True:
            connected = {s["name"] for s in client.list_switches() if s.get("connected")}
            missing = sorted(set(names) - connected)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise L2smError(f"switches {', '.join(missing)} did not connect to the controller "
                                f"within {timeout:.0f} s")
            time.sleep(0.1)

    def restart_controller(self) -> int:
        """Start the controller again from its state file (after a crash or a kill); returns the new pid.
        The switches keep forwarding meanwhile (fail_mode=secure) and are re-synced when they reconnect."""
        with self._locked():
            state = self._running_state()
            self._stop_controller(state["controller"].get("pid"))
            return self._start_controller(state).pid

    def _underlay_bridge(self, gateway: str) -> None:
        with IPRoute() as ipr:
            if ipr.link_lookup(ifname=self.layout.underlay_bridge):
                return
            ipr.link("add", ifname=self.layout.underlay_bridge, kind="bridge", mtu=UNDERLAY_MTU)
            index = ipr.link_lookup(ifname=self.layout.underlay_bridge)[0]
            ipr.addr("add", index=index, address=gateway, prefixlen=24)
            ipr.link("set", index=index, state="up")

    def down(self) -> None:
        """Remove everything this sandbox made, also when it is half broken; keeps going past errors."""
        preflight()
        if not os.path.isdir(self.layout.state_dir):  # never made here: only look for leftovers, create nothing
            self._down_locked()
            return
        with self._locked():
            self._down_locked()
            self._remove_state_dir()

    def _down_locked(self) -> None:
        state = self._load() or {"nodes": [], "pods": {}, "controller": {}, "underlay": None}
        errors = []

        def attempt(what, fn, *args):
            try:
                fn(*args)
            except Exception as err:  # keep removing the rest
                errors.append(f"{what}: {err}")

        for name, record in state.get("pods", {}).items():
            pod = Pod(self.layout, name, record)
            attempt(f"pod {name}", pod.stop)
            attempt(f"pod {name}", netns.remove, pod.netns)  # its veth ends go with it; OVS goes below
        for node in self._nodes(state) if state.get("underlay") else []:
            attempt(f"node {node.name}", node.down)
        for leftover in netns.names_with_prefix(self.layout.prefix):  # from a run whose state was lost
            run_dir = self.layout.node_dir(leftover[len(self.layout.prefix):])
            if os.path.isdir(run_dir):
                attempt(leftover, OvsInstance(run_dir, netns=leftover).stop)
            attempt(leftover, netns.remove, leftover)
        labels = list(state.get("clusters", {})) + ["provider"]
        for label in labels:
            record = state.get("provider") if label == "provider" else state["clusters"][label]["controller"]
            attempt(f"controller {label}", self._stop_controller, (record or {}).get("pid"),
                    self._controller_state(label))
        if not state.get("clusters"):
            attempt("controller", self._stop_controller, state.get("controller", {}).get("pid"))
        attempt("underlay", self._remove_links)
        for path in (self.layout.state_file, self.layout.controller_state, self.layout.controller_log,
                     self.layout.token_file):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        for label in labels:
            for path in (self._controller_state(label), self._controller_state(label)[:-len(".json")] + ".log"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
        for sub in ("nodes", "pods", "pki"):  # OVS databases, logs, certificates: a new `up` starts from scratch
            shutil.rmtree(os.path.join(self.layout.state_dir, sub), ignore_errors=True)
        if errors:
            raise L2smError(f"sandbox {self.name} removed with errors: {'; '.join(errors)}")

    def _stop_controller(self, pid: int | None, marker: str | None = None) -> None:
        marker = marker or self.layout.controller_state
        if pid:
            stop_process(pid, lambda: pid_alive(pid) and _process_alive(pid, marker))

    def _remove_links(self) -> None:
        prefix = self.layout.prefix
        with IPRoute() as ipr:
            for link in ipr.get_links():
                ifname = link.get_attr("IFLA_IFNAME")
                if ifname == self.layout.underlay_bridge or ifname.startswith(prefix):
                    with contextlib.suppress(Exception):
                        ipr.link("del", index=link["index"])

    def status(self) -> dict:
        state = self._load()
        if not state:
            return {"name": self.name, "up": False, "state_dir": self.layout.state_dir}
        controller = state.get("controller", {})
        alive = _process_alive(controller.get("pid"), self._main_marker(state))
        nodes = []
        for node in self._nodes(state):
            problems = node.problems()
            nodes.append({"name": node.name, "netns": node.netns, "underlay_ip": node.address,
                          "netns_present": netns.exists(node.netns), "ovs_running": node.ovs.running,
                          "state": "degraded" if problems else "up", "problems": problems})
        networks = None
        if alive:
            with contextlib.suppress(L2smError):
                networks = [n["name"] for n in self._client(controller["url"]).list_networks()]
        clusters = {}
        for cluster, rec in state.get("clusters", {}).items():
            clusters[cluster] = {"nodes": rec["nodes"], "edge": rec["edge"], "controller": dict(
                rec["controller"], alive=_process_alive(rec["controller"].get("pid"), self._controller_state(cluster)))}
        if state.get("provider"):
            clusters_extra = {"provider": dict(state["provider"], alive=_process_alive(
                state["provider"].get("pid"), self._controller_state("provider"))),
                "interdomain": state.get("interdomain")}
        else:
            clusters_extra = {}
        return {"name": self.name, "up": bool(state.get("ready")) and alive, "state_dir": self.layout.state_dir,
                **({"clusters": clusters} if clusters else {}), **clusters_extra,
                "underlay": state.get("underlay"),
                "controller": {"url": controller.get("url"), "pid": controller.get("pid"), "alive": alive},
                "nodes": nodes, "degraded": [n["name"] for n in nodes if n["problems"]],
                "networks": networks, "pods": sorted(state.get("pods", {}))}

    def controller_client(self) -> ControllerClient:
        return self._client(self._running_state()["controller"]["url"])

    def node_ovs(self, node: str) -> OvsInstance:
        state = self._running_state()
        if node not in state["nodes"]:
            raise L2smError(f"unknown node {node} (nodes: {', '.join(state['nodes'])})")
        return OvsInstance(self.layout.node_dir(node), netns=self.layout.node_netns(node))

    # networks --------------------------------------------------------------------------------------------------
    def create_network(self, name: str, cidr: str | None = None, clusters: list[str] | None = None) -> dict:
        """One network; with several clusters, ``clusters`` names where it lives (two or more: an inter-domain
        network whose global tag the provider allocates)."""
        state = self._running_state()
        if not state.get("clusters"):
            if clusters:
                raise L2smError(f"sandbox {self.name} has a single cluster: create the network without --clusters")
            return self._client(state["controller"]["url"]).create_network(name, cidr=cidr)
        known = sorted(state["clusters"])
        if not clusters:
            raise L2smError(f"sandbox {self.name} has clusters {', '.join(known)}: say where the network lives "
                            f"with --clusters (one cluster, or several for an inter-domain network)")
        unknown = sorted(set(clusters) - set(known))
        if unknown:
            raise L2smError(f"unknown cluster {', '.join(unknown)} (clusters: {', '.join(known)})")
        tag = None
        if len(set(clusters)) > 1:
            try:
                tag = self._client(state["provider"]["url"]).create_network(name, cidr=cidr)["id"]
            except L2smError as err:
                raise L2smError(f"cannot create inter-domain network {name}: provider controller: {err}") from err
        for cluster in clusters:
            self._client(state["clusters"][cluster]["controller"]["url"]).create_network(
                name, cidr=cidr, interdomain_tag=tag)
        return {"name": name, "cidr": cidr, "clusters": list(clusters), "interdomain": {"tag": tag} if tag else None}

    def delete_network(self, name: str) -> None:
        """Delete a network; the sandbox's pods on it are detached first so no stale interface stays."""
        with self._locked():
            state = self._running_state()
            urls = [rec["controller"]["url"] for rec in state.get("clusters", {}).values()] or \
                [state["controller"]["url"]]
            found = [u for u in urls if any(n["name"] == name for n in self._client(u).list_networks())]
            if not found:
                raise L2smError(f"no network named {name}", 404)
            for pod_name, record in state["pods"].items():
                if name in record["networks"]:
                    pod = Pod(self.layout, pod_name, record)
                    pod.detach(name)
                    self._save(state)
            for url in found:
                self._client(url).delete_network(name)
            if state.get("provider") and len(found) > 1:
                with contextlib.suppress(L2smError):  # a stopped provider keeps a stale tag, harmless
                    self._client(state["provider"]["url"]).delete_network(name)

    def networks(self) -> list[dict]:
        """Every network; with several clusters, each once with the ``clusters`` it lives in."""
        state = self._running_state()
        if not state.get("clusters"):
            return self._client(state["controller"]["url"]).list_networks()
        merged: dict[str, dict] = {}
        for cluster, rec in sorted(state["clusters"].items()):
            for net in self._client(rec["controller"]["url"]).list_networks():
                entry = merged.setdefault(net["name"], dict(net, clusters=[], ports=[]))
                entry["clusters"].append(cluster)
                entry["ports"] += net.get("ports", [])
        return [merged[n] for n in sorted(merged)]

    def provider(self, running: bool) -> None:
        """Stop or start again the provider controller (its state is kept)."""
        with self._locked():
            state = self._running_state()
            if not state.get("provider"):
                raise L2smError(f"sandbox {self.name} has no provider (it has a single cluster)")
            label = "provider"
            self._stop_controller(state["provider"].get("pid"), self._controller_state(label))
            if running:
                self._spawn_provider(state)
            self._save(state)

    # pods ------------------------------------------------------------------------------------------------------
    def run_pod(self, name: str, node: str, networks: list[tuple[str, str | None]],
                command: list[str] | None = None, env: dict | None = None) -> dict:
        preflight()
        check_item_name("pod", name)
        with self._locked():
            state = self._running_state()
            if node not in state["nodes"]:
                raise L2smError(f"unknown node {node} (nodes: {', '.join(state['nodes'])})")
            if name in state["pods"]:
                raise L2smError(f"pod {name} exists already in sandbox {self.name}")
            twice = sorted({n for n, _ in networks if [m for m, _ in networks].count(n) > 1})
            if twice:
                raise L2smError(f"pod {name} names network {', '.join(twice)} twice: one interface per network")
            client = self._client(self._controller_url(state, node))
            for network, _ in networks:
                client.get_network(network)  # unknown network: fail before making anything
            record = {"node": node, "networks": {}, "pid": None, "command": None}
            pod = Pod(self.layout, name, record)
            state["pods"][name] = record
            self._save(state)
            try:
                netns.create(pod.netns)
                for network, address in networks:
                    pod.attach(network, address)
                    self._save(state)
                if command:
                    pod.start(command, env)
                self._save(state)
            except BaseException:
                self._delete_pod(state, pod)
                raise
            return self._pod_info(pod)

    def exec_pod(self, name: str, argv: list[str], timeout: float | None = None,
                 capture: bool = True) -> subprocess.CompletedProcess:
        state = self._running_state()
        pod = self._pod(state, name)
        if not argv:
            raise L2smError("pod exec needs a command")
        try:
            return netns.run(pod.netns, argv, timeout=timeout, capture=capture)
        except subprocess.TimeoutExpired as err:
            raise L2smError(f"command in pod {name} did not finish within {timeout} s") from err

    def delete_pod(self, name: str) -> None:
        preflight()
        with self._locked():
            state = self._running_state()
            self._delete_pod(state, self._pod(state, name))

    def _delete_pod(self, state: dict, pod: Pod) -> None:
        pod.stop()
        for network in list(pod.record["networks"]):
            with contextlib.suppress(L2smError):
                pod.detach(network)
        netns.remove(pod.netns)
        state["pods"].pop(pod.name, None)
        self._save(state)

    def attach(self, pod: str, network: str, address: str | None = None) -> str:
        """Attach a running pod to one more network; returns the new interface name."""
        preflight()
        with self._locked():
            state = self._running_state()
            p = self._pod(state, pod)
            if network in p.record["networks"]:
                raise L2smError(f"pod {pod} is attached to {network} already")
            ifname = p.attach(network, address)
            self._save(state)
            return ifname

    def detach(self, pod: str, network: str) -> None:
        preflight()
        with self._locked():
            state = self._running_state()
            p = self._pod(state, pod)
            if network not in p.record["networks"]:
                raise L2smError(f"pod {pod} is not attached to {network}")
            p.detach(network)
            self._save(state)

    def _pod_info(self, pod: Pod) -> dict:
        return {"name": pod.name, "node": pod.node, "netns": pod.netns, "pid": pod.record.get("pid"),
                "running": pod.running(), "command": pod.record.get("command"),
                "networks": [{"network": n, **att} for n, att in pod.record["networks"].items()],
                "log": self.layout.pod_log(pod.name)}

    def pods(self) -> list[dict]:
        state = self._running_state()
        return [self._pod_info(Pod(self.layout, n, r)) for n, r in sorted(state["pods"].items())]

    def pod(self, name: str) -> dict | None:
        """One pod as :meth:`pods` shows it, or None when there is no such pod (cheap enough to poll)."""
        record = self._running_state()["pods"].get(name)
        return None if record is None else self._pod_info(Pod(self.layout, name, record))

    def pod_log(self, name: str) -> str:
        self._pod(self._running_state(), name)
        try:
            with open(self.layout.pod_log(name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


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
