"""The controller's behaviour, independent of the OpenFlow library: state changes and the flow batches they cause.

A change holds the state's lock while it journals itself and computes what each switch must change: the flows of
the networks it touches (flows.network_flows), diffed against what the switch was last sent (its session's
``flows``, one set per network; :mod:`.sessions`). The differences are queued as one :class:`Batch` per switch, in order, and the lock is released:
the OpenFlow app (ofapp.py) sends the batches from its own thread, each closed by a barrier, and reports the
barrier replies back (:meth:`Controller.acknowledged`). So a REST call never waits for a switch.

A switch that (re)connects gets a full resync instead: every desired flow is written with the next cookie
generation (cookie bit 0), then the flows of the other generation are deleted, twice, which clears whatever an
earlier controller left whatever its generation. That sweep needs every port the switch's flows depend on: its own
and those of its tunnel peers (flows to a remote MAC). A controller started without them (an empty state: they are
rebuilt from their owners, docs/controller-api.md "Rebuilding") writes the flows it has and removes nothing until
the nodes of the switch and of its peers have announced their ports again (:meth:`sweep_switch`), or SWEEP_GRACE
has passed, so the flows of live pods stay while it learns them.
"""
from __future__ import annotations

import collections
import gc
import logging
import threading
import time
from dataclasses import dataclass

from osm_l2sm.errors import L2smError

from .flows import DEFAULT_FLOWS, group_flows, group_of, network_flows, switch_context
from .metrics import ControllerMetrics
from .records import port_id
from .sessions import SwitchSession
from .state import State

LOG = logging.getLogger(__name__)
SETTLE_EVERY = 1000  # batches between two settles of the garbage collector (see Controller._settle)
SWEEP_GRACE = 60.0  # seconds a switch waits for its and its peers' announcements before it is swept anyway


@dataclass(frozen=True)
class Batch:
    """Flow changes for one switch, sent in queue order and closed by a barrier."""
    session: SwitchSession  # the connection it is for: dropped when that connection has ended
    seq: int          # per switch, from 1
    generation: int   # the cookie generation the switch's flows have once this batch is applied
    add: tuple = ()   # flows to write
    remove: tuple = ()  # flows to delete (by table, priority and match)
    passes: int = 0   # > 0: a full resync of ``add`` (every desired flow), run that many times

    @property
    def switch(self) -> str:
        return self.session.name

    @property
    def datapath(self):
        return self.session.datapath

    def pass_generations(self) -> list[int]:
        """The generation written by each pass of a full resync: the last one is ``generation``."""
        return [self.generation ^ 1, self.generation][-self.passes:]


def _key(flow) -> tuple:
    return flow.table, flow.priority, flow.match


