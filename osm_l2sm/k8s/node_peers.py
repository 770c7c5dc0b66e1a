"""The switch's peers from the cluster's Node objects: every node's switch has one tunnel to every other node, by its
InternalIP, with no per-node values. A node that registers gets tunnels from every switch (and makes its own to
every other node); a Node deleted loses them, and its switch is unregistered at the controller, which releases its
ports. Runs beside node-attach in each switch pod; nothing restarts.

Each pass compares the Node objects with the switch's record (``<run-dir>/agent.json``), so a switch brought up
again (its container restarted) has its tunnels back within a pass.
"""
from __future__ import annotations

import logging
import threading

from kubernetes import client

from osm_l2sm.controller import ControllerClient
from osm_l2sm.errors import L2smError
from osm_l2sm.switch import set_peers

log = logging.getLogger(__name__)

PASS_S = 2.0  # how often the Node objects are listed


def node_addresses(nodes) -> dict[str, str]:
    """{node name: InternalIP} of the listed Node objects that have one and are not being deleted."""
    found = {}
    for node in nodes:
        if node.metadata.deletion_timestamp is not None:
            continue
        ip = next((a.address for a in (node.status.addresses or []) if a.type == "InternalIP"), None)
        if ip:
            found[node.metadata.name] = ip
    return found


class NodePeers:
    """One node's switch kept in step with the cluster's nodes."""

    def __init__(self, node: str, api, run_dir: str, rest: str, token: str | None):
        self.node, self.run_dir = node, run_dir
        self.core = client.CoreV1Api(api)
        self.controller = ControllerClient(rest, token)
        self.rest, self.token = rest, token
        self.known: dict[str, str] | None = None  # the peers set at the last pass that succeeded

    def step(self) -> None:
        peers = node_addresses(self.core.list_node().items)
        peers.pop(self.node, None)
        _, removed = set_peers(self.run_dir, peers, self.rest if peers != self.known else None, self.token)
        gone = removed | (set(self.known or {}) - set(peers))
        self.known = peers
        for name in sorted(gone):  # its Node is gone: so is its switch, and the ports the controller held for it
            try:
                self.controller.unregister_switch(name)
                log.info("node %s left the cluster: its switch unregistered", name)
            except L2smError as err:
                if err.status != 404:
                    log.warning("switch %s not unregistered: %s", name, err)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except L2smError as err:  # the switch not up yet, or the controller away: the next pass again
                log.info("peers of %s not set yet: %s", self.node, err)
                self.known = None
            except Exception:
                log.exception("peers of %s", self.node)
                self.known = None
            stop.wait(PASS_S)


def start_node_peers(node: str, api, run_dir: str, rest: str, token: str | None) -> threading.Event:
    """The node's peer keeper in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=NodePeers(node, api, run_dir, rest, token).run, args=(stop,), daemon=True,
                     name="node-peers").start()
    return stop
