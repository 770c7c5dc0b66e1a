"""What the controller learns from the switches while it runs (never persisted: re-learned when each switch
(re)connects): one :class:`SwitchSession` per connected registered switch, in one map, beside the few facts that
outlive a connection (the port numbers last reported, whether the controller holds the switch's ports)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(eq=False)
class SwitchSession:
    """One registered switch's OpenFlow connection, from its port list to its end: what was sent to it and how far
    it acknowledged. A batch names its session: one queued for an earlier connection is dropped, and its
    acknowledgement changes nothing here."""
    name: str
    dpid: str
    datapath: object
    generation: int | None = None  # cookie generation of the flows written (None: no flows written yet)
    flows: dict = field(default_factory=dict)           # network -> flows sent for it
    groups: dict = field(default_factory=dict)          # network -> the tunnel group it needs here (flows.group_of)
    group_flows: frozenset = frozenset()                # the group flows (flows.group_flows) sent
    queued: int = 0                                     # last flow batch queued (1, 2, ...)
    acked: int = 0                                      # last batch the switch acknowledged
    resynced: int | None = None                         # batch of the last full resync
    network_batch: dict = field(default_factory=dict)   # network -> last batch changing its flows
    batch_networks: dict = field(default_factory=dict)  # batch not yet acknowledged -> networks
    sweep_due: float | None = None                      # not swept yet: when it is swept anyway

    def flow_count(self) -> int:
        return len(self.group_flows) + sum(len(f) for f in list(self.flows.values()))


@dataclass
class Runtime:
    """The sessions by switch name, and what the controller knows of the switches beyond one connection."""
    sessions: dict = field(default_factory=dict)  # switch name -> SwitchSession of its live connection
    waiting: dict = field(default_factory=dict)   # dpid -> (datapath, ports) of a switch not registered (yet)
    ofports: dict = field(default_factory=dict)   # switch name -> {interface: ofport}, as last reported
    # switches whose ports this controller holds completely (from its journal, or their node announced them all):
    # only their flows that nothing here produces are swept (those an earlier controller left)
    settled: set = field(default_factory=set)
    unsettled: dict = field(default_factory=dict)  # switch name -> when it counts as settled without its node

    @property
    def connected(self):
        """The names of the connected registered switches (a live view)."""
        return self.sessions.keys()

    def start(self, name: str, dpid: str, datapath) -> SwitchSession:
        """The session of a registered switch's connection: a new one, replacing any earlier one, unless this
        connection has one already (it re-sent its port list)."""
        self.waiting.pop(dpid, None)
        session = self.sessions.get(name)
        if session is None or session.datapath is not datapath:
            session = self.sessions[name] = SwitchSession(name, dpid, datapath)
        return session

    def end(self, name: str) -> SwitchSession | None:
        """Drop the session of switch ``name``: its connection ended, or the switch is no longer registered."""
        return self.sessions.pop(name, None)

    def forget(self, name: str) -> SwitchSession | None:
        """Everything about switch ``name`` (unregistered); returns its session, whose connection stays open."""
        self.settled.discard(name)
        self.unsettled.pop(name, None)
        self.ofports.pop(name, None)
        return self.end(name)