class Controller:
    def __init__(self, state: State):
        self.state = state
        self.runtime = state.runtime
        self.metrics = ControllerMetrics(state)
        self.outbox: collections.deque[Batch] = collections.deque()  # appended under the state lock
        self.wake = None  # () -> None, set by the OpenFlow app: batches are waiting in the outbox
        self._progress = threading.Condition()
        self._unsettled = 0  # batches queued since the last settle; a resync counts as a settle's worth

    # -- computing batches (state lock held) ---------------------------------------------------------------------
    def _queue(self, session: SwitchSession, networks, **fields) -> int:
        """Queue a batch for the switch of ``session`` changing the flows of ``networks`` (shown "pending" in their
        views until the switch acknowledges it)."""
        session.queued = seq = session.queued + 1
        session.batch_networks[seq] = networks
        self.outbox.append(Batch(session, seq, session.generation or 0, **fields))
        self._unsettled += SETTLE_EVERY if fields.get("passes") else 1
        self.state.changed(*networks)
        return seq

    def _resync(self, session: SwitchSession, passes: int) -> None:
        """Write every desired flow of the switch of ``session``; with ``passes`` (2) also delete every other flow."""
        name = session.name
        ctx = switch_context(self.state, name)
        if ctx is None:
            return
        by_network = self.state.ports_by_network
        sets = {n: network_flows(ctx, net, by_network.get(n, {}).values()) for n, net in self.state.networks.items()}
        session.flows = {n: flows for n, flows in sets.items() if flows}
        groups = {n: group_of(self.state.networks[n].id, flows) for n, flows in sets.items()}
        session.groups = {n: g for n, g in groups.items() if g}
        session.group_flows = group_flows(ctx, set(session.groups.values()))
        flows = set(DEFAULT_FLOWS).union(session.group_flows, *sets.values())
        for _ in range(passes):
            session.generation = (1 if session.generation is None else session.generation) ^ 1
        if session.generation is None:
            session.generation = 0  # without passes: what the flows written now carry
        session.network_batch = {}
        session.resynced = self._queue(session, tuple(self.state.networks_on(name)), add=tuple(sorted(flows)),
                                       passes=passes)
        self.metrics.flow_syncs.inc()
        if passes:
            LOG.info("resync %s: %d flows (generation %d)", name, len(flows), session.generation)
        else:
            LOG.info("resync %s: %d flows written, none removed until its node has announced its ports", name,
                     len(flows))

    def _update(self, names, networks=None) -> None:
        """Recompute ``networks`` (default: every network) on the named connected switches; queue the changes."""
        state, sessions = self.state, self.runtime.sessions
        for name in sorted(set(names) & set(sessions)):
            ctx = switch_context(state, name)
            if ctx is None:
                continue
            session = sessions[name]
            sent, groups = session.flows, session.groups
            targets = set(state.networks) | set(sent) if networks is None else set(networks)
            add, remove, changed = set(), set(), []
            for net_name in targets:
                net = state.networks.get(net_name)
                new = network_flows(ctx, net, state.ports_by_network.get(net_name, {}).values()) if net else frozenset()
                old = sent.get(net_name, frozenset())
                if new == old:
                    continue
                changed.append(net_name)
                add |= new - old
                remove |= old - new
                group = group_of(net.id, new) if new else None
                if group:
                    groups[net_name] = group
                else:
                    groups.pop(net_name, None)
                if new:
                    sent[net_name] = new
                else:
                    sent.pop(net_name, None)
            if changed or networks is None:  # the group flows: the groups of its networks, its tunnels
                wanted = group_flows(ctx, set(groups.values()))
                had = session.group_flows
                add |= wanted - had
                remove |= had - wanted
                session.group_flows = wanted
            if add or remove:
                replaced = {_key(f) for f in add}  # an ADD with the same match replaces the flow in place
                remove = {f for f in remove if _key(f) not in replaced}
                seq = self._queue(session, tuple(changed), add=tuple(sorted(add)), remove=tuple(sorted(remove)))
                session.network_batch.update(dict.fromkeys(changed, seq))
                self.metrics.flow_updates.inc()

    def _connected(self) -> set[str]:
        return set(self.runtime.sessions)

    def _send(self) -> None:
        if self.wake is not None and self.outbox:
            self.wake()
        if self._unsettled >= SETTLE_EVERY:
            self._settle()

    def _settle(self) -> None:
        """Collect the garbage made since the last settle, then freeze what survives (gc.freeze).

        At full size the flow sets and records are a few hundred thousand tracked containers that live as long as
        the state. A full collection of the cyclic GC walks them all (about 100 ms here, several times that on a
        loaded machine) while holding the interpreter, so every REST call and flow batch in flight stalls: that was
        the tail of GET /networks during churn. Frozen objects are skipped by later collections (they are still
        freed by reference counting when replaced: the records and flow sets hold no cycles), so this collection
        and the later ones only walk what was made since."""
        self._unsettled = 0
        gc.collect()
        gc.freeze()

    # -- progress ------------------------------------------------------------------------------------------------
    def acknowledged(self, session: SwitchSession, seq: int) -> None:
        """The switch answered the barrier closing batch ``seq`` of ``session`` (or the batch was dropped with its
        connection)."""
        networks = set()
        with self._progress:
            done = session.acked
            if seq > done:
                session.acked = seq
                for s in range(done + 1, seq + 1):
                    networks.update(session.batch_networks.pop(s, ()))
                self.state.changed(*networks)  # their views say "acknowledged" once a waiter wakes
            self._progress.notify_all()

    def progress(self) -> dict:
        """Per registered switch: connected, batches queued and acknowledged, flows sent, cookie generation."""
        rt, progress = self.runtime, {}
        for name in sorted(dict(self.state.switches)):
            session = rt.sessions.get(name)
            progress[name] = {"connected": session is not None, "queued": session.queued if session else 0,
                              "acknowledged": session.acked if session else 0,
                              "generation": session.generation if session else None, "settled": name in rt.settled,
                              "flows": len(DEFAULT_FLOWS) + session.flow_count() if session else 0}
        return progress

    def wait_synced(self, timeout: float) -> bool:
        """Wait until every connected switch acknowledged what was queued for it when called; False on timeout."""
        sessions = self.runtime.sessions
        target = [(session, session.queued) for session in list(sessions.values())]

        def done() -> bool:
            return all(s.acked >= seq or sessions.get(s.name) is not s for s, seq in target)

        with self._progress:  # woken by each acknowledgement, not polled
            return self._progress.wait_for(done, timeout)

    # -- switch events -------------------------------------------------------------------------------------------
    def switch_connected(self, dpid: str, datapath, ports: dict[str, int]) -> None:
        """A datapath connected (or re-sent its port list): learn its ports and resync it from scratch."""
        with self.state.lock:
            name = self.state.switch_by_dpid(dpid)
            if name is None:
                LOG.warning("switch with dpid %s connected but is not registered; waiting for it", dpid)
                self.runtime.waiting[dpid] = (datapath, ports)
                return
            session = self.runtime.start(name, dpid, datapath)
            gone = self.state.gone_ports(name, ports)
            networks = {p.network for p in gone}
            holding = set().union(*(self.state.switches_of_network(n) for n in networks)) - {name}
            for port in gone:  # nobody can release them any more: their pod or node is gone
                LOG.info("port %s of network %s: its interface is gone from the switch; released", port.id,
                         port.network)
                self.state.detach_port(port.switch, port.interface)
            self.state.learn_ports(name, ports)
            LOG.info("switch %s (%s) connected with %d ports", name, dpid, len(ports))
            if self._sweepable(name):
                self._resync(session, passes=2)
            else:
                self._resync(session, passes=0)
                if session.sweep_due is None:
                    session.sweep_due = time.monotonic() + SWEEP_GRACE
            self._update(holding, networks)  # the other switches forget the MACs behind the released ports
        self._send()

    def switch_disconnected(self, dpid: str, datapath) -> None:
        with self.state.lock:
            self.runtime.waiting.pop(dpid, None)
            name = self.state.switch_by_dpid(dpid)
            session = self.runtime.sessions.get(name)
            if session is None or session.datapath is not datapath:
                return
            self.runtime.end(name)
            self.state.changed(*self.state.networks_on(name))  # their views say so
        self.acknowledged(session, session.queued)  # nothing more will be answered: wake the waiters
        LOG.info("switch %s disconnected", name)

    def port_changed(self, dpid: str, interface: str, ofport: int | None) -> None:
        """A port was added, modified (``ofport``) or deleted (``None``) on a datapath."""
        with self.state.lock:
            if dpid in self.runtime.waiting:
                _, ports = self.runtime.waiting[dpid]
                if ofport is None:
                    ports.pop(interface, None)
                else:
                    ports[interface] = ofport
                return
            name = self.state.switch_by_dpid(dpid)
            if name is None:
                return
            if not self.state.learn_port(name, interface, ofport):
                return
            switch = self.state.switches[name]
            port = self.state.ports.get(port_id(name, interface))
            if interface in switch.tunnels.values() or interface in switch.domain_links.values():
                self._update({name})  # a tunnel or domain link: every network on this switch
            elif port is not None:
                self._update({name}, [port.network])  # only this switch's flows use its ofports
        self._send()

    # -- state changes from the REST API ------------------------------------------------------------------------
    def create_network(self, name, cidr=None, description=None, interdomain=None, network_id=None):
        with self.state.lock:
            view, created = self.state.create_network(name, cidr, description, interdomain, network_id)
            if created:  # flows only where the network has ports (none yet), or on the edges when inter-domain
                self._update(self.state.switches_of_network(name), [name])
        self._send()
        return view, created

    def delete_network(self, name):
        with self.state.lock:
            holding = {s for s, session in self.runtime.sessions.items() if name in session.flows}
            self.state.delete_network(name)
            self._update(holding, [name])
            for session in self.runtime.sessions.values():
                session.network_batch.pop(name, None)
        self._send()

    def attach_port(self, network, switch, interface, mac=None, ips=None):
        with self.state.lock:
            # a network name of the wrong type is refused by State.attach_port (400), not here by a failed lookup
            before = self.state.switches_of_network(network) if isinstance(network, str) else set()
            view, changed = self.state.attach_port(network, switch, interface, mac, ips)
            if changed:
                self._update(before | self.state.switches_of_network(network) | {switch}, [network])
        self._send()
        return view, changed

    def detach_port(self, switch, interface):
        with self.state.lock:
            port = self.state.ports.get(port_id(switch, interface))
            network = port.network if port else None
            before = self.state.switches_of_network(network)
            self.state.detach_port(switch, interface)
            self._update(before | {switch}, [network])
        self._send()

    def register_switch(self, name, dpid, tunnels, domain_links=None):
        with self.state.lock:
            view, changed = self.state.register_switch(name, dpid, tunnels, domain_links)
            if name not in self.runtime.settled:  # its ports come next, from its node
                self.runtime.unsettled.setdefault(name, time.monotonic() + SWEEP_GRACE)
            waiting = self.runtime.waiting.get(view["dpid"])
            if waiting:
                self.switch_connected(view["dpid"], *waiting)
            elif changed:
                self._update(self._connected())  # tunnels towards it and the set of edges changed everywhere
            view = self.state.switch_view(name)
        self._send()
        return view

    def _sweepable(self, name: str) -> bool:
        """The controller holds every port the flows of switch ``name`` depend on: its own and its peers'."""
        rt, switch = self.runtime, self.state.switches[name]
        return name in rt.settled and all(peer in rt.settled for peer in switch.tunnels)

    def _sweep_ready(self, force=()) -> None:
        """Sweep the connected switches not swept yet that can be now (or are in ``force``)."""
        for name, session in sorted(self.runtime.sessions.items()):
            if session.sweep_due is not None and (name in force or self._sweepable(name)):
                session.sweep_due = None
                self._resync(session, passes=2)

    def sweep_switch(self, name: str) -> bool:
        """The node of switch ``name`` has announced all its ports: the controller holds them. Every switch whose
        flows depend only on ports it holds now is swept (a full resync removes the flows it does not compute).
        False when the switch was settled already."""
        with self.state.lock:
            if name not in self.state.switches:
                raise L2smError(f"no switch named {name}", 404)
            self.runtime.unsettled.pop(name, None)
            if name in self.runtime.settled:
                return False
            self.runtime.settled.add(name)
            self._sweep_ready()
        self._send()
        return True

    def sweep_overdue(self, now: float | None = None) -> list[str]:
        """Count as settled the switches whose node has not announced its ports within SWEEP_GRACE (its daemon may
        be gone), and sweep those waiting longer than that for their peers; called every second by the OpenFlow
        app. Returns the switches swept."""
        now = time.monotonic() if now is None else now
        rt = self.runtime
        with self.state.lock:
            for name in sorted(n for n, due in list(rt.unsettled.items()) if due <= now):
                LOG.warning("switch %s: its node did not announce its ports within %.0f s", name, SWEEP_GRACE)
                del rt.unsettled[name]
                rt.settled.add(name)
            unswept = {n for n, s in rt.sessions.items() if s.sweep_due is not None}
            overdue = {n for n in unswept if rt.sessions[n].sweep_due <= now}
            for name in sorted(overdue):
                LOG.warning("switch %s: sweeping the flows of ports this controller does not know after %.0f s",
                            name, SWEEP_GRACE)
            self._sweep_ready(force=overdue)
            swept = sorted(n for n in unswept if rt.sessions[n].sweep_due is None)
        self._send()
        return swept

    def unregister_switch(self, name):
        with self.state.lock:
            ports = dict(self.runtime.ofports.get(name, {}))
            session = self.state.unregister_switch(name)  # 404 when unknown, before anything changes
            if session is not None:  # still connected: re-adopted if registered again
                self.runtime.waiting[session.dpid] = (session.datapath, ports)
            self._update(self._connected())
        self._send()
