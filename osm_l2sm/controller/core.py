"""The controller's behaviour, independent of the OpenFlow library: state changes and switch resyncs.

The OpenFlow app hands switch events in (connect, port list, port status, disconnect) and sets ``program``, the
function that writes a list of flows to a datapath. The REST layer calls the mutation methods; each one saves the
state, then resyncs the switches whose flows it changes.
"""
from __future__ import annotations

import logging
import threading

from .flows import desired_flows
from .metrics import ControllerMetrics
from .state import State

LOG = logging.getLogger(__name__)


class Controller:
    def __init__(self, state: State):
        self.state = state
        self.metrics = ControllerMetrics(state)
        self.datapaths: dict[str, object] = {}   # switch name -> connected datapath
        self.unknown: dict[str, object] = {}     # dpid -> datapath of a switch not registered (yet)
        self.generation: dict[str, int] = {}     # switch name -> cookie generation of its installed flows
        self.program = None  # (datapath, flows, generation) -> None, set by the OpenFlow app
        self._sync_lock = threading.RLock()

    # -- resync --------------------------------------------------------------------------------------------------
    def sync(self, names=None, full: bool = False) -> None:
        """Bring the flows of the named (default: all connected) switches to what the state asks for.

        Install every desired flow with the next generation in its cookie, then delete flows of the previous
        generation: a flow that stays desired is replaced in place, never absent. ``full`` (on connect, when the
        switch may hold flows of an earlier controller with either generation) does this twice.
        """
        with self._sync_lock:
            targets = sorted(self.datapaths if names is None else set(names) & set(self.datapaths))
            for name in targets:
                dp = self.datapaths[name]
                flows = desired_flows(self.state, name)
                for _ in range(2 if full else 1):
                    gen = self.generation.get(name, 1) ^ 1
                    if self.program is not None:
                        self.program(dp, flows, gen)
                    self.generation[name] = gen
                self.metrics.flow_syncs.inc()
                LOG.info("synced %s: %d flows (generation %d)", name, len(flows), self.generation[name])

    # -- switch events -------------------------------------------------------------------------------------------
    def switch_connected(self, dpid: str, datapath, ports: dict[str, int]) -> None:
        """A datapath connected (or re-sent its port list): learn its ports and resync it from scratch."""
        with self.state.lock:
            name = self.state.switch_by_dpid(dpid)
            if name is None:
                LOG.warning("switch with dpid %s connected but is not registered; waiting for it", dpid)
                self.unknown[dpid] = (datapath, ports)
                return
            self.unknown.pop(dpid, None)
            self.datapaths[name] = datapath
            self.state.connected.add(name)
            self.state.ofports[name] = dict(ports)
        LOG.info("switch %s (%s) connected with %d ports", name, dpid, len(ports))
        self.sync([name], full=True)

    def switch_disconnected(self, dpid: str, datapath) -> None:
        with self.state.lock:
            self.unknown.pop(dpid, None)
            name = self.state.switch_by_dpid(dpid)
            if name is None or self.datapaths.get(name) is not datapath:
                return
            del self.datapaths[name]
            self.state.connected.discard(name)
        LOG.info("switch %s disconnected", name)

    def port_changed(self, dpid: str, interface: str, ofport: int | None) -> None:
        """A port was added, modified (``ofport``) or deleted (``None``) on a datapath."""
        with self.state.lock:
            if dpid in self.unknown:
                dp, ports = self.unknown[dpid]
                if ofport is None:
                    ports.pop(interface, None)
                else:
                    ports[interface] = ofport
                return
            name = self.state.switch_by_dpid(dpid)
            if name is None:
                return
            ports = self.state.ofports.setdefault(name, {})
            if ports.get(interface) == ofport:
                return
            if ofport is None:
                ports.pop(interface, None)
            else:
                ports[interface] = ofport
        self.sync([name])

    # -- state changes from the REST API ------------------------------------------------------------------------
    def create_network(self, name, cidr=None, description=None, interdomain=None):
        view, created = self.state.create_network(name, cidr, description, interdomain)
        if created:
            self.sync()
        return view, created

    def delete_network(self, name):
        self.state.delete_network(name)
        self.sync()

    def attach_port(self, network, switch, interface, mac=None):
        view, changed = self.state.attach_port(network, switch, interface, mac)
        if changed:
            self.sync(self.state.switches_of_network(network) | {switch})
        return view, changed

    def detach_port(self, switch, interface):
        with self.state.lock:
            port = self.state.ports.get(f"{switch}/{interface}")
            network = port["network"] if port else None
        self.state.detach_port(switch, interface)
        self.sync(self.state.switches_of_network(network) | {switch})

    def register_switch(self, name, dpid, tunnels, domain_links=None):
        view = self.state.register_switch(name, dpid, tunnels, domain_links)
        with self.state.lock:
            waiting = self.unknown.get(view["dpid"])
        if waiting:
            self.switch_connected(view["dpid"], *waiting)
        else:
            self.sync()
        return self.state.switch_view(name)

    def unregister_switch(self, name):
        with self.state.lock:
            dp = self.datapaths.pop(name, None)
            dpid = self.state.switches.get(name, {}).get("dpid")
            ports = dict(self.state.ofports.get(name, {}))
        self.state.unregister_switch(name)
        if dp is not None and dpid:
            self.unknown[dpid] = (dp, ports)  # still connected: it is re-adopted if registered again
        self.sync()
