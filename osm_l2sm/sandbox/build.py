"""Build, revive and tear down a sandbox: its underlays, controllers, nodes and, with several clusters, the provider
and the domain links between the edges. The only difference between one cluster and several is in :func:`plan`."""
from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import zlib
from typing import Callable

from pyroute2 import IPRoute

from osm_l2sm.controller import ControllerClient, ControllerProcess
from osm_l2sm.controller.tls import CONTROLLER_NAME, ensure_ca, issue
from osm_l2sm.errors import L2smError
from osm_l2sm.processes import in_parallel, pid_alive, stop_process, wait_until
from osm_l2sm.switch import OvsInstance

from . import domains, netns
from .layout import OF_PORT, REST_PORT, UNDERLAY_POOL, Layout, node_name, underlay_addresses
from .node import Node
from .pod import Pod
from .state import ClusterRecord, ControllerRecord, SandboxState, StateStore

REQUIRED_TOOLS = ("ip", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl")
PROVIDER_LABEL = "controller-provider"


def preflight() -> None:
    """Root and the tools; one clear line when something is missing."""
    if os.geteuid() != 0:
        raise L2smError("the sandbox needs root (network namespaces, veth and Open vSwitch); run it with sudo")
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            raise L2smError(f"{tool} is missing: install openvswitch-switch and iproute2")


def free_underlay(name: str, pool=UNDERLAY_POOL) -> str:
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


def process_alive(pid: int | None, marker: str) -> bool:
    """True when ``pid`` runs and its command line contains ``marker`` (so a reused pid is not ours)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker.encode() in f.read()
    except OSError:
        return False


def plan(name: str, count: int) -> SandboxState:
    """The clusters of a new sandbox, none made yet. The only cluster keeps the plain names and ports (``node1``,
    6653/8181, ``controller.json``) and needs no edge; several are ``c1..cK`` with an edge each, a provider and
    their own underlay between the edges."""
    if count == 1:
        clusters = [ClusterRecord(None, OF_PORT, REST_PORT)]
    else:
        clusters = [ClusterRecord(c, *domains.cluster_ports(c), edge=domains.edge_name(c))
                    for c in domains.cluster_names(count)]
    return SandboxState(name=name, underlay=free_underlay(name), clusters=clusters,
                        interdomain=free_underlay(name + "-id", domains.INTERDOMAIN_POOL) if count > 1 else None)


def planned_nodes(cluster: ClusterRecord, nodes: int) -> list[str]:
    return [cluster.qualified(node_name(i)) for i in range(1, nodes + 1)] + ([cluster.edge] if cluster.edge else [])


def wait_switches(client: ControllerClient, names: list[str], timeout: float = 30.0) -> None:
    """Until every node's switch is connected (and so synced): attachments made before would not forward yet."""
    def missing() -> list[str]:
        return sorted(set(names) - {s["name"] for s in client.list_switches() if s.get("connected")})

    if not wait_until(lambda: not missing(), timeout):
        raise L2smError(f"switches {', '.join(missing())} did not connect to the controller within {timeout:.0f} s")


class Builder:
    """Makes and removes what :class:`SandboxState` records, saving each part as soon as it exists."""

    def __init__(self, layout: Layout, store: StateStore):
        self.layout = layout
        self.store = store

    # parts ------------------------------------------------------------------------------------------------------
    def nodes(self, state: SandboxState) -> list[Node]:
        return [Node(self.layout, n, i, state.underlay) for i, n in enumerate(state.nodes, start=1)]

    def client(self, url: str) -> ControllerClient:
        return ControllerClient(url, self.store.token())

    def controller_file(self, label: str) -> str:
        return os.path.join(self.layout.state_dir, f"{label}.json")

    def controller_alive(self, record: ControllerRecord | None, label: str) -> bool:
        return bool(record) and process_alive(record.pid, self.controller_file(label))

    def tls(self, owner: str) -> tuple[str, str, str]:
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

    def _spawn(self, state: SandboxState, of_port: int, rest_port: int, label: str, role: str) -> ControllerRecord:
        gateway, _ = underlay_addresses(state.underlay, 0)
        proc = ControllerProcess(self.controller_file(label), f"{gateway}:{of_port}", f"{gateway}:{rest_port}",
                                 token=self.store.token(), log_file=os.path.join(self.layout.state_dir, f"{label}.log"),
                                 role=role, tls=self.tls("controller")).start()
        return ControllerRecord(pid=proc.pid, url=proc.url)

    def start_controller(self, state: SandboxState, cluster: ClusterRecord) -> None:
        cluster.controller = self._spawn(state, cluster.of_port, cluster.rest_port, cluster.label, "cluster")
        self.store.save(state)

    def start_provider(self, state: SandboxState) -> None:
        state.provider = self._spawn(state, domains.PROVIDER_OF_PORT, domains.PROVIDER_REST_PORT, PROVIDER_LABEL,
                                     "provider")
        self.store.save(state)

    def stop_controller(self, record: ControllerRecord | None, label: str) -> None:
        pid = record.pid if record else None
        if pid:
            stop_process(pid, lambda: pid_alive(pid) and process_alive(pid, self.controller_file(label)))

    # build ------------------------------------------------------------------------------------------------------
    def build(self, state: SandboxState, nodes: int, delay_ms: float | None, loss_pct: float | None) -> None:
        """Underlay, then the controllers while the nodes' namespaces, underlay links and OVS daemons are made, then
        each switch with its bridge and CNI daemon, the provider, the domain links between the edges; then each switch
        again with its tunnels (and an edge with its domain links), which registers it. The nodes are made side by
        side: each is a namespace of its own, and each step waits for what the one before made in every node."""
        gateway, _ = underlay_addresses(state.underlay, 0)
        domains.linux_bridge(self.layout.underlay_bridge, gateway)
        for cluster in state.clusters:
            cluster.nodes.extend(planned_nodes(cluster, nodes))
        self.store.save(state)  # every node recorded before any is made: down finds a half-made one
        made = self.nodes(state)
        members = {c.label: [n for n in made if n.name in c.nodes] for c in state.clusters}
        # OVS would back off from a controller not listening yet: the switches are set up once it answers
        in_parallel([lambda: self._start_controllers(state)] + [node.prepare for node in made])
        in_parallel([self._node_up(c, node) for c in state.clusters for node in members[c.label]])
        if state.interdomain:
            self.start_provider(state)
        edges = {c.name: members[c.label][-1] for c in state.clusters if c.edge}
        links = domains.connect_edges(self.layout, state.interdomain, edges, delay_ms, loss_pct)
        # again, with its peers and an edge's domain links: the agent makes and registers them
        in_parallel([self._node_up(c, node, [peer for peer in members[c.label] if peer is not node],
                                   links.get(c.name) if node.name == c.edge else None)
                     for c in state.clusters for node in members[c.label]])
        for cluster in state.clusters:
            wait_switches(self.client(cluster.controller.url), cluster.nodes)
        state.ready = True
        self.store.save(state)

    def _start_controllers(self, state: SandboxState) -> None:
        for cluster in state.clusters:
            self.start_controller(state, cluster)

    def _node_up(self, cluster: ClusterRecord, node: Node, peers: list[Node] | None = None,
                 domain=None) -> Callable[[], None]:
        """``node.up`` as a call for :func:`in_parallel`; its certificate and token read here, by one thread."""
        tls, token = self.tls(node.name), self.store.token()
        return lambda: node.up(cluster.of_port, cluster.controller.url, tls, token, peers, domain)

    def revive(self, state: SandboxState) -> None:
        """Start again what died in a running sandbox: the daemons of each node (first: a controller started waits
        for every switch), each cluster's controller and the provider, from their state files. The OVS database
        keeps the bridge, its tunnels and the pods' ports; the switches reconnect and are re-synced."""
        revived = []
        for node in self.nodes(state):
            if node.problems():
                cluster = state.cluster_of(node.name)
                node.up(cluster.of_port, cluster.controller.url, self.tls(node.name), self.store.token())
                revived.append(node.name)
        for cluster in state.clusters:
            if not self.controller_alive(cluster.controller, cluster.label):
                self.start_controller(state, cluster)
                self.restore_networks(state, cluster)  # the nodes' daemons announce switches and ports meanwhile
                wait_switches(self.client(cluster.controller.url), cluster.nodes)
            elif set(revived) & set(cluster.nodes):
                wait_switches(self.client(cluster.controller.url), sorted(set(revived) & set(cluster.nodes)))
        if state.interdomain and not self.controller_alive(state.provider, PROVIDER_LABEL):
            self.start_provider(state)

    def restore_networks(self, state: SandboxState, cluster: ClusterRecord) -> None:
        """The sandbox's networks of ``cluster`` on its controller, with the ids they had (a controller started
        without its state file has none; one that kept it has them already, and this changes nothing)."""
        client = self.client(cluster.controller.url)
        for name, net in sorted(state.networks.items(), key=lambda item: item[1].get("ids", {}).get(cluster.label, 0)):
            if cluster.label in net.get("ids", {}):
                client.create_network(name, cidr=net.get("cidr"), interdomain_tag=net.get("tag"),
                                      network_id=net["ids"][cluster.label])

    # teardown ---------------------------------------------------------------------------------------------------
    def teardown(self) -> None:
        """Remove everything the state records, and leftovers of a run whose state was lost; keeps going past errors."""
        state = self.store.load() or SandboxState(name=self.layout.name)
        errors = []

        def attempt(what, fn, *args):
            try:
                fn(*args)
            except Exception as err:  # keep removing the rest
                errors.append(f"{what}: {err}")

        for name, record in state.pods.items():
            pod = Pod(self.layout, name, record)
            attempt(f"pod {name}", pod.stop)
            attempt(f"pod {name}", netns.remove, pod.netns)  # its veth ends go with it; OVS goes below
        for node in self.nodes(state) if state.underlay else []:
            attempt(f"node {node.name}", node.down)
        for leftover in netns.names_with_prefix(self.layout.prefix):  # from a run whose state was lost
            run_dir = self.layout.node_dir(leftover[len(self.layout.prefix):])
            if os.path.isdir(run_dir):
                attempt(leftover, OvsInstance(run_dir, netns=leftover).stop)
            attempt(leftover, netns.remove, leftover)
        controllers = [(c.label, c.controller) for c in state.clusters] + [(PROVIDER_LABEL, state.provider)]
        for label, record in controllers:
            attempt(label.replace("-", " "), self.stop_controller, record, label)
        attempt("underlay", self._remove_links)
        for path in (self.layout.state_file, self.layout.controller_state, self.layout.controller_log,
                     self.layout.token_file):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        for label, _ in controllers:
            for path in (self.controller_file(label), self.controller_file(label)[:-len(".json")] + ".log"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
        # OVS databases, logs, certificates, drawings: a new `up` starts from scratch
        for sub in ("nodes", "pods", "pki", "pictures"):
            shutil.rmtree(os.path.join(self.layout.state_dir, sub), ignore_errors=True)
        if errors:
            raise L2smError(f"sandbox {self.layout.name} removed with errors: {'; '.join(errors)}")

    def _remove_links(self) -> None:
        prefix = self.layout.prefix
        with IPRoute() as ipr:
            for link in ipr.get_links():
                ifname = link.get_attr("IFLA_IFNAME")
                if ifname == self.layout.underlay_bridge or ifname.startswith(prefix):
                    with contextlib.suppress(Exception):
                        ipr.link("del", index=link["index"])
